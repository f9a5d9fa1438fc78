"""Resources injected into the assets: the run's settings and the DuckDB warehouse.

Both are set per run (Launchpad, schedule or `speval run`) through run config; the defaults suit the
demo data set in `data/raw`. The warehouse resource holds the run lock (speval/run/lock.py, ADR 0013) for
the whole run: one run per warehouse at a time, whoever launched it.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from speval.report.outputs import staging_folder
from speval.run.spec import (DEFAULT_DATA_DIR, DEFAULT_OUT_DIR, DEFAULT_WAREHOUSE, AnalysisParameters,
                             FollowUpWindow, MatchingMethod, RunSpec, plan_run)
from speval.run.vocabulary import PROGRAMMES
from speval.run.lock import RunLock, WarehouseBusy, adopt, is_busy_error
from speval.warehouse import CONNECTION_CONFIG, SCHEMAS



class EvaluationSettings(dg.ConfigurableResource):
    """What to evaluate, as typed in the Launchpad, a schedule or `speval run`: the reporting quarter, the
    programme, where inputs and outputs live, and the analysis parameters. Each run turns them once into a
    planned `RunSpec` (speval/run/spec.py) — refusing an impossible run before any asset starts — and the
    assets read that, never these strings."""

    quarter: str = Field(default="2013Q4", description="Reporting quarter, YYYYQn (Q1 = January to March).")
    programme: str = Field(default="LTC", description="Programme code: " + ", ".join(
        f"{p.code} ({p.label.lower()})" for p in PROGRAMMES) + ".")
    data_dir: str = Field(default=DEFAULT_DATA_DIR, description="Folder holding hes/, outcome_tool/, provider_returns/.")
    out_dir: str = Field(default=DEFAULT_OUT_DIR, description="Outputs land in <out_dir>/<PROGRAMME>/<QUARTER>/.")
    followup_min_days: int = Field(default=84, description="Well-being follow-up: earliest review, days after "
                                   "the baseline.")
    followup_max_days: int = Field(default=140, description="Well-being follow-up: latest review, days after "
                                   "the baseline.")
    caliper: float = Field(default=0.2, description="Matching caliper, in SD of the propensity-score logit.")
    ratio: int = Field(default=1, description="Matched controls per referred person.")
    with_replacement: bool = Field(default=False, description="Whether a control may be matched more than once.")
    bootstrap_replicates: int = Field(default=1000, description="Cluster-bootstrap replicates behind the 95% "
                                      "intervals (at least 100).")
    seed: int = Field(default=42, description="Random seed (matching ties, bootstrap).")
    max_quarantined_share: float = Field(default=0.5, description="A file with more than this share of its "
                                         "rows quarantined stops the run (0 to 1).")
    quarantine_share_min_rows: int = Field(default=20, description="...for files of at least this many rows.")

    _spec: RunSpec | None = PrivateAttr(default=None)

    def run_spec(self) -> RunSpec:
        """The typed run specification (not yet planned: deliveries unresolved)."""
        parameters = AnalysisParameters(
            followup=FollowUpWindow(self.followup_min_days, self.followup_max_days),
            matching=MatchingMethod(self.caliper, self.ratio, self.with_replacement),
            bootstrap_replicates=self.bootstrap_replicates, seed=self.seed,
            max_quarantined_share=self.max_quarantined_share,
            quarantine_share_min_rows=self.quarantine_share_min_rows,
        )
        return RunSpec.build(self.quarter, self.programme, self.data_dir, self.out_dir, parameters)

    def setup_for_execution(self, context) -> None:
        self._spec = plan_run(self.run_spec())

    @property
    def spec(self) -> RunSpec:
        """The run's planned specification, fixed when the run started (deliveries included)."""
        if self._spec is None:  # used outside a run (a direct asset invocation)
            self._spec = plan_run(self.run_spec())
        return self._spec

    def staging_folder(self, run) -> Path:
        """Where this run writes its outputs until it succeeds (a hidden sibling of the run folder). Keyed
        by the root run, so a re-execution from failure continues in its original run's folder."""
        return staging_folder(self.spec.run_folder, run.root_run_id or run.run_id)


class Warehouse(DuckDBResource):
    """The DuckDB file, opened offline and with the layer schemas present. Closed even when the asset
    using it fails (DuckDBResource.get_connection does not), so a failed run never leaves the file locked.

    For the lifetime of a run (set up once per run: the job uses the in-process executor) it holds the
    run lock on `<database>.lock`, released when the run ends, whether it succeeded or failed. `speval run`
    takes the lock before launching and hands it over; a run from the UI or a schedule takes it here, and
    fails at once with WarehouseBusy if another run holds it."""

    _run_lock: RunLock | None = PrivateAttr(default=None)
    _owns_run_lock: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context) -> None:
        if not self.database or self.database.startswith(":memory:"):
            return  # an in-memory warehouse is private to its run
        handed_over = adopt(self.database)
        if handed_over is not None:
            self._run_lock, self._owns_run_lock = handed_over, False
        else:
            self._run_lock, self._owns_run_lock = RunLock(self.database).acquire(), True

    def teardown_after_execution(self, context) -> None:
        lock, owned = self._run_lock, self._owns_run_lock
        self._run_lock, self._owns_run_lock = None, False
        if lock is not None and owned:
            lock.release()

    @contextmanager
    def connect(self):
        try:
            con = duckdb.connect(self.database, config=dict(self.connection_config))
        except duckdb.Error as error:  # the file is held by another process (DuckDB's own lock)
            if is_busy_error(str(error)):
                raise WarehouseBusy(self.database) from error
            raise
        try:
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            yield con
        finally:
            con.close()


def default_warehouse() -> Warehouse:
    return Warehouse(database=DEFAULT_WAREHOUSE, connection_config=dict(CONNECTION_CONFIG))


def settings_config(spec: RunSpec) -> dict:
    """The `settings` run config that makes EvaluationSettings build `spec` (what `speval run` launches)."""
    parameters = spec.parameters
    return {
        "quarter": spec.quarter.key,
        "programme": spec.programme.code,
        "data_dir": str(spec.data_dir),
        "out_dir": str(spec.out_dir),
        "followup_min_days": parameters.followup.min_days,
        "followup_max_days": parameters.followup.max_days,
        "caliper": parameters.matching.caliper,
        "ratio": parameters.matching.ratio,
        "with_replacement": parameters.matching.with_replacement,
        "bootstrap_replicates": parameters.bootstrap_replicates,
        "seed": parameters.seed,
        "max_quarantined_share": parameters.max_quarantined_share,
        "quarantine_share_min_rows": parameters.quarantine_share_min_rows,
    }
