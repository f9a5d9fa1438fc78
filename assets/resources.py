"""Resources injected into the assets: the run's settings and the DuckDB warehouse.

The quarter and programme come from the run's partition (assets/partitions.py); the rest is set per run
(Launchpad, schedule or `speval run`) through run config, and the defaults suit the demo data set in
`data/raw`. The warehouse is the partition's own DuckDB file unless a run names one; the resource holds the
run lock (speval/run/lock.py, ADR 0013) for the whole run: one run per warehouse at a time, whoever
launched it.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from speval.report.outputs import staging_folder
from assets.partitions import run_partition
from speval.run.spec import (DEFAULT_DATA_DIR, DEFAULT_OUT_DIR, AnalysisParameters, FollowUpWindow,
                             MatchingMethod, RunSpec, partition_warehouse, plan_run)
from speval.run.plan import load_plan
from speval.run.lock import RunLock, WarehouseBusy, adopt, is_busy_error
from speval.warehouse import CONNECTION_CONFIG, SCHEMAS

PLAN = load_plan()  # analysis_plan.yaml: the analysis parameters' defaults (docs/decisions/0016-analysis-plan.md)


class EvaluationSettings(dg.ConfigurableResource):
    """How to evaluate, as set in the Launchpad, a schedule or `speval run`: where inputs and outputs live,
    and the analysis parameters. What to evaluate (quarter and programme) is the run's partition. Each run
    turns both once into a planned `RunSpec` (speval/run/spec.py) — refusing an impossible run before any
    asset starts — and the assets read that, never these strings."""

    data_dir: str = Field(default=DEFAULT_DATA_DIR, description="Folder holding hes/, outcome_tool/, provider_returns/.")
    out_dir: str = Field(default=DEFAULT_OUT_DIR, description="Outputs land in <out_dir>/<PROGRAMME>/<QUARTER>/.")
    # The analysis parameters' defaults are the analysis plan's (analysis_plan.yaml, read at import), shown
    # in the Launchpad; a run that changes one is still produced, and its report lists the deviation.
    followup_min_days: int = Field(default=PLAN.followup_min_days, description="Well-being follow-up: earliest "
                                   "review, days after the baseline (default: the analysis plan's).")
    followup_max_days: int = Field(default=PLAN.followup_max_days, description="Well-being follow-up: latest "
                                   "review, days after the baseline (default: the analysis plan's).")
    caliper: float = Field(default=PLAN.caliper, description="Matching caliper, in SD of the propensity-score "
                           "logit (default: the analysis plan's).")
    ratio: int = Field(default=PLAN.ratio, description="Matched controls per referred person (default: the "
                       "analysis plan's).")
    with_replacement: bool = Field(default=PLAN.with_replacement, description="Whether a control may be matched "
                                   "more than once (default: the analysis plan's).")
    bootstrap_replicates: int = Field(default=PLAN.bootstrap_replicates, description="Cluster-bootstrap "
                                      "replicates behind the 95% intervals, at least 100 (default: the analysis "
                                      "plan's).")
    seed: int = Field(default=PLAN.seed, description="Random seed for matching ties and the bootstrap (default: "
                      "the analysis plan's).")
    wellbeing_valuation: str = Field(default=PLAN.wellbeing_valuation, description="Basis of the well-being "
                                     "value in the SROI: hact_wellbeing_valuation or wellby (default: the analysis "
                                     "plan's).")
    max_quarantined_share: float = Field(default=0.5, description="A file with more than this share of its "
                                         "rows quarantined stops the run (0 to 1).")
    quarantine_share_min_rows: int = Field(default=20, description="...for files of at least this many rows.")

    _spec: RunSpec | None = PrivateAttr(default=None)

    def run_spec(self, quarter: str, programme: str) -> RunSpec:
        """The typed run specification of one partition (not yet planned: deliveries unresolved)."""
        parameters = AnalysisParameters(
            followup=FollowUpWindow(self.followup_min_days, self.followup_max_days),
            matching=MatchingMethod(self.caliper, self.ratio, self.with_replacement),
            bootstrap_replicates=self.bootstrap_replicates, seed=self.seed,
            wellbeing_valuation=self.wellbeing_valuation,
            max_quarantined_share=self.max_quarantined_share,
            quarantine_share_min_rows=self.quarantine_share_min_rows,
        )
        return RunSpec.build(quarter, programme, self.data_dir, self.out_dir, parameters)

    def setup_for_execution(self, context) -> None:
        self._spec = plan_run(self.run_spec(*run_partition(context.run.tags)))

    @property
    def spec(self) -> RunSpec:
        """The run's planned specification, fixed when the run started (deliveries included)."""
        if self._spec is None:
            raise dg.DagsterInvariantViolationError("the run specification exists only inside a partition's run")
        return self._spec

    def staging_folder(self, run) -> Path:
        """Where this run writes its outputs until it succeeds (a hidden sibling of the run folder). Keyed
        by the root run, so a re-execution from failure continues in its original run's folder."""
        return staging_folder(self.spec.run_folder, run.root_run_id or run.run_id)


#: The concurrency pool of every asset that uses the warehouse. Each partition has its own DuckDB file and a run
#: executes its steps one at a time, so dagster.yaml's pool limit (2, one per core) bounds the warehouse steps
#: of all runs together, whichever partitions they write.
WAREHOUSE_POOL = "warehouse"


class Warehouse(DuckDBResource):
    """The DuckDB file, opened offline and with the layer schemas present: `database` if the run names one,
    else the partition's own file (`data/warehouse/<PROGRAMME>/<QUARTER>.duckdb`). Closed even when the asset
    using it fails (DuckDBResource.get_connection does not), so a failed run never leaves the file locked.

    For the lifetime of a run (set up once per run: the job uses the in-process executor) it holds the
    run lock on `<database>.lock`, released when the run ends, whether it succeeded or failed. `speval run`
    takes the lock before launching and hands it over; a run from the UI or a schedule takes it here, and
    fails at once with WarehouseBusy if another run holds it."""

    database: str = Field(default="", description="The DuckDB file; blank: the partition's own file, "
                          "data/warehouse/<PROGRAMME>/<QUARTER>.duckdb.")
    _path: str = PrivateAttr(default="")
    _run_lock: RunLock | None = PrivateAttr(default=None)
    _owns_run_lock: bool = PrivateAttr(default=False)
    _connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _keep_open: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context) -> None:
        self._path = self.database or str(partition_warehouse(*run_partition(context.run.tags)))
        if self._path.startswith(":memory:"):
            return  # an in-memory warehouse is private to its run
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        handed_over = adopt(self._path)
        if handed_over is not None:
            self._run_lock, self._owns_run_lock = handed_over, False
        else:
            self._run_lock, self._owns_run_lock = RunLock(self._path).acquire(), True
        self._keep_open = True

    def teardown_after_execution(self, context) -> None:
        connection, self._connection, self._keep_open = self._connection, None, False
        lock, owned = self._run_lock, self._owns_run_lock
        self._run_lock, self._owns_run_lock = None, False
        try:
            if connection is not None:
                connection.close()
        finally:
            if lock is not None and owned:
                lock.release()

    def _open(self) -> duckdb.DuckDBPyConnection:
        try:
            con = duckdb.connect(self._path or self.database, config=dict(self.connection_config))
        except duckdb.Error as error:  # the file is held by another process (DuckDB's own lock)
            if is_busy_error(str(error)):
                raise WarehouseBusy(self._path or self.database) from error
            raise
        try:
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        except BaseException:
            con.close()
            raise
        return con

    @contextmanager
    def connect(self):
        """A connection to the warehouse. During a run, one database instance is opened by the first step that
        asks and kept until the run ends; every step takes a cursor on it, instead of opening the file (and
        checkpointing it on close) a few hundred times per run."""
        if self._keep_open and self._connection is None:
            self._connection = self._open()
        con = self._connection.cursor() if self._connection is not None else self._open()
        try:
            yield con
        finally:
            con.close()


def default_warehouse() -> Warehouse:
    return Warehouse(connection_config=dict(CONNECTION_CONFIG))


def settings_config(spec: RunSpec) -> dict:
    """The `settings` run config that makes EvaluationSettings build `spec` in the partition of `spec`'s quarter
    and programme (what `speval run` launches)."""
    parameters = spec.parameters
    return {
        "data_dir": str(spec.data_dir),
        "out_dir": str(spec.out_dir),
        "followup_min_days": parameters.followup.min_days,
        "followup_max_days": parameters.followup.max_days,
        "caliper": parameters.matching.caliper,
        "ratio": parameters.matching.ratio,
        "with_replacement": parameters.matching.with_replacement,
        "bootstrap_replicates": parameters.bootstrap_replicates,
        "seed": parameters.seed,
        "wellbeing_valuation": parameters.wellbeing_valuation,
        "max_quarantined_share": parameters.max_quarantined_share,
        "quarantine_share_min_rows": parameters.quarantine_share_min_rows,
    }
