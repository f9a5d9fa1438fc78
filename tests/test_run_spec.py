"""The run specification (ADR 0015): impossible runs are refused before the job starts, with one line and
exit code 2, through the real CLI; a report can never carry one run's title over another run's tables."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from builders import DataSet
from conftest import Run, speval_cli
from speval.run.quarters import Quarter
from speval.run.spec import RunRefused, RunSpec, plan_run

pytestmark = pytest.mark.pipeline  # real `speval run` / Dagster job or PDF rendering: not in `make test-fast`



def tiny(root: Path) -> Path:
    """LTC referrals in 2013; HES and outcome-tool deliveries 2013Q4 (cut-off 2013-12-31)."""
    ds = DataSet(root)
    for n in (1, 2):
        ds.person(f"P{n}")
        ds.apc(f"P{n}", "2013-01-10")
        ds.ae(f"P{n}", "2013-02-01")
        ds.op(f"P{n}", "2013-02-02")
        ds.referral(f"P{n}", "2013-03-15")
    ds.person("C1")
    ds.apc("C1", "2013-01-11")
    return ds.write()


# ---- the specification, in plain code


@pytest.mark.parametrize("quarter, programme, message", [
    ("2014-Q4", "LTC", "not a quarter: '2014-Q4'"),
    ("2014Q5", "LTC", "not a quarter: '2014Q5'"),
    ("2013Q4", "XYZ", "unknown programme 'XYZ': choose LTC or MH"),
])
def test_malformed_values_are_refused_when_the_spec_is_built(tmp_path, quarter, programme, message):
    with pytest.raises(RunRefused, match=message):
        RunSpec.build(quarter, programme, tmp_path, tmp_path / "out")


def test_a_planned_run_knows_its_deliveries_and_folders(tmp_path):
    spec = plan_run(RunSpec.build("2014Q2", "LTC", tiny(tmp_path / "data"), tmp_path / "out"))
    assert spec.quarter == Quarter(2014, 2) and spec.programme.label == "Long-term conditions"
    assert (spec.planned.hes, spec.planned.outcome_tool) == ("2013Q4", "2013Q4")  # 2014Q2's own has not arrived
    assert spec.run_folder == (tmp_path / "out" / "LTC" / "2014Q2").resolve()
    assert spec.report_pdf.name == "evaluation_report.pdf"


@pytest.mark.parametrize("quarter, programme, today, message", [
    ("2014Q4", "LTC", None, "no HES delivery covers 2014Q4: the latest is 2013Q4, cut-off 2013-12-31"),
    ("2013Q1", "LTC", None, "no HES delivery covers 2013Q1: the earliest is 2013Q4"),
    ("2013Q4", "MH", None, "no MH referrals on or before 2013-12-31 in outcome-tool export 2013Q4"),
    ("2014Q1", "LTC", dt.date(2014, 3, 31), "2014Q1 has not ended yet (its last day is 2014-03-31)"),
])
def test_impossible_runs_are_refused_with_what_is_missing(tmp_path, quarter, programme, today, message):
    spec = RunSpec.build(quarter, programme, tiny(tmp_path / "data"), tmp_path / "out")
    with pytest.raises(RunRefused) as refused:
        plan_run(spec, today=today)
    assert str(refused.value).startswith(message)


# ---- the refusals through the real CLI


@pytest.mark.parametrize("args, message", [
    (["--quarter", "2030Q1"], "no HES delivery covers 2030Q1: the latest is 2013Q4, cut-off 2013-12-31"),
    (["--quarter", "2014-Q4"], "not a quarter: '2014-Q4'"),
    (["--quarter", "2014Q5"], "not a quarter: '2014Q5'"),
    (["--quarter", "2013Q4", "--programme", "XYZ"], "unknown programme 'XYZ'"),
    (["--quarter", "2013Q4", "--programme", "MH"], "no MH referrals on or before 2013-12-31"),
])
def test_the_cli_refuses_an_impossible_run_in_one_line_with_exit_2(tmp_path, args, message):
    data = tiny(tmp_path / "data")
    done = speval_cli("run", *args, "--data-dir", str(data), "--out", str(tmp_path / "out"),
               "--warehouse", str(tmp_path / "w.duckdb"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"speval run refused: {message}"), done.stderr
    assert not (tmp_path / "w.duckdb").exists() and not (tmp_path / "out").exists()


def test_help_describes_every_option_its_default_and_the_programmes():
    done = speval_cli("run", "--help")
    assert done.returncode == 0
    for text in ("--quarter", "--programme", "--data-dir", "(default: data/raw)", "--out", "(default: reports/out)",
                 "--warehouse", "default: the quarter and programme's own file, data/warehouse/PROGRAMME/QUARTER.duckdb",
                 "--no-wait", "instead of waiting for it to finish", "--verbose", "LTC (long-term conditions)",
                 "MH (mental health)", "Exit codes"):
        assert text in " ".join(done.stdout.split()), text


# ---- report integrity


def test_a_report_cannot_carry_one_runs_title_over_another_runs_tables(tmp_path, run_speval):
    """The warehouse holds LTC 2013Q4; materialising only the report assets for LTC 2014Q1 is blocked."""
    from assets.partitions import partition_key
    from pipelines.definitions import defs

    data = tiny(tmp_path / "data")
    first: Run = run_speval(data, quarter="2013Q4")
    assert first.exit_code == 0
    job = defs.resolve_job_def("quarterly_evaluation")
    settings = {"data_dir": str(data), "out_dir": str(tmp_path / "out")}
    result = job.execute_in_process(
        run_config={"resources": {"settings": {"config": settings},
                                  "warehouse": {"config": {"database": str(first.warehouse)}}}},
        asset_selection=[dg.AssetKey(["report", "analysis_tables"]), dg.AssetKey(["report", "evaluation_report"])],
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, partition_key=partition_key("2014Q1", "LTC"))
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    integrity = next(c for c in checks if c.check_name == "warehouse_holds_this_run")
    assert not integrity.passed
    assert set(integrity.metadata["differing"].value) >= {"quarter", "quarter_start", "quarter_end"}
    rendered = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
                and e.asset_key == dg.AssetKey(["report", "evaluation_report"])]
    assert not rendered
    assert not list((tmp_path / "out" / "LTC").glob("*2014Q1*/evaluation_report.*"))  # run or staging folder
    assert not (tmp_path / "out" / "LTC" / "2014Q1").exists()  # nothing published
    # The same subset for the run the warehouse holds passes the check.
    again = job.execute_in_process(
        run_config={"resources": {"settings": {"config": settings},
                                  "warehouse": {"config": {"database": str(first.warehouse)}}}},
        asset_selection=[dg.AssetKey(["report", "analysis_tables"])],
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, partition_key=partition_key("2013Q4", "LTC"))
    evaluation = next(e.event_specific_data for e in again.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION")
    assert evaluation.passed
