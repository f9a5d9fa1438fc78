"""Resources injected into the assets: the run's settings and the DuckDB warehouse.

Both are set per run (Launchpad, schedule or `speval run`) through run config; the defaults suit the
demo data set in `data/raw`.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from speval.quarters import is_quarter
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

    def data_path(self) -> Path:
        return _resolve(self.data_dir)

    def run_folder(self) -> Path:
        """`<out>/<PROGRAMME>/<QUARTER>/`, where everything for one run lands."""
        return _resolve(self.out_dir) / self.programme / self.quarter

    def check(self) -> None:
        if not is_quarter(self.quarter):
            raise ValueError(f"quarter must look like 2013Q4, got {self.quarter!r}")
        if self.programme not in ("LTC", "MH"):
            raise ValueError(f"programme must be LTC or MH, got {self.programme!r}")
        if not 0 <= self.followup_min_days <= self.followup_max_days:
            raise ValueError("follow-up window must satisfy 0 <= min <= max days")
        if self.caliper <= 0 or self.ratio < 1 or self.bootstrap_replicates < 100:
            raise ValueError("matching needs caliper > 0, ratio >= 1 and at least 100 bootstrap replicates")


class Warehouse(DuckDBResource):
    """The DuckDB file, opened offline and with the layer schemas present. Closed even when the asset
    using it fails (DuckDBResource.get_connection does not), so a failed run never leaves the file locked."""

    @contextmanager
    def connect(self):
        con = duckdb.connect(self.database, config=dict(self.connection_config))
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
