"""End to end: generated demo data → `speval run` → tables, report and manifest.

The three analysis tables are recomputed here independently, in plain Python from the generated CSV
files (no DuckDB, no project SQL), and must agree exactly.
"""
from __future__ import annotations

import calendar
import csv
import datetime as dt
import hashlib
import json
import subprocess
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest

from speval.analysis.comparison import COVARIATES

pytestmark = pytest.mark.pipeline  # real `speval run` / Dagster job or PDF rendering: not in `make test-fast`

QUARTER, QUARTER_END = "2013Q4", dt.date(2013, 12, 31)
EMERGENCY = {"21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D"}
MEASURES = ("inpatient_admissions", "emergency_admissions", "ae_attendances", "outpatient_appointments")
SCORES = ("FEELING_POSITIVE", "LIFESTYLE", "LOOKING_AFTER_YOURSELF", "MANAGING_SYMPTOMS",
          "WORK_VOLUNTEERING_SOCIAL", "MONEY", "WHERE_YOU_LIVE", "FAMILY_FRIENDS")


def months_later(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


def rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def date(value: str) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from pipelines.cli import main
    from speval.demo import generate
    from speval.report import charts

    # Both runs draw their charts in Chromium: no test's reuse of drawn charts (conftest.py) is in force yet.
    assert charts._render_svg.__name__ == "_render_svg"
    root = tmp_path_factory.mktemp("e2e")
    generate(root / "data", scale=0.1, seed=42)
    args = ["run", "--quarter", QUARTER, "--data-dir", str(root / "data"), "--warehouse", str(root / "w.duckdb")]
    assert main([*args, "--out", str(root / "out")]) == 0
    (root / "stored_after_first_run.json").write_text(json.dumps(stored_rows(root / "w.duckdb")))
    assert main([*args, "--out", str(root / "out_again")]) == 0  # the same quarter again, on the same warehouse
    return root


def stored_rows(warehouse: Path) -> dict[str, int]:
    """Rows held by the warehouse's raw, staged and audit tables."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                             "WHERE table_schema IN ('raw', 'staged', 'audit') ORDER BY 1").fetchall()
        return {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for (name,) in tables}


@pytest.fixture(scope="module")
def expected(demo):
    """The contract's rules applied by hand to the delivery in use (HES and outcome tool 2013Q4)."""
    hes, tool = demo / "data" / "hes" / QUARTER, demo / "data" / "outcome_tool" / QUARTER
    manifest = json.loads((hes / "manifest.json").read_text())
    coverage, cutoff = date(manifest["coverage_start"]), date(manifest["cutoff"])
    persons = {r["TOKEN_PERSON_ID"]: r for r in rows(hes / "persons.csv")}
    referrals = [r for r in rows(tool / "referrals.csv")
                 if r["PROGRAMME"] == "LTC" and date(r["REFERRAL_DATE"]) <= QUARTER_END]
    index = {}
    for r in referrals:
        d = date(r["REFERRAL_DATE"])
        index[r["TOKEN_PERSON_ID"]] = min(index.get(r["TOKEN_PERSON_ID"], d), d)
    funded_referrals = {o["REFERRAL_ID"] for o in rows(tool / "onward_referrals.csv")
                        if o["FUNDING"] == "Funded" and date(o["ONWARD_DATE"]) <= QUARTER_END}
    funded = {r["TOKEN_PERSON_ID"] for r in referrals if r["REFERRAL_ID"] in funded_referrals}

    events = defaultdict(set)  # (measure, person) -> distinct event keys with date first
    for e in rows(hes / "apc.csv"):
        if e["EPISTAT"] == "3" and e["CLASSPAT"] in ("1", "2"):
            key = (date(e["ADMIDATE"]), e["PROCODE3"])
            events[("inpatient_admissions", e["TOKEN_PERSON_ID"])].add(key)
            if e["ADMIMETH"] in EMERGENCY:
                events[("emergency_admissions", e["TOKEN_PERSON_ID"])].add(key)
    for e in rows(hes / "ae.csv"):
        if e["AEATTENDCAT"] in ("1", "3"):
            events[("ae_attendances", e["TOKEN_PERSON_ID"])].add(
                (date(e["ARRIVALDATE"]), e["PROCODE3"], e["ARRIVALTIME"]))
    for e in rows(hes / "op.csv"):
        if e["ATTENDED"] in ("5", "6"):
            events[("outpatient_appointments", e["TOKEN_PERSON_ID"])].add((date(e["APPTDATE"]), e["ATTENDKEY"]))

    attrition, use = {}, {}
    for cohort, w in (("6m", 6), ("12m", 12)):
        steps = {"referred": set(index)}
        steps["linked"] = {p for p in steps["referred"] if p in persons}
        steps["pre_window_covered"] = {p for p in steps["linked"] if months_later(index[p], -w) >= coverage}
        steps["post_window_covered"] = {p for p in steps["pre_window_covered"]
                                        if months_later(index[p], w) - dt.timedelta(days=1) <= cutoff}
        steps["alive"] = {p for p in steps["post_window_covered"]
                          if not persons[p]["DATE_OF_DEATH"]
                          or date(persons[p]["DATE_OF_DEATH"]) >= months_later(index[p], w)}
        steps["registered"] = {
            p for p in steps["alive"]
            if date(persons[p]["REGISTERED_FROM"]) <= months_later(index[p], -w)
            and (not persons[p]["REGISTERED_TO"]
                 or date(persons[p]["REGISTERED_TO"]) >= months_later(index[p], w) - dt.timedelta(days=1))}
        attrition[cohort] = {step: len(people) for step, people in steps.items()}
        members = steps["registered"]
        for group, people in (("all", members), ("funded", members & funded)):
            for measure in MEASURES:
                before = after = 0
                for p in people:
                    start, r, end = months_later(index[p], -w), index[p], months_later(index[p], w)
                    dates = [k[0] for k in events[(measure, p)]]
                    before += sum(start <= d < r for d in dates)
                    after += sum(r <= d < end for d in dates)
                use[(cohort, group, measure)] = (len(people), before, after)
    return attrition, use


def test_attrition_matches_independent_count(demo, expected):
    attrition, _ = expected
    table = pl.read_csv(demo / "out" / "LTC" / QUARTER / "tables" / "attrition.csv")
    for row in table.iter_rows(named=True):
        assert row["n"] == attrition[row["cohort"]][row["step"]], row
    assert attrition["12m"]["registered"] > 10 and attrition["6m"]["registered"] > 30  # a real cohort


def test_hospital_use_matches_independent_count(demo, expected):
    _, use = expected
    table = pl.read_csv(demo / "out" / "LTC" / QUARTER / "tables" / "hospital_use.csv")
    assert table.height == 16
    for row in table.iter_rows(named=True):
        n, before, after = use[(row["cohort"], row["group"], row["measure"])]
        assert row["n_patients"] == n
        assert row["mean_before"] == pytest.approx(before / n, rel=1e-12)
        assert row["mean_after"] == pytest.approx(after / n, rel=1e-12)
        assert row["pct_change"] == pytest.approx(100 * (after - before) / before, rel=1e-9)


def test_wellbeing_matches_independent_count(demo):
    tool = demo / "data" / "outcome_tool" / QUARTER
    referrals = {r["REFERRAL_ID"] for r in rows(tool / "referrals.csv")
                 if r["PROGRAMME"] == "LTC" and date(r["REFERRAL_DATE"]) <= QUARTER_END}
    by_referral = defaultdict(list)
    for a in rows(tool / "assessments.csv"):
        if a["REFERRAL_ID"] in referrals and date(a["ASSESSMENT_DATE"]) <= QUARTER_END:
            by_referral[a["REFERRAL_ID"]].append(a)
    order = lambda a: (a["ASSESSMENT_DATE"], len(a["ASSESSMENT_ID"]), a["ASSESSMENT_ID"])  # noqa: E731
    pairs = []
    for assessments in by_referral.values():
        baselines = sorted((a for a in assessments if a["ASSESSMENT_TYPE"] == "Baseline"), key=order)
        if not baselines:
            continue
        b = baselines[0]
        reviews = sorted((a for a in assessments if a["ASSESSMENT_TYPE"] == "Review"
                          and 84 <= (date(a["ASSESSMENT_DATE"]) - date(b["ASSESSMENT_DATE"])).days <= 140), key=order)
        pairs.append((b, reviews[0] if reviews else None))
    table = pl.read_csv(demo / "out" / "LTC" / QUARTER / "tables" / "wellbeing.csv")
    for score, row in zip(SCORES, table.iter_rows(named=True)):
        assert row["measure"] == score.lower()
        base = [int(b[score]) for b, _ in pairs if b[score]]
        both = [(int(b[score]), int(f[score])) for b, f in pairs if f and b[score] and f[score]]
        assert row["baseline_n"] == len(base) and row["followup_n"] == len(both)
        assert row["baseline_mean"] == pytest.approx(sum(base) / len(base))
        assert row["baseline_low_pct"] == pytest.approx(100 * sum(s <= 2 for s in base) / len(base))
        assert row["followup_mean"] == pytest.approx(sum(f for _, f in both) / len(both))
        assert row["progress_pct"] == pytest.approx(100 * sum(f > b for b, f in both) / len(both))
    assert table["baseline_n"].min() > 20


def test_same_inputs_give_identical_tables_and_pdf(demo):
    first, second = demo / "out" / "LTC" / QUARTER, demo / "out_again" / "LTC" / QUARTER
    for name in ["evaluation_report.pdf", "evaluation_report.html",
                 *(f"tables/{p.name}" for p in (first / "tables").glob("*.csv"))]:
        a, b = (first / name).read_bytes(), (second / name).read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest(), name


def test_rerunning_a_quarter_adds_nothing(demo):
    """The second run read the same deliveries into the same warehouse: no raw, staged or audit row more (its
    tables and PDF are the first run's, byte for byte: the test above)."""
    first = json.loads((demo / "stored_after_first_run.json").read_text())
    assert first["raw.apc"] > 0 and first["audit.row_outcomes"] > 0 and first["audit.ingest_log"] > 0
    assert stored_rows(demo / "w.duckdb") == first


def test_manifest_hashes_every_input_and_output(demo):
    folder = demo / "out" / "LTC" / QUARTER
    manifest = json.loads((folder / "run_manifest.json").read_text())
    data = demo / "data"
    for item in manifest["inputs"]:
        path = data / item["file"].split("#")[0]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == item["sha256"]
    inputs = {i["file"].split("#")[0] for i in manifest["inputs"]}
    assert f"hes/{QUARTER}/apc.csv" in inputs and f"outcome_tool/{QUARTER}/referrals.csv" in inputs
    assert any(f.startswith("provider_returns/") for f in inputs)
    outputs = {o["file"]: o["sha256"] for o in manifest["outputs"]}
    assert set(outputs) >= {"evaluation_report.pdf", "evaluation_report.html", "tables/hospital_use.csv"}
    for name, digest in outputs.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert manifest["deliveries"]["hes"]["key"] == QUARTER
    compared = {c["file"]: c["sha256"] for c in manifest["compared_inputs"]}  # previous delivery, 2013Q2
    assert set(compared) == {f"hes/2013Q2/{f}.csv" for f in ("persons", "apc", "ae", "op")}
    for name, digest in compared.items():
        assert hashlib.sha256((data / name).read_bytes()).hexdigest() == digest
    assert manifest["code_version"]["git_commit"]
    assert manifest["packages"]["dagster"] != "not installed"


def test_pdf_first_page_renders(demo, tmp_path):
    pdf = demo / "out" / "LTC" / QUARTER / "evaluation_report.pdf"
    subprocess.run(["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-gray", str(pdf), str(tmp_path / "page")],
                   check=True)
    image = next(tmp_path.glob("page*.pgm")).read_bytes()
    pixels = image.split(b"\n", 3)[3]  # P5 header: magic, size, maxval
    assert len(set(pixels)) > 10 and pixels.count(255) < len(pixels)  # not a blank page
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Table 1" in text and "Table 2" in text and QUARTER in text


def test_every_file_reconciles_and_planted_defects_are_caught(demo):
    folder = demo / "out" / "LTC" / QUARTER / "tables"
    recon = pl.read_csv(folder / "reconciliation.csv")
    assert (recon["rows_read"] == recon["rows_accepted"] + recon["rows_quarantined"] + recon["rows_duplicate"]).all()
    assert recon.filter(pl.col("file").str.contains("#Activity")).height > 0
    quarantine = pl.read_csv(folder / "quarantine.csv")
    assert quarantine.height == recon["rows_quarantined"].sum()
    truth = json.loads((demo / "data" / "truth.json").read_text())
    checked = 0
    for defect in truth["planted_defects"]:
        file = defect.get("file", "")
        if defect["kind"] == "exact_duplicate_rows" and file.startswith(f"hes/{QUARTER}/"):
            assert recon.filter(file=file)["rows_duplicate"][0] == defect["count"]
            checked += 1
        if defect["kind"] == "activity_referral_id_unknown_to_outcome_tool" and file.split("/")[1] <= QUARTER:
            hit = quarantine.filter(file=file, row_number=defect["row_number"])
            assert hit["reason"].to_list() == ["REFERRAL_ID: no valid referrals row (missing or quarantined)"]
            checked += 1
    assert checked >= 3


def test_mental_health_programme_and_a_programme_with_no_referrals_yet(demo, demo_mh_run, capsys):
    """MH referrals start in 2015: its 2016Q4 report (demo data at scale 0.3, run once per session) has cohorts;
    a 2013Q4 MH run is refused before it starts (exit 2, one line), never published as "about 0 people
    referred"."""
    from pipelines.cli import main

    tables = demo_mh_run / "tables"
    assert pl.read_csv(tables / "attrition.csv").filter(cohort="6m", step="registered")["n"][0] > 0
    assert pl.read_csv(tables / "matched_effects.csv").height == 8
    assert pl.read_csv(tables / "balance.csv").height == 2 * len(COVARIATES)  # every covariate of both cohorts
    assert (demo_mh_run / "evaluation_report.pdf").is_file()
    pathway = pl.read_csv(tables / "mh_pathway.csv")  # MH runs only: the LTC run's tables have none
    assert pathway["step"].to_list() == ["referred", "engaged", "took_up", "discharge_review_due", "discharged",
                                         "discharge_observable_12m", "discharge_sustained_12m"]
    assert pathway["n"][0] > 0 and (pathway["n"].diff().drop_nulls()[3:] <= 0).all()  # discharge steps nest
    assert not (demo / "out" / "LTC" / QUARTER / "tables" / "mh_pathway.csv").exists()
    capsys.readouterr()
    out = demo / "mh_2013Q4"
    assert main(["run", "--quarter", "2013Q4", "--programme", "MH", "--data-dir", str(demo / "data"),
                 "--out", str(out), "--warehouse", str(demo / "mh_2013Q4.duckdb")]) == 2
    assert capsys.readouterr().err == ("speval run refused: no MH referrals on or before 2013-12-31 in "
                                       "outcome-tool export 2013Q4\n")
    assert not out.exists()
