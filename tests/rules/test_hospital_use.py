"""ADR 0009 counting in windows and Table 1. Rules: sql/core/hospital_events.sql,
sql/analysis/hospital_use_by_patient.sql (each cohort member's count of each measure before = [R - W, R) and
after = [R, R + W)) and sql/analysis/hospital_use.sql (means per patient, all members and the funded subgroup).

One patient per case (the case id is the patient): known events, the answer is their (before, after) count of
each measure in each cohort they are a member of (measures not named: (0, 0)). HES coverage 2011-04-01 to
2013-12-31, quarter 2013Q4. The counting rules themselves are in test_<measure>.py; here they meet the windows.
"""
from __future__ import annotations

import pytest

MEASURES = ("inpatient_admissions", "emergency_admissions", "ae_attendances", "outpatient_appointments")
CASES: dict[str, tuple] = {}


def case(expected: dict):
    """Register `write(wh, person)` as a case; `expected`: cohort -> measure -> (before, after)."""
    def register(write):
        CASES[write.__name__.replace("_", "-")] = (write, expected)
        return write
    return register


BOTH = {"6m": (2, 2), "12m": (4, 4)}


@case({"6m": {"inpatient_admissions": BOTH["6m"], "emergency_admissions": BOTH["6m"]},
       "12m": {"inpatient_admissions": BOTH["12m"], "emergency_admissions": BOTH["12m"]}})
def edges_R_minus_W_minus_1_to_R_plus_W(wh, p):
    # R = 2012-10-15: emergency admissions on R-12m-1, R-12m, R-6m-1, R-6m, R-1, R, R+6m-1, R+6m, R+12m-1,
    # R+12m. 6m: before {R-6m, R-1}, after {R, R+6m-1}; 12m: before {R-12m .. R-1}, after {R .. R+12m-1}.
    wh.person(p)
    for day in ("2011-10-14", "2011-10-15", "2012-04-14", "2012-04-15", "2012-10-14", "2012-10-15",
                "2013-04-14", "2013-04-15", "2013-10-14", "2013-10-15"):
        wh.apc(p, day, ADMIMETH="21")
    wh.referral(p, "2012-10-15")


@case({"6m": {"ae_attendances": (1, 1)}})
def R_on_the_31st_windows_clamp_to_the_30th(wh, p):
    # R = 2013-03-31: 6m before starts 2012-09-30, after ends 2013-09-30 (exclusive); 12m runs past the cutoff.
    wh.person(p)
    for day in ("2012-09-29", "2012-09-30", "2013-09-29", "2013-09-30"):
        wh.ae(p, day)
    wh.referral(p, "2013-03-31")


@case({"6m": {"outpatient_appointments": (1, 1)}})
def R_on_the_30th(wh, p):
    # R = 2013-05-30: before starts 2012-11-30, after ends 2013-11-30.
    wh.person(p)
    for day in ("2012-11-29", "2012-11-30", "2013-11-29", "2013-11-30"):
        wh.op(p, day)
    wh.referral(p, "2013-05-30")


@case({"6m": {"outpatient_appointments": (1, 1)}})
def R_on_the_29th(wh, p):
    # R = 2013-01-29: before [2012-07-29, R), after [R, 2013-07-29).
    wh.person(p)
    for day in ("2012-07-28", "2012-07-29", "2013-07-28", "2013-07-29"):
        wh.op(p, day)
    wh.referral(p, "2013-01-29")


@case({"6m": {"inpatient_admissions": (1, 1)}, "12m": {"inpatient_admissions": (2, 2)}})
def month_end_clamping_to_a_leap_day_and_to_28_february(wh, p):
    # R = 2012-08-31: 6m before starts 2012-02-29 (leap day), after ends 2013-02-28; elective admissions are
    # inpatient only.
    wh.person(p)
    for day in ("2012-02-28", "2012-02-29", "2013-02-27", "2013-02-28"):
        wh.apc(p, day, ADMIMETH="11")
    wh.referral(p, "2012-08-31")


@case({"6m": {"ae_attendances": (1, 1)}})
def leap_day_index(wh, p):
    # R = 2012-02-29: 6m [2011-08-29, 2012-08-29); the 12m before window would start 2011-02-28, before coverage.
    wh.person(p)
    for day in ("2011-08-28", "2011-08-29", "2012-08-28", "2012-08-29"):
        wh.ae(p, day)
    wh.referral(p, "2012-02-29")


@case({"6m": {"inpatient_admissions": (2, 0), "emergency_admissions": (2, 0)}})
def spell_of_three_episodes_and_same_day_at_another_provider(wh, p):
    wh.person(p)
    for order, start in enumerate(("2012-12-01", "2012-12-03", "2012-12-05"), start=1):
        wh.apc(p, "2012-12-01", EPISTART=start, EPIEND=start, DISDATE="2012-12-07", EPIORDER=str(order))
    wh.apc(p, "2012-12-01", PROCODE3="RHQ")
    wh.referral(p, "2013-03-15")


@case({"6m": {"inpatient_admissions": (1, 3), "emergency_admissions": (0, 2)}})
def classpat_epistat_and_admission_methods(wh, p):
    # Before R: a day case (elective: counts), CLASSPAT 3, 4, 5 and an unfinished emergency episode (do not).
    # After R: emergency 2A (ordinary), emergency 28 (day case), maternity 31 (inpatient only).
    wh.person(p)
    wh.apc(p, "2013-01-10", CLASSPAT="2", ADMIMETH="11")
    wh.apc(p, "2013-01-20", CLASSPAT="3", ADMIMETH="11")
    wh.apc(p, "2013-01-25", CLASSPAT="4", ADMIMETH="11")
    wh.apc(p, "2013-01-28", CLASSPAT="5", ADMIMETH="21")
    wh.apc(p, "2013-02-01", EPISTAT="1", EPIEND="", DISDATE="", ADMIMETH="21")
    wh.apc(p, "2013-04-01", ADMIMETH="2A")
    wh.apc(p, "2013-04-10", ADMIMETH="28", CLASSPAT="2")
    wh.apc(p, "2013-05-01", ADMIMETH="31")
    wh.referral(p, "2013-03-15")


@case({"6m": {"ae_attendances": (6, 0)}})
def ae_categories_times_and_providers(wh, p):
    wh.person(p)
    wh.ae(p, "2013-01-05", AEATTENDCAT="2")
    wh.ae(p, "2013-01-06", AEATTENDCAT="3")
    wh.ae(p, "2013-02-01", ARRIVALTIME="10:00")
    wh.ae(p, "2013-02-01", ARRIVALTIME="18:30")
    wh.ae(p, "2013-02-10", ARRIVALTIME="09:00")
    wh.ae(p, "2013-02-10", ARRIVALTIME="09:00")
    wh.ae(p, "2013-02-20", ARRIVALTIME="09:00")
    wh.ae(p, "2013-02-20", ARRIVALTIME="09:00", PROCODE3="RHQ")
    wh.referral(p, "2013-03-15")


@case({"6m": {"outpatient_appointments": (2, 1)}})
def only_attended_5_and_6_appointments(wh, p):
    wh.person(p)
    for code in ("2", "3", "4", "7", "0", "9", "5", "6"):
        wh.op(p, "2013-02-01", ATTENDED=code)
    wh.op(p, "2013-04-01", ATTENDED="6")
    wh.referral(p, "2013-03-15")


@case({"6m": {"inpatient_admissions": (1, 0), "emergency_admissions": (1, 0), "ae_attendances": (1, 0)}})
def exact_duplicate_rows_count_once(wh, p):
    wh.person(p)
    wh.duplicate("apc", wh.apc(p, "2013-01-10"))
    wh.duplicate("ae", wh.ae(p, "2013-01-10"))
    wh.referral(p, "2013-03-15")


@case({"6m": {"inpatient_admissions": (0, 1), "emergency_admissions": (0, 1)}})
def re_referred_windows_start_at_the_earliest_referral(wh, p):
    wh.person(p)
    wh.apc(p, "2013-04-01")  # after R = 2013-01-10, before the second referral
    wh.referral(p, "2013-01-10")
    wh.referral(p, "2013-05-01")


@case({"6m": {"emergency_admissions": (1, 1), "inpatient_admissions": (1, 1)}})
def event_on_R_is_after_and_the_day_before_is_before(wh, p):
    wh.person(p)
    wh.apc(p, "2013-03-14")
    wh.apc(p, "2013-03-15")
    wh.referral(p, "2013-03-15")


@case({"6m": {}, "12m": {}})
def member_with_no_events_counts_zero(wh, p):
    wh.person(p)
    wh.referral(p, "2012-10-15")


@case({})
def events_of_a_person_who_is_not_a_member_are_not_counted(wh, p):
    wh.person(p, DATE_OF_DEATH="2013-04-01")
    wh.apc(p, "2013-03-20")
    wh.referral(p, "2013-03-15")


@case({})
def never_referred_person(wh, p):
    wh.person(p)
    wh.apc(p, "2013-03-20")


@pytest.fixture(scope="module")
def counts(module_wh):
    for person, (write, _) in CASES.items():
        write(module_wh, person)
    module_wh.build("analysis.hospital_use_by_patient")
    got: dict[str, dict] = {}
    for cohort, person, measure, before, after in module_wh.select(
            "SELECT cohort, person_id, measure, before, after FROM analysis.hospital_use_by_patient"):
        got.setdefault(person, {}).setdefault(cohort, {})[measure] = (before, after)
    return got


@pytest.mark.parametrize("person", CASES)
def test_counts_before_and_after_of_one_patient(counts, person):
    expected = {cohort: {m: per_measure.get(m, (0, 0)) for m in MEASURES}
                for cohort, per_measure in CASES[person][1].items()}
    assert counts.get(person, {}) == expected


def test_hospital_use_means_per_patient_for_all_and_funded(wh):
    # Three 6m-only members (R = 2013-03-15), A funded. Emergency (so also inpatient) admissions: A 2 before,
    # 1 after; B 1 before; C none. A&E: A 1 after only. Outpatients: none. Nobody is in the 12m cohort.
    for person in "ABC":
        wh.person(person)
    a = wh.referral("A", "2013-03-15")["REFERRAL_ID"]
    wh.onward(a, "2013-03-20", FUNDING="Funded")
    wh.referral("B", "2013-03-15")
    wh.referral("C", "2013-03-15")
    for day in ("2013-01-10", "2013-02-10", "2013-04-10"):
        wh.apc("A", day)
    wh.apc("B", "2013-01-20")
    wh.ae("A", "2013-05-01")
    wh.build("analysis.hospital_use")
    got = wh.select('SELECT cohort, "group", measure, n_patients, round(mean_before, 6), round(mean_after, 6), '
                    'round(change, 6), round(pct_change, 6) FROM analysis.hospital_use')
    admissions = {
        ("6m", "all"): (3, 1.0, 0.333333, -0.666667, -66.666667),
        ("6m", "funded"): (1, 2.0, 1.0, -1.0, -50.0),
    }
    ae = {("6m", "all"): (3, 0.0, 0.333333, 0.333333, None), ("6m", "funded"): (1, 0.0, 1.0, 1.0, None)}
    expected = []
    for cohort in ("6m", "12m"):
        for group in ("all", "funded"):
            for measure in MEASURES:
                if cohort == "12m":
                    row = (0, None, None, None, None)  # an empty group: n_patients 0, means blank
                elif measure in ("inpatient_admissions", "emergency_admissions"):
                    row = admissions[(cohort, group)]
                elif measure == "ae_attendances":
                    row = ae[(cohort, group)]  # pct_change blank when mean_before is 0
                else:
                    row = (3 if group == "all" else 1, 0.0, 0.0, 0.0, None)
                expected.append((cohort, group, measure, *row))
    assert got == expected
