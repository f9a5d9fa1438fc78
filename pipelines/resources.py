"""Resources injected into the assets: the run's settings and the DuckDB warehouse.

Both are set per run (Launchpad, schedule or `speval run`) through run config; the defaults suit the
demo data set in `data/raw`. The warehouse resource holds the run lock (speval/run_lock.py, ADR 0013) for
the whole run: one run per warehouse at a time, whoever launched it.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from speval.outputs import staging_folder
from speval.quarters import is_quarter
from speval.run_lock import RunLock, WarehouseBusy, adopt, is_busy_error
from speval.warehouse import CONNECTION_CONFIG, SCHEMAS

REPO_ROOT = Path(__file__).resolve().parent.parent


class EvaluationSettings(dg.ConfigurableResource):
    """What to evaluate: the reporting quarter, the programme, and where inputs and outputs live."""

    quarter: str = "2013Q4"
    programme: str = "LTC"
    data_dir: str = "data/raw"
    out_dir: str = "reports/out"
    followup_min_days: int = 84
    followup_max_days: int = 140
    # Matched comparison (ADR 0012): caliper in SD of the propensity-score logit, controls per treated,
    # with or without replacement, and the bootstrap behind the 95% intervals.
    caliper: float = 0.2
    ratio: int = 1
    with_replacement: bool = False
    bootstrap_replicates: int = 1000
    seed: int = 42
    # Blocking quarantine check (ADR 0013): a file of at least `quarantine_share_min_rows` rows (total rows
    # of workbooks aside) with more than `max_quarantined_share` of them quarantined stops the run.
    max_quarantined_share: float = 0.5
    quarantine_share_min_rows: int = 20

    def data_path(self) -> Path:
        return _resolve(self.data_dir)

    def run_folder(self) -> Path:
        """`<out>/<PROGRAMME>/<QUARTER>/`, where everything for one run lands."""
        return _resolve(self.out_dir) / self.programme / self.quarter

    def staging_folder(self, run) -> Path:
        """Where this run writes its outputs until it succeeds (a hidden sibling of the run folder). Keyed
        by the root run, so a re-execution from failure continues in its original run's folder."""
        return staging_folder(self.run_folder(), run.root_run_id or run.run_id)

    def check(self) -> None:
        if not is_quarter(self.quarter):
            raise ValueError(f"quarter must look like 2013Q4, got {self.quarter!r}")
        if self.programme not in ("LTC", "MH"):
            raise ValueError(f"programme must be LTC or MH, got {self.programme!r}")
        if not 0 <= self.followup_min_days <= self.followup_max_days:
            raise ValueError("follow-up window must satisfy 0 <= min <= max days")
        if self.caliper <= 0 or self.ratio < 1 or self.bootstrap_replicates < 100:
            raise ValueError("matching needs caliper > 0, ratio >= 1 and at least 100 bootstrap replicates")
        if not 0 <= self.max_quarantined_share <= 1:
            raise ValueError(f"max_quarantined_share must be between 0 and 1, got {self.max_quarantined_share}")
        if self.quarantine_share_min_rows < 1:
            raise ValueError("quarantine_share_min_rows must be at least 1")


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


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else (Path.cwd() / p).resolve()


def default_warehouse() -> Warehouse:
    return Warehouse(database="data/warehouse.duckdb", connection_config=dict(CONNECTION_CONFIG))
