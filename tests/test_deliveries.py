"""Delivery selection (docs/contract/inputs.md, ADR 0015): the HES / outcome-tool delivery whose key is the
reporting quarter or, failing that, the latest earlier one whose cut-off lies in the four quarters ending it;
every provider-returns folder with key <= it; records revised or withdrawn between cumulative deliveries
follow the newer one; the data-quality summary counts what changed."""
from __future__ import annotations

import json

import pytest

from builders import DataSet
from speval.ingest.deliveries import DeliveryError, previous_delivery, select_deliveries
from speval.run.quarters import Quarter

pytestmark = pytest.mark.pipeline  # real `speval run` / Dagster job or PDF rendering: not in `make test-fast`


def _folders(root, source, keys):
    for key in keys:
        (root / source / key).mkdir(parents=True)


def test_latest_delivery_not_after_the_quarter(tmp_path):
    _folders(tmp_path, "hes", ["2013Q2", "2013Q4", "2014Q4", "notaquarter"])
    _folders(tmp_path, "outcome_tool", ["2013Q2", "2013Q4"])
    _folders(tmp_path, "provider_returns", ["2012Q3", "2013Q1", "2013Q4", "2014Q1"])
    for key, cutoff in (("2013Q2", "2013-06-30"), ("2013Q4", "2013-12-31"), ("2014Q4", "2014-12-31")):
        (tmp_path / "hes" / key / "manifest.json").write_text(
            json.dumps({"coverage_start": "2011-04-01", "cutoff": cutoff, "extracted_on": "2014-01-17"}))
    used = select_deliveries(tmp_path, Quarter.parse("2014Q2"))
    assert (used.hes, used.outcome_tool, used.previous_hes) == ("2013Q4", "2013Q4", "2013Q2")
    assert used.provider_returns == ("2012Q3", "2013Q1", "2013Q4", "2014Q1")
    used = select_deliveries(tmp_path, Quarter.parse("2013Q3"))
    assert (used.hes, used.previous_hes, used.provider_returns) == ("2013Q2", None, ("2012Q3", "2013Q1"))
    assert previous_delivery(tmp_path, "hes", "2014Q4") == "2013Q4"
    with pytest.raises(DeliveryError, match="^no HES delivery covers 2013Q1: the earliest is 2013Q2$"):
        select_deliveries(tmp_path, Quarter.parse("2013Q1"))


def test_a_delivery_covers_the_four_quarters_ending_at_its_cut_off(tmp_path):
    """2013Q4's delivery (cut-off 2013-12-31) covers 2014Q1 to 2014Q3 while 2014Q4's has not arrived; not 2015Q1."""
    _folders(tmp_path, "hes", ["2013Q4"])
    _folders(tmp_path, "outcome_tool", ["2013Q4"])
    (tmp_path / "hes" / "2013Q4" / "manifest.json").write_text(
        json.dumps({"coverage_start": "2011-04-01", "cutoff": "2013-12-31"}))
    assert select_deliveries(tmp_path, Quarter.parse("2014Q3")).hes == "2013Q4"
    with pytest.raises(DeliveryError, match="^no HES delivery covers 2014Q4: the latest is 2013Q4, cut-off 2013-12-31$"):
        select_deliveries(tmp_path, Quarter.parse("2014Q4"))
    (tmp_path / "hes" / "2013Q4" / "manifest.json").write_text(
        json.dumps({"coverage_start": "2011-04-01", "cutoff": "2014-12-31"}))  # a late cut-off covers more
    with pytest.raises(DeliveryError, match="^no outcome-tool export covers 2014Q4: the latest is 2013Q4, cut-off "
                                            "2013-12-31$"):
        select_deliveries(tmp_path, Quarter.parse("2014Q4"))


def test_manifest_errors_name_the_file(tmp_path):
    _folders(tmp_path, "hes", ["2013Q4"])
    _folders(tmp_path, "outcome_tool", ["2013Q4"])
    with pytest.raises(DeliveryError, match="no manifest.json"):
        select_deliveries(tmp_path, Quarter.parse("2013Q4"))
    (tmp_path / "hes" / "2013Q4" / "manifest.json").write_text('{"coverage_start": "2011-04-01"}')
    with pytest.raises(DeliveryError, match="manifest.json must hold"):
        select_deliveries(tmp_path, Quarter.parse("2013Q4"))


@pytest.fixture(scope="module")
def two_deliveries(tmp_path_factory):
    """2013Q2 delivery: E-revised (emergency), E-withdrawn. 2013Q4 delivery: E-revised corrected to an
    elective admission, E-withdrawn gone, E-new added. Referral 2012-11-15 in both exports."""
    root = tmp_path_factory.mktemp("deliveries") / "data"
    early = DataSet(root, hes_key="2013Q2", cutoff="2013-06-30")
    late = DataSet(root, hes_key="2013Q4", cutoff="2013-12-31")
    for ds in (early, late):
        ds.person("P1")
        ds.referral("P1", "2012-11-15", REFERRAL_ID="R1")
        ds.ae("P1", "2012-12-01")  # every HES file has rows (a header-only file is refused)
        ds.op("P1", "2012-12-02")
    early.apc("P1", "2012-10-01", EPIKEY="E-revised", ADMIMETH="21")
    early.apc("P1", "2012-10-20", EPIKEY="E-withdrawn", ADMIMETH="21")
    late.apc("P1", "2012-10-01", EPIKEY="E-revised", ADMIMETH="11")
    late.apc("P1", "2013-01-05", EPIKEY="E-new", ADMIMETH="21")
    early.write()
    late.write()
    return root


def test_revised_and_withdrawn_records_follow_the_newer_delivery(two_deliveries, run_speval):
    run = run_speval(two_deliveries, quarter="2013Q4")
    assert run.exit_code == 0, run.stderr
    use = run.table("hospital_use").filter(cohort="6m", group="all")
    rows = {r["measure"]: (r["n_patients"], r["mean_before"], r["mean_after"]) for r in use.iter_rows(named=True)}
    assert rows["inpatient_admissions"] == (1, 1.0, 1.0)  # E-revised before (elective now), E-new after
    assert rows["emergency_admissions"] == (1, 0.0, 1.0)  # E-withdrawn gone, E-revised no longer emergency
    quality = {r["file"]: r for r in run.query("SELECT * FROM audit.hes_file_quality").iter_rows(named=True)}
    apc = quality["hes/2013Q4/apc.csv"]
    assert (apc["previous_delivery"], apc["records_revised"], apc["records_withdrawn"], apc["records_new"]) == (
        "2013Q2", 1, 1, 1)
    assert quality["hes/2013Q4/persons.csv"]["records_revised"] == 0
    manifest = json.loads((run.run_dir / "run_manifest.json").read_text())
    assert manifest["deliveries"]["hes"]["key"] == "2013Q4"
    assert manifest["deliveries"]["outcome_tool"]["key"] == "2013Q4"


def test_an_earlier_quarter_uses_the_earlier_delivery(two_deliveries, run_speval):
    run = run_speval(two_deliveries, quarter="2013Q2")
    assert run.exit_code == 0, run.stderr
    assert set(run.table("reconciliation")["file"]) == {
        f"{s}/2013Q2/{f}.csv" for s, files in (("hes", ("persons", "apc", "ae", "op")),
                                                ("outcome_tool", ("referrals", "onward_referrals", "assessments")))
        for f in files}
    use = run.table("hospital_use").filter(cohort="6m", group="all", measure="emergency_admissions")
    assert (use["n_patients"][0], use["mean_before"][0]) == (1, 2.0)  # both emergencies of the 2013Q2 delivery
    quality = run.query("SELECT previous_delivery, records_revised FROM audit.hes_file_quality")
    assert quality["previous_delivery"].null_count() == quality.height  # no earlier delivery to compare with
