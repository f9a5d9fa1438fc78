"""Shared test helpers: run the real `speval run` (the project's Dagster job) on a data folder."""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
REPO = Path(__file__).resolve().parent.parent
SPEVAL = [sys.executable, "-m", "pipelines.cli"]  # the `speval` command, with this test session's Python

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


def run_arguments(data_dir: Path, out: Path, warehouse: Path, quarter: str = "2013Q4",
                  programme: str = "LTC") -> list[str]:
    """The arguments of `speval run` for one quarter and programme, its outputs and warehouse given."""
    return ["run", "--quarter", quarter, "--programme", programme, "--data-dir", str(data_dir), "--out", str(out),
            "--warehouse", str(warehouse)]


def speval_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`speval <args>` in a subprocess, as a user runs it: its exit code, stdout and stderr are exactly the CLI's."""
    return subprocess.run([*SPEVAL, *args], cwd=REPO, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture
def run_speval(tmp_path, capfd):
    def _run(data_dir: Path, quarter: str = "2013Q4", programme: str = "LTC", out: Path | None = None,
             warehouse: Path | None = None) -> Run:
        from pipelines.cli import main

        out = out or tmp_path / "out"
        warehouse = warehouse or tmp_path / "warehouse.duckdb"
        code = main(run_arguments(data_dir, out, warehouse, quarter, programme))
        captured = capfd.readouterr()
        return Run(code, captured.out, captured.err, out / programme / quarter, warehouse)

    return _run


def _built_once(folder: Path, build) -> Path:
    """Build `folder` once for the whole test session, whichever parallel worker asks first; the others wait on
    a file lock and reuse it. Only for outputs the tests read and never change."""
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / ".built").touch()
    return folder


_charts_drawn: dict[tuple[str, int, int], str | bytes] = {}


@pytest.fixture(autouse=True)
def each_chart_drawn_once(monkeypatch):
    """Tests build reports from the same fixture tables dozens of times, and kaleido draws each chart in Chromium
    (about 0.2 s a chart, six or more a report). Here each distinct chart (same figure, same size) is drawn once per
    worker and reused. The whole runs that module- and session-scoped fixtures make (the demo runs, and
    test_end_to_end's two runs of one quarter, whose PDFs must be byte-identical) are set up before this
    function-scoped patch, so they draw their own charts: test_end_to_end checks that."""
    from speval.report import charts

    draw = charts._render_svg

    def drawn_once(fig, width: int, height: int) -> str | bytes:
        key = (fig.to_json(), width, height)
        if key not in _charts_drawn:
            _charts_drawn[key] = draw(fig, width, height)
        return _charts_drawn[key]

    monkeypatch.setattr(charts, "_render_svg", drawn_once)
    yield


MEMORY = Path("/dev/shm")


@pytest.fixture(scope="session")
def dagster_storage_folder(tmp_path_factory):
    """`make()` gives a fresh folder for a Dagster instance's SQLite run history: in memory (/dev/shm) when the
    machine has room there, otherwise a temporary folder. On disk that history costs a run about 4 s of commits
    (docs/scaling.md); the tests check what it records, not the disk. Removed at the end of the session."""
    made: list[Path] = []

    def make(name: str) -> Path:
        if MEMORY.is_dir() and os.access(MEMORY, os.W_OK) and shutil.disk_usage(MEMORY).free > 256 * 2**20:
            made.append(Path(tempfile.mkdtemp(prefix=f"speval-{name}-", dir=MEMORY)))
            return made[-1]
        return tmp_path_factory.mktemp(name)

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def session_folder(tmp_path_factory) -> Path:
    """A folder every parallel worker of this test session shares (pytest-xdist gives each its own base)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def demo_data(session_folder) -> Path:
    """The demo data set of `make demo` (scale 1, seed 42), generated once per test session. Read-only."""
    from speval.demo import generate

    return _built_once(session_folder / "demo_data", lambda folder: generate(folder, scale=1.0, seed=42))


@pytest.fixture(scope="session")
def demo_run(session_folder, demo_data) -> Path:
    """`speval run` of the demo (LTC 2013Q4) on `demo_data`, once per test session: the folder holds `out/`
    and the warehouse `w.duckdb`. Read-only."""
    from pipelines.cli import main

    def run(folder: Path) -> None:
        assert main(["run", "--quarter", "2013Q4", "--programme", "LTC", "--data-dir", str(demo_data),
                     "--out", str(folder / "out"), "--warehouse", str(folder / "w.duckdb")]) == 0

    return _built_once(session_folder / "demo_run", run)


@pytest.fixture(scope="session")
def demo_mh_run(session_folder) -> Path:
    """`speval run` of the mental-health programme (MH 2016Q4: its referrals start in 2015) on the demo data set
    at scale 0.3 (seed 42: about 47 people referred, 44 in the 6-month cohort; a run of 30 s instead of 45 s at
    scale 1), once per test session: the run's output folder `out/MH/2016Q4`. Read-only."""
    from pipelines.cli import main
    from speval.demo import generate

    def run(folder: Path) -> None:
        generate(folder / "data", scale=0.3, seed=42)
        assert main(["run", "--quarter", "2016Q4", "--programme", "MH", "--data-dir", str(folder / "data"),
                     "--out", str(folder / "out"), "--warehouse", str(folder / "w.duckdb")]) == 0

    return _built_once(session_folder / "demo_mh_run", run) / "out" / "MH" / "2016Q4"


@pytest.fixture(scope="session")
def fixture_report(session_folder) -> dict[str, Path]:
    """The report rendered from test_report's fixture tables (`render_report`), once per test session:
    {"html": path, "pdf": path}. Read-only."""
    from speval.report import render_report
    from test_report import fixture_meta, fixture_tables

    folder = _built_once(session_folder / "fixture_report",
                         lambda folder: render_report(fixture_tables(), fixture_meta(), folder))
    return {"html": folder / "evaluation_report.html", "pdf": folder / "evaluation_report.pdf"}


# The longest modules, measured with a timeline of the suite (seconds per module, its tests summed, 2 workers,
# 2 December 2026): test_planted_truth ~84 (it builds the LTC demo run), test_ui ~83 (a real `dagster dev`, two
# runs, Chromium; half of it waiting for Dagster's daemon), test_validation_properties ~65-80 (three whole runs on
# random data), test_run_safety ~70, test_refusals ~60, ... They start first so that no worker is left with one of
# them at the end; `make test` passes --no-loadscope-reorder so that pytest-xdist keeps this order (it would
# otherwise hand modules out by number of tests). test_ui starts first because its runs wait in Dagster's queue
# while the other worker works; test_planted_truth builds the shared demo run, which test_release_gate,
# test_traceability and test_report_economics read: it starts second.
LONGEST_MODULES = ("test_ui", "test_planted_truth", "test_validation_properties", "test_run_safety", "test_refusals",
                   "test_end_to_end", "test_report_mh", "test_report", "test_bad_input", "test_release_gate",
                   "test_reruns_and_expectations", "test_deliveries", "test_run_spec")


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
