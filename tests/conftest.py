"""Shared test helpers: run the real `speval run` (the project's Dagster job) on a data folder."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

os.environ.setdefault("BROWSER_PATH", "/usr/bin/chromium")
os.environ.pop("DAGSTER_HOME", None)  # tests use a throwaway Dagster instance


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    run_dir: Path
    warehouse: Path

    def table(self, name: str) -> pl.DataFrame:
        return pl.read_csv(self.run_dir / "tables" / f"{name}.csv", infer_schema_length=None)

    def query(self, sql: str) -> pl.DataFrame:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.sql(sql).pl()


@pytest.fixture
def run_speval(tmp_path, capfd):
    def _run(data_dir: Path, quarter: str = "2013Q4", programme: str = "LTC", out: Path | None = None,
             warehouse: Path | None = None) -> Run:
        from pipelines.cli import main

        out = out or tmp_path / "out"
        warehouse = warehouse or tmp_path / "warehouse.duckdb"
        code = main(["run", "--quarter", quarter, "--programme", programme, "--data-dir", str(data_dir),
                     "--out", str(out), "--warehouse", str(warehouse)])
        captured = capfd.readouterr()
        return Run(code, captured.out, captured.err, out / programme / quarter, warehouse)

    return _run


# The longest modules (measured with `pytest --durations=0`, slowest first): started first, so that no worker is
# left with one of them at the end.
LONGEST_MODULES = ("test_ui", "test_validation_properties", "test_run_safety", "test_refusals", "test_report",
                   "test_end_to_end", "test_bad_input", "test_reruns_and_expectations", "test_run_spec",
                   "test_planted_truth", "test_report_economics", "test_report_mh", "test_deliveries")


def pytest_collection_modifyitems(items):
    """The longest modules first, then the other modules with whole-pipeline or browser tests, then the rest
    (stable order otherwise): `make test` hands whole modules to parallel workers, and starting the longest
    ones first keeps both workers busy to the end."""
    slow = {item.module.__name__ for item in items
            if item.get_closest_marker("pipeline") or item.get_closest_marker("browser")}

    def rank(item) -> tuple[int, int]:
        name = item.module.__name__
        if name in LONGEST_MODULES:
            return 0, LONGEST_MODULES.index(name)
        return (1, 0) if name in slow else (2, 0)

    items.sort(key=rank)
