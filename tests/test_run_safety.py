"""Run safety (ADR 0013): one run per warehouse at a time, outputs published only by a run that succeeded,
an unwritable output folder refused before any work, and too many quarantined rows blocking the run.

Crossed runs are real: a second `speval run` (or a job launched as the Dagster UI launches it) against a
warehouse in use gets one line and exit 1, and the first run's report is right. The kill test SIGKILLs a
real `speval run` subprocess while it renders the report.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from builders import DataSet
from conftest import REPO, SPEVAL, run_arguments
from speval.run.lock import RunLock, WarehouseBusy, busy_message, is_busy_error, is_free, lock_path

pytestmark = pytest.mark.pipeline  # real `speval run` / Dagster job or PDF rendering: not in `make test-fast`

QUARTER = "2013Q4"
REPORT_OUTPUTS = ("evaluation_report.pdf", "evaluation_report.html", "run_manifest.json", "tables", "quality")


def small(root: Path, programme: str = "LTC") -> Path:
    """One referred patient with a little hospital use: a run of it succeeds."""
    ds = DataSet(root)
    ds.person("P1")
    ds.apc("P1", "2013-01-10")
    ds.ae("P1", "2013-02-01")
    ds.op("P1", "2013-02-02")
    ds.referral("P1", "2013-03-15", PROGRAMME=programme)
    return ds.write()


def cli_command(data: Path, out: Path, warehouse: Path, programme: str = "LTC") -> list[str]:
    return [*SPEVAL, *run_arguments(data, out, warehouse, QUARTER, programme)]


def run_job(warehouse: Path, groups: tuple[str, ...] = (), **settings):
    """The job launched the way the Dagster UI or a schedule launches it: run config only, no CLI; with `groups`,
    only those asset groups are materialised (as when an evaluator selects them in the UI)."""
    import dagster as dg

    from pipelines.definitions import defs

    from assets.partitions import partition_key

    run_config = {"resources": {"settings": {"config": settings},
                                "warehouse": {"config": {"database": str(warehouse)}}}}
    job = defs.resolve_job_def("quarterly_evaluation")
    graph = defs.resolve_asset_graph()
    selection = [key for key in graph.get_all_asset_keys()
                 if graph.get(key).group_name in groups and graph.get(key).is_materializable] or None
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                      partition_key=partition_key(QUARTER, "LTC"), asset_selection=selection)


def failures(result) -> list[str]:
    from pipelines.cli import _failures

    return _failures(result)


def outputs_in(folder: Path) -> list[str]:
    return sorted(name for name in REPORT_OUTPUTS if (folder / name).exists())


def staging_folders(run_dir: Path) -> list[Path]:
    return sorted(run_dir.parent.glob(f".{run_dir.name}.partial-*"))


def wait_for(condition, timeout: float, process: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def lock_holder(tmp_path):
    """A separate process holding a lock (speval's run lock or DuckDB's own) until the test ends."""
    started: list[subprocess.Popen] = []

    def _hold(code: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                                   stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout.readline().strip() == "held"
        return process

    yield _hold
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


# ---- the run lock itself ----------------------------------------------------------------------------------


def test_two_locks_on_one_warehouse_exclude_each_other(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    first = RunLock(warehouse).acquire()
    assert first.path == lock_path(warehouse) == tmp_path / "w.duckdb.lock"
    with pytest.raises(WarehouseBusy) as refused:
        RunLock(warehouse).acquire()
    assert str(refused.value) == busy_message(warehouse)
    assert RunLock(tmp_path / "other.duckdb").acquire().held  # another warehouse is not affected
    first.release()
    with RunLock(warehouse) as second:
        assert second.held and not is_free(warehouse)
    assert is_free(warehouse)


def test_lock_held_by_another_process_is_dropped_when_it_is_killed(tmp_path, lock_holder):
    warehouse = tmp_path / "w.duckdb"
    holder = lock_holder(f"""
        import time
        from speval.run.lock import RunLock
        lock = RunLock({str(warehouse)!r}).acquire()
        print("held", flush=True)
        time.sleep(600)
    """)
    assert not is_free(warehouse)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert is_free(warehouse)


def test_busy_errors_are_recognised():
    assert is_busy_error(busy_message("data/warehouse.duckdb"))
    assert is_busy_error('IO Error: Could not set lock on file "/x/w.duckdb": Conflicting lock is held in '
                         "/usr/bin/python3 (PID 123)")
    assert not is_busy_error("hes/2013Q4/apc.csv: refused — required column(s) missing: EPIKEY")
    assert busy_message("data/warehouse.duckdb") == (
        "another speval run is using this warehouse (data/warehouse.duckdb); wait for it to finish or use --warehouse")


# ---- crossed runs -----------------------------------------------------------------------------------------


def test_a_second_run_on_a_warehouse_in_use_waits_for_the_first_or_stops_at_once(tmp_path, run_speval):
    """LTC runs in a subprocess. Meanwhile, an MH run against the same warehouse with --no-wait gets one line and
    exit 1 without touching anything; without it, the MH run says it is waiting, starts only once the LTC run
    has finished (queued behind it), and succeeds. Both reports are right."""
    ltc_data, mh_data = small(tmp_path / "ltc"), small(tmp_path / "mh", programme="MH")
    out, warehouse = tmp_path / "out", tmp_path / "shared.duckdb"
    first = subprocess.Popen(cli_command(ltc_data, out, warehouse), cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        # The warehouse file appears once the first run's job has started: it holds the lock from before then.
        wait_for(warehouse.exists, 300, first, "the first run created its warehouse")
        from pipelines.cli import main

        refused = main(["run", "--quarter", QUARTER, "--programme", "MH", "--data-dir", str(mh_data), "--out",
                        str(out), "--warehouse", str(warehouse), "--no-wait"])
        second = run_speval(mh_data, programme="MH", out=out, warehouse=warehouse)
        stdout, stderr = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert refused == 1
    assert busy_message(warehouse) in second.stderr.splitlines()  # --no-wait: the one line (captured with it)
    assert first.returncode == 0, stderr[-3000:]
    assert stdout.splitlines()[-1] == f"Report: {out / 'LTC' / QUARTER / 'evaluation_report.pdf'}"
    assert second.exit_code == 0, second.stderr[-3000:]
    assert f"waiting: another speval run is using {warehouse}" in second.stderr.splitlines()
    assert second.stdout.splitlines()[-1] == f"Report: {out / 'MH' / QUARTER / 'evaluation_report.pdf'}"
    # The MH run started after the LTC run had published: its report is the newer.
    ltc, mh = out / "LTC" / QUARTER, out / "MH" / QUARTER
    assert (ltc / "evaluation_report.pdf").stat().st_mtime <= (mh / "run_manifest.json").stat().st_mtime
    assert json.loads((ltc / "run_manifest.json").read_text())["parameters"]["programme"] == "LTC"
    assert json.loads((mh / "run_manifest.json").read_text())["parameters"]["programme"] == "MH"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("SELECT programme FROM analysis.parameters").fetchall() == [("MH",)]
    assert is_free(warehouse)


def test_a_run_launched_without_the_cli_takes_the_lock_itself(tmp_path):
    """As from the Dagster UI: the warehouse resource refuses the run while another run holds the lock,
    before any asset runs, and does not release the other run's lock."""
    data, warehouse = small(tmp_path / "data"), tmp_path / "w.duckdb"
    with RunLock(warehouse):
        result = run_job(warehouse, data_dir=str(data), out_dir=str(tmp_path / "out"))
        assert not result.success
        [line] = failures(result)
        assert line.endswith(f"WarehouseBusy: {busy_message(warehouse)}")
        assert not warehouse.exists() and not (tmp_path / "out").exists()  # nothing was done
        assert not is_free(warehouse)  # still ours


def test_a_warehouse_opened_by_another_duckdb_process_gives_the_same_line(tmp_path, run_speval, lock_holder):
    data, warehouse = small(tmp_path / "data"), tmp_path / "w.duckdb"
    lock_holder(f"""
        import time, duckdb
        con = duckdb.connect({str(warehouse)!r})
        print("held", flush=True)
        time.sleep(600)
    """)
    run = run_speval(data, warehouse=warehouse)
    assert run.exit_code == 1
    assert run.stderr.strip() == busy_message(warehouse)
    # Launched without the CLI, the first asset meets DuckDB's own lock: the step fails with the same
    # sentence, not DuckDB's "Could not set lock on file", and the run lock is released after the failure.
    result = run_job(warehouse, data_dir=str(data), out_dir=str(tmp_path / "out"))
    assert not result.success
    lines = failures(result)
    assert lines and all(busy_message(warehouse) in line for line in lines), lines
    assert is_free(warehouse)


# ---- a killed run leaves no report -----------------------------------------------------------------------


def test_a_run_killed_while_rendering_the_report_leaves_no_report(tmp_path, run_speval):
    data, out, warehouse = small(tmp_path / "data"), tmp_path / "out", tmp_path / "w.duckdb"
    run_dir = out / "LTC" / QUARTER
    killed = subprocess.Popen(cli_command(data, out, warehouse), cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # The tables are the report step's first output; the PDF takes seconds more to render.
        wait_for(lambda: any((s / "tables").is_dir() for s in staging_folders(run_dir)), 300, killed,
                 "the report step started")
        os.killpg(killed.pid, signal.SIGKILL)  # the run and anything it started (the PDF renderer)
    finally:
        if killed.poll() is None:
            killed.wait(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert outputs_in(run_dir) == []  # no report, tables, quality data or manifest
    [leftover] = staging_folders(run_dir)
    assert (leftover / "tables").is_dir() and not (leftover / "run_manifest.json").exists()
    assert is_free(warehouse)  # the kernel dropped the killed run's lock

    rerun = run_speval(data, out=out, warehouse=warehouse)
    assert rerun.exit_code == 0, rerun.stderr[-3000:]
    assert staging_folders(run_dir) == []  # the killed run's leftovers are gone
    assert outputs_in(run_dir) == sorted(REPORT_OUTPUTS)
    manifest = json.loads((run_dir / "run_manifest.json").read_text())
    files = {o["file"] for o in manifest["outputs"]}
    assert {"evaluation_report.pdf", "evaluation_report.html", "tables/attrition.csv",
            "quality/hes_file_quality.csv"} <= files  # relative to the run folder
    on_disk = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert on_disk == files | {"run_manifest.json"}


def test_publishing_replaces_the_run_folder_and_keeps_foreign_files(tmp_path):
    from speval.report.outputs import clear_run_folder, publish_run_folder, staging_folder

    run_dir = tmp_path / "LTC" / QUARTER
    (run_dir / "tables").mkdir(parents=True)
    (run_dir / "tables" / "old.csv").write_text("old")
    (run_dir / "notes.txt").write_text("kept")
    (tmp_path / "LTC" / f".{QUARTER}.partial-killedrun" / "tables").mkdir(parents=True)
    clear_run_folder(run_dir)
    assert staging_folders(run_dir) == [] and sorted(p.name for p in run_dir.iterdir()) == ["notes.txt"]
    for notes in (True, False):  # a run folder holding a file of someone else's, then an empty one
        staging = staging_folder(run_dir, "run1")
        (staging / "tables").mkdir(parents=True)
        (staging / "tables" / "attrition.csv").write_text("new")
        (staging / "evaluation_report.pdf").write_text("pdf")
        if not notes:
            (run_dir / "notes.txt").unlink()
        publish_run_folder(staging, run_dir)
        assert not staging.exists() and staging_folders(run_dir) == []
        expected = {"tables/attrition.csv", "evaluation_report.pdf"} | ({"notes.txt"} if notes else set())
        assert {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()} == expected
        clear_run_folder(run_dir)


# ---- the output folder is checked before any work ---------------------------------------------------------


def test_an_uncreatable_output_folder_is_refused_before_any_work(tmp_path, run_speval):
    data, warehouse = small(tmp_path / "data"), tmp_path / "w.duckdb"
    (tmp_path / "a_file").write_text("not a folder")
    out = tmp_path / "a_file" / "out"
    run = run_speval(data, out=out, warehouse=warehouse)
    assert run.exit_code == 1
    [line] = run.stderr.strip().splitlines()
    assert line == (f"the output folder {tmp_path / 'a_file'} cannot be written (Not a directory); "
                    "fix its permissions or use --out")
    assert not warehouse.exists()
    # Launched without the CLI, the first asset refuses it before reading anything.
    result = run_job(warehouse, data_dir=str(data), out_dir=str(out))
    assert not result.success
    assert failures(result) == [f"analysis__parameters: speval.report.outputs.OutputFolderError: {line}"]
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()  # only the reference tables that need no input ran alongside it
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert all(not graph.get(key).parent_keys for key in materialized), materialized


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_output_folder_is_refused_before_any_work(tmp_path, run_speval):
    data, out = small(tmp_path / "data"), tmp_path / "out"
    (out / "LTC").mkdir(parents=True)
    (out / "LTC").chmod(0o555)
    try:
        run = run_speval(data, out=out)
    finally:
        (out / "LTC").chmod(0o755)
    assert run.exit_code == 1
    assert run.stderr.strip().startswith(f"the output folder {out / 'LTC'} cannot be written (Permission denied)")


# ---- too many rows quarantined ----------------------------------------------------------------------------


def mostly_bad(root: Path) -> Path:
    """persons.csv: 10 valid rows and 15 with an invalid SEX (60% of 25 rows quarantined); one onward
    referral, quarantined (100% of 1 row: too small a file for the share to stop the run)."""
    ds = DataSet(root)
    for n in range(10):
        ds.person(f"P{n}")
        ds.apc(f"P{n}", "2013-01-10")
        ds.ae(f"P{n}", "2013-02-01")
        ds.op(f"P{n}", "2013-02-02")
        ds.referral(f"P{n}", "2013-03-15")
    for n in range(15):
        ds.person(f"BAD{n}", SEX="7")
    ds.onward("R_UNKNOWN", "2013-04-01")
    return ds.write()


def test_too_many_quarantined_rows_stop_the_run(tmp_path, run_speval):
    data = mostly_bad(tmp_path / "data")
    run = run_speval(data)
    assert run.exit_code == 1
    summary = run.stderr[run.stderr.index("speval run failed for LTC 2013Q4:"):].splitlines()
    assert ("  - check quarantine_share_within_limit on staged/persons failed: more than 50% of rows quarantined "
            "(max_quarantined_share, files of 20+ rows): hes/2013Q4/persons.csv 60.0% (15 of 25 rows)") in summary
    assert not any("onward_referrals" in line for line in summary)  # 1 row: below quarantine_share_min_rows
    assert outputs_in(run.run_dir) == [] and staging_folders(run.run_dir) == []
    assert is_free(run.warehouse)
    # The limit is a setting: at 70% the same files pass their checks (and the 1-row file never blocked); ingest
    # and validation are enough to show it, the stages after them are the same as in any other run.
    result = run_job(tmp_path / "again.duckdb", groups=("ingest", "validate"), data_dir=str(data),
                     out_dir=str(tmp_path / "out_again"), max_quarantined_share=0.7)
    assert result.success, failures(result)
    share_checks = {e.event_specific_data.asset_key.to_user_string(): e.event_specific_data.passed
                    for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
                    and e.event_specific_data.check_name == "quarantine_share_within_limit"}
    assert share_checks["staged/persons"] and share_checks["staged/onward_referrals"], share_checks


@pytest.mark.parametrize("change", [{"max_quarantined_share": 1.5}, {"max_quarantined_share": -0.1},
                                    {"quarantine_share_min_rows": 0}])
def test_quarantine_settings_are_validated(change):
    from assets.resources import EvaluationSettings

    EvaluationSettings().run_spec("2013Q4", "LTC")
    with pytest.raises(ValueError, match=next(iter(change))):
        EvaluationSettings(**change).run_spec("2013Q4", "LTC")
