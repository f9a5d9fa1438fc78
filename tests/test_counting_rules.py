"""Per-patient assurance of the counting, window and cohort rules (CONTRACT.md §2).

One synthetic patient per rule, each with a hand-worked answer, all run through the real `speval run`
once. Data: HES coverage 2011-04-01 to 2013-12-31, reporting quarter 2013Q4, programme LTC.
Windows for W months: before = [R - W, R), after = [R, R + W); month arithmetic clamps to month end.
"""
from __future__ import annotations

from collections import defaultdict

import pytest

from builders import DataSet

STEPS = ("referred", "linked", "pre_window_covered", "post_window_covered", "alive", "registered")
MEASURES = ("inpatient_admissions", "emergency_admissions", "ae_attendances", "outpatient_appointments")

# Expectations, filled in by the case builders below.
COUNTS: dict[tuple[str, str, str], tuple[int, int]] = {}  # (cohort, person, measure) -> (before, after)
DROPPED_AT: dict[tuple[str, str], str | None] = {}  # (cohort, person) -> first failed step (None = member)
FUNDED: set[str] = set()
REFERRED: set[str] = set()


def expect(person: str, six: str | None, twelve: str | None, **counts: tuple[int, int] | dict) -> None:
    """Declare a referred person's expected cohort outcome and counts.
    counts: measure=(before, after) for both cohorts, or measure={"6m": (b, a), "12m": (b, a)}."""
    REFERRED.add(person)
    DROPPED_AT[("6m", person)] = six
    DROPPED_AT[("12m", person)] = twelve
    for measure, value in counts.items():
        per_cohort = value if isinstance(value, dict) else {"6m": value, "12m": value}
        for cohort, pair in per_cohort.items():
            COUNTS[(cohort, person, measure)] = pair


def build(ds: DataSet) -> None:
    # Window boundaries, R = 2012-10-15: events on R-12m-1, R-12m, R-6m-1, R-6m, R-1, R, R+6m-1, R+6m,
    # R+12m-1, R+12m. 6m: before {R-6m, R-1}, after {R, R+6m-1}; 12m: before {R-12m .. R-1},
    # after {R .. R+12m-1}.
    ds.person("P_BOUNDS")
    for day in ("2011-10-14", "2011-10-15", "2012-04-14", "2012-04-15", "2012-10-14", "2012-10-15",
                "2013-04-14", "2013-04-15", "2013-10-14", "2013-10-15"):
        ds.apc("P_BOUNDS", day, ADMIMETH="21")
    ds.referral("P_BOUNDS", "2012-10-15")
    both = {"6m": (2, 2), "12m": (4, 4)}
    expect("P_BOUNDS", None, None, inpatient_admissions=both, emergency_admissions=both)

    # Index on the 31st: 6m pre window starts 2012-09-30 (clamped from 31st), post ends 2013-09-30.
    ds.person("P_31ST")
    for day in ("2012-09-29", "2012-09-30", "2013-09-29", "2013-09-30"):
        ds.ae("P_31ST", day)
    ds.referral("P_31ST", "2013-03-31")
    expect("P_31ST", None, "post_window_covered", ae_attendances={"6m": (1, 1)})

    # Index on the 30th: pre window starts 2012-11-30, post ends 2013-11-30 (exclusive).
    ds.person("P_30TH")
    for day in ("2012-11-29", "2012-11-30", "2013-11-29", "2013-11-30"):
        ds.op("P_30TH", day)
    ds.referral("P_30TH", "2013-05-30")
    expect("P_30TH", None, "post_window_covered", outpatient_appointments={"6m": (1, 1)})

    # Index on the 29th: post window [2013-01-29, 2013-07-29).
    ds.person("P_29TH")
    for day in ("2012-07-28", "2012-07-29", "2013-07-28", "2013-07-29"):
        ds.op("P_29TH", day)
    ds.referral("P_29TH", "2013-01-29")
    expect("P_29TH", None, "post_window_covered", outpatient_appointments={"6m": (1, 1)})

    # Month-end clamping both ways, R = 2012-08-31: 6m pre starts 2012-02-29 (leap), post ends 2013-02-28.
    # Elective admissions: inpatient but not emergency.
    ds.person("P_CLAMP")
    for day in ("2012-02-28", "2012-02-29", "2013-02-27", "2013-02-28"):
        ds.apc("P_CLAMP", day, ADMIMETH="11")
    ds.referral("P_CLAMP", "2012-08-31")
    expect("P_CLAMP", None, None, inpatient_admissions={"6m": (1, 1), "12m": (2, 2)})

    # Leap-day index R = 2012-02-29: 6m window [2011-08-29, 2012-08-29); the 12m pre window would start
    # 2011-02-28, before coverage.
    ds.person("P_LEAP")
    for day in ("2011-08-28", "2011-08-29", "2012-08-28", "2012-08-29"):
        ds.ae("P_LEAP", day)
    ds.referral("P_LEAP", "2012-02-29")
    expect("P_LEAP", None, "pre_window_covered", ae_attendances={"6m": (1, 1)})

    # A three-episode spell counts once; a same-day admission at another provider is another admission.
    ds.person("P_SPELL")
    for order, start in enumerate(("2012-12-01", "2012-12-03", "2012-12-05"), start=1):
        ds.apc("P_SPELL", "2012-12-01", EPISTART=start, EPIEND=start, DISDATE="2012-12-07", EPIORDER=str(order))
    ds.apc("P_SPELL", "2012-12-01", PROCODE3="RHQ")
    ds.referral("P_SPELL", "2013-03-15")
    expect("P_SPELL", None, "post_window_covered", inpatient_admissions={"6m": (2, 0)},
           emergency_admissions={"6m": (2, 0)})

    # Patient classification and episode status. Before R: a day case (counts, elective), regular
    # attenders (CLASSPAT 3, 4) and mother-and-baby (5) do not count, nor an unfinished emergency
    # episode. After R: emergency 2A (ordinary), emergency 28 (day case), maternity 31 (inpatient only).
    ds.person("P_CLASSPAT")
    ds.apc("P_CLASSPAT", "2013-01-10", CLASSPAT="2", ADMIMETH="11")
    ds.apc("P_CLASSPAT", "2013-01-20", CLASSPAT="3", ADMIMETH="11")
    ds.apc("P_CLASSPAT", "2013-01-25", CLASSPAT="4", ADMIMETH="11")
    ds.apc("P_CLASSPAT", "2013-01-28", CLASSPAT="5", ADMIMETH="21")
    ds.apc("P_CLASSPAT", "2013-02-01", EPISTAT="1", EPIEND="", DISDATE="", ADMIMETH="21")
    ds.apc("P_CLASSPAT", "2013-04-01", ADMIMETH="2A")
    ds.apc("P_CLASSPAT", "2013-04-10", ADMIMETH="28", CLASSPAT="2")
    ds.apc("P_CLASSPAT", "2013-05-01", ADMIMETH="31")
    ds.referral("P_CLASSPAT", "2013-03-15")
    expect("P_CLASSPAT", None, "post_window_covered", inpatient_admissions={"6m": (1, 3)},
           emergency_admissions={"6m": (0, 2)})

    # A&E: planned follow-up (2) not counted, unplanned follow-up (3) counted; the same day at another
    # time is another attendance; same provider, day and time under two keys is one attendance.
    ds.person("P_AE")
    ds.ae("P_AE", "2013-01-05", AEATTENDCAT="2")
    ds.ae("P_AE", "2013-01-06", AEATTENDCAT="3")
    ds.ae("P_AE", "2013-02-01", ARRIVALTIME="10:00")
    ds.ae("P_AE", "2013-02-01", ARRIVALTIME="18:30")
    ds.ae("P_AE", "2013-02-10", ARRIVALTIME="09:00")
    ds.ae("P_AE", "2013-02-10", ARRIVALTIME="09:00")
    ds.ae("P_AE", "2013-02-20", ARRIVALTIME="09:00")
    ds.ae("P_AE", "2013-02-20", ARRIVALTIME="09:00", PROCODE3="RHQ")
    ds.referral("P_AE", "2013-03-15")
    expect("P_AE", None, "post_window_covered", ae_attendances={"6m": (6, 0)})

    # Outpatients: only ATTENDED 5 (seen) and 6 (late but seen) count.
    ds.person("P_OP")
    for code in ("2", "3", "4", "7", "0", "9", "5", "6"):
        ds.op("P_OP", "2013-02-01", ATTENDED=code)
    ds.op("P_OP", "2013-04-01", ATTENDED="6")
    ds.referral("P_OP", "2013-03-15")
    expect("P_OP", None, "post_window_covered", outpatient_appointments={"6m": (2, 1)})

    # Exact duplicate rows are counted as duplicates and dropped once.
    ds.person("P_DUP")
    ds.duplicate("apc", ds.apc("P_DUP", "2013-01-10"))
    ds.duplicate("ae", ds.ae("P_DUP", "2013-01-10"))
    ds.referral("P_DUP", "2013-03-15")
    expect("P_DUP", None, "post_window_covered", inpatient_admissions={"6m": (1, 0)},
           emergency_admissions={"6m": (1, 0)}, ae_attendances={"6m": (1, 0)})

    # Re-referred: the index date is the earliest referral; a funded onward referral on the second
    # referral makes the person funded.
    ds.person("P_REREF")
    ds.apc("P_REREF", "2013-04-01")
    ds.referral("P_REREF", "2013-01-10")
    second = ds.referral("P_REREF", "2013-05-01")
    ds.onward(second["REFERRAL_ID"], "2013-05-10", FUNDING="Funded")
    FUNDED.add("P_REREF")
    expect("P_REREF", None, "post_window_covered", inpatient_admissions={"6m": (0, 1)},
           emergency_admissions={"6m": (0, 1)})

    # Funded only when the funded onward referral is dated on or before the quarter's last day.
    ds.person("P_FUNDED")
    ds.onward(ds.referral("P_FUNDED", "2013-03-15")["REFERRAL_ID"], "2013-03-20", FUNDING="Funded")
    FUNDED.add("P_FUNDED")
    expect("P_FUNDED", None, "post_window_covered")
    ds.person("P_FUNDED_LATE")
    ds.onward(ds.referral("P_FUNDED_LATE", "2013-03-15")["REFERRAL_ID"], "2014-01-10", FUNDING="Funded")
    expect("P_FUNDED_LATE", None, "post_window_covered")
    ds.person("P_NONFUNDED")
    ds.onward(ds.referral("P_NONFUNDED", "2013-03-15")["REFERRAL_ID"], "2013-03-20", FUNDING="Non-funded")
    expect("P_NONFUNDED", None, "post_window_covered")

    # Not linked: referred, but not in persons.csv.
    ds.referral("T_NOT_LINKED", "2013-03-15")
    expect("T_NOT_LINKED", "linked", "linked")

    # Death: on the last post-window day (R + 6m - 1) excludes; the day after does not.
    ds.person("P_DIES_IN", DATE_OF_DEATH="2013-09-14")
    ds.referral("P_DIES_IN", "2013-03-15")
    expect("P_DIES_IN", "alive", "post_window_covered")
    ds.person("P_DIES_AFTER", DATE_OF_DEATH="2013-09-15")
    ds.referral("P_DIES_AFTER", "2013-03-15")
    expect("P_DIES_AFTER", None, "post_window_covered")

    # Deregistration: must still be registered on the last post-window day.
    ds.person("P_DEREG", REGISTERED_TO="2013-09-13")
    ds.referral("P_DEREG", "2013-03-15")
    expect("P_DEREG", "registered", "post_window_covered")
    ds.person("P_DEREG_OK", REGISTERED_TO="2013-09-14")
    ds.referral("P_DEREG_OK", "2013-03-15")
    expect("P_DEREG_OK", None, "post_window_covered")

    # Registration must start on or before the pre window's first day (R - 6m = 2012-09-15).
    ds.person("P_LATE_REG", REGISTERED_FROM="2012-09-16")
    ds.referral("P_LATE_REG", "2013-03-15")
    expect("P_LATE_REG", "registered", "post_window_covered")
    ds.person("P_REG_EXACT", REGISTERED_FROM="2012-09-15")
    ds.referral("P_REG_EXACT", "2013-03-15")
    expect("P_REG_EXACT", None, "post_window_covered")

    # Pre window must start on or after coverage_start (2011-04-01).
    ds.person("P_PRE_SHORT")
    ds.referral("P_PRE_SHORT", "2011-09-30")
    expect("P_PRE_SHORT", "pre_window_covered", "pre_window_covered")
    ds.person("P_PRE_EXACT")
    ds.referral("P_PRE_EXACT", "2011-10-01")
    expect("P_PRE_EXACT", None, "pre_window_covered")

    # Post window's last day must be on or before the cutoff (2013-12-31).
    ds.person("P_POST_EXACT")
    ds.referral("P_POST_EXACT", "2013-07-01")
    expect("P_POST_EXACT", None, "post_window_covered")
    ds.person("P_POST_SHORT")
    ds.referral("P_POST_SHORT", "2013-07-02")
    expect("P_POST_SHORT", "post_window_covered", "post_window_covered")

    # Not referred in this analysis: a referral after the quarter, a referral to another programme,
    # and a never-referred person.
    ds.person("P_LATE_REFERRAL")
    ds.referral("P_LATE_REFERRAL", "2014-01-05")
    ds.person("P_OTHER_PROGRAMME")
    ds.referral("P_OTHER_PROGRAMME", "2013-03-15", PROGRAMME="MH")
    ds.person("P_NEVER")
    ds.apc("P_NEVER", "2013-01-01")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from conftest import Run
    from pipelines.cli import main

    root = tmp_path_factory.mktemp("rules")
    ds = DataSet(root / "data")
    build(ds)
    ds.write()
    code = main(["run", "--quarter", "2013Q4", "--data-dir", str(root / "data"), "--out", str(root / "out"),
                 "--warehouse", str(root / "warehouse.duckdb")])
    result = Run(code, "", "", root / "out" / "LTC" / "2013Q4", root / "warehouse.duckdb")
    assert code == 0
    return result


def test_referred_persons_are_exactly_the_programme_referrals_by_quarter_end(run):
    referred = set(run.query("SELECT person_id FROM analysis.referred_persons")["person_id"])
    assert referred == REFERRED


def test_re_referred_index_date_is_earliest_referral(run):
    rows = run.query("SELECT index_date, n_referrals FROM analysis.referred_persons WHERE person_id = 'P_REREF'")
    assert str(rows["index_date"][0]) == "2013-01-10" and rows["n_referrals"][0] == 2


@pytest.mark.parametrize("cohort", ["6m", "12m"])
def test_each_person_leaves_the_cohort_at_the_expected_step(run, cohort):
    steps = run.query(f"SELECT * FROM analysis.cohort_steps WHERE cohort = '{cohort}'")
    for row in steps.iter_rows(named=True):
        passed = [row[s] for s in STEPS[1:]]
        first_failed = next((s for s, ok in zip(STEPS[1:], passed) if not ok), None)
        assert first_failed == DROPPED_AT[(cohort, row["person_id"])], row["person_id"]


@pytest.mark.parametrize("cohort", ["6m", "12m"])
def test_attrition_table(run, cohort):
    dropped = defaultdict(int)
    for (c, _), step in DROPPED_AT.items():
        if c == cohort and step:
            dropped[step] += 1
    expected, remaining = [], len(REFERRED)
    for step in STEPS:
        remaining -= dropped[step]
        expected.append(remaining)
    attrition = run.table("attrition").filter(cohort=cohort)
    assert attrition["step"].to_list() == list(STEPS)
    assert attrition["n"].to_list() == expected


@pytest.mark.parametrize("cohort", ["6m", "12m"])
def test_counts_per_patient(run, cohort):
    members = {p for (c, p), step in DROPPED_AT.items() if c == cohort and step is None}
    rows = run.query(f"SELECT person_id, measure, before, after FROM analysis.hospital_use_by_patient "
                     f"WHERE cohort = '{cohort}'")
    got = {(r["person_id"], r["measure"]): (r["before"], r["after"]) for r in rows.iter_rows(named=True)}
    assert {p for p, _ in got} == members
    for person in members:
        for measure in MEASURES:
            assert got[(person, measure)] == COUNTS.get((cohort, person, measure), (0, 0)), (person, measure)


def test_funded_subgroup(run):
    funded = set(run.query("SELECT DISTINCT person_id FROM analysis.cohort_members WHERE funded")["person_id"])
    assert funded == FUNDED


def test_hospital_use_means_follow_from_per_patient_counts(run):
    table = run.table("hospital_use")
    for cohort in ("6m", "12m"):
        members = sorted(p for (c, p), step in DROPPED_AT.items() if c == cohort and step is None)
        for group, people in (("all", members), ("funded", [p for p in members if p in FUNDED])):
            for measure in MEASURES:
                row = table.filter(cohort=cohort, group=group, measure=measure).row(0, named=True)
                assert row["n_patients"] == len(people)
                if not people:
                    assert row["mean_before"] is None and row["pct_change"] is None
                    continue
                before = sum(COUNTS.get((cohort, p, measure), (0, 0))[0] for p in people) / len(people)
                after = sum(COUNTS.get((cohort, p, measure), (0, 0))[1] for p in people) / len(people)
                assert row["mean_before"] == pytest.approx(before, abs=1e-12)
                assert row["mean_after"] == pytest.approx(after, abs=1e-12)
                assert row["change"] == pytest.approx(after - before, abs=1e-12)
                if before == 0:
                    assert row["pct_change"] is None
                else:
                    assert row["pct_change"] == pytest.approx(100 * (after - before) / before, abs=1e-9)


def test_duplicates_reconcile(run):
    recon = run.table("reconciliation")
    apc = recon.filter(file="hes/2013Q4/apc.csv").row(0, named=True)
    assert apc["rows_duplicate"] == 1
    assert apc["rows_read"] == apc["rows_accepted"] + apc["rows_quarantined"] + apc["rows_duplicate"]
    assert recon.filter(file="hes/2013Q4/ae.csv")["rows_duplicate"][0] == 1
