"""ADR 0017: who is matched within which stratum, and the covariates measured at the index date.

Rules: sql/analysis/matching_population.sql (strata = referral week, Monday to Sunday, cut at the quarter's
start; a candidate is measured at its stratum's first index date) and sql/macros/covariates_at.sql (counts
of each measure over [d - W months, d) for W = 12, 6, 3, 1, clamped to the month's end; age in the year of d),
through analysis.matching_covariates and analysis.matched_covariates. One patient per case.
"""
from __future__ import annotations

import pytest

# Treated patients (index dates) and the stratum each must land in.
STRATA = {
    "T-monday": ("2013-03-25", "2013-03-25"),
    "T-sunday-same-week": ("2013-03-31", "2013-03-25"),
    "T-monday-last-day-of-q4": ("2012-12-31", "2012-12-31"),
    "T-wednesday-week-cut-at-q1-start": ("2013-01-02", "2013-01-01"),
}
# A&E attendances of T-sunday-same-week (R = 2013-03-31), and which windows count them.
EDGE_EVENTS = {
    "2013-03-31": (),  # on R: the after window
    "2013-03-30": ("1m", "3m", "6m", "12m"),
    "2013-02-28": ("1m", "3m", "6m", "12m"),  # R - 1 month clamps 31 February to the 28th: first day
    "2013-02-27": ("3m", "6m", "12m"),
    "2012-12-31": ("3m", "6m", "12m"),  # R - 3 months, clamped from 31 to 31 December: first day of the window
    "2012-12-30": ("6m", "12m"),
    "2012-09-30": ("6m", "12m"),  # R - 6 months clamps 31 September to the 30th: first day
    "2012-09-29": ("12m",),
    "2012-03-31": ("12m",),  # R - 12 months: first day
    "2012-03-30": (),
}


@pytest.fixture(scope="module")
def population(module_wh):
    wh = module_wh
    for person, (index_date, _) in STRATA.items():
        wh.person(person, YEAR_OF_BIRTH="1950")
        wh.referral(person, index_date)
    for day in EDGE_EVENTS:
        wh.ae("T-sunday-same-week", day)
    wh.person("C-candidate", YEAR_OF_BIRTH="1960")
    wh.ae("C-candidate", "2013-03-24")  # the day before its stratum's first index date: counted
    wh.ae("C-candidate", "2013-03-26")  # after it: not counted, although before a later treated's index date
    wh.person("C-referred-elsewhere")
    wh.referral("C-referred-elsewhere", "2013-11-20", PROGRAMME="MH")  # referred: never a candidate
    wh.build("analysis.matching_covariates")
    return wh


@pytest.mark.parametrize("person", STRATA)
def test_a_treated_patient_is_in_the_stratum_of_their_referral_week(population, person):
    index_date, stratum = STRATA[person]
    assert population.select("SELECT stratum_start, index_date, measured_on FROM analysis.matching_population "
                             "WHERE cohort = '6m' AND person_id = ?", person) == [(stratum, index_date, index_date)]


def test_a_candidate_is_measured_at_its_strata_first_index_date(population):
    rows = population.select("SELECT stratum_start, measured_on FROM analysis.matching_population "
                             "WHERE cohort = '6m' AND person_id = 'C-candidate' ORDER BY stratum_start")
    assert rows == [("2012-12-31", "2012-12-31"), ("2013-01-01", "2013-01-02"), ("2013-03-25", "2013-03-25")]
    assert population.select("SELECT count(*) FROM analysis.matching_population "
                             "WHERE person_id = 'C-referred-elsewhere'") == [(0,)]


@pytest.mark.parametrize("window", ["1m", "3m", "6m", "12m"])
def test_history_counts_are_taken_over_the_months_before_the_index_date(population, window):
    expected = sum(window in windows for windows in EDGE_EVENTS.values())
    assert population.select(f"SELECT ae_attendances_{window} FROM analysis.matching_covariates "
                             "WHERE cohort = '6m' AND person_id = 'T-sunday-same-week'") == [(expected,)]


def test_a_candidate_counts_only_events_before_the_date_it_is_measured_at(population):
    assert population.select("SELECT ae_attendances_3m, age FROM analysis.matching_covariates WHERE cohort = '6m' "
                             "AND person_id = 'C-candidate' AND stratum_start = '2013-03-25'") == [(1, 53)]


def test_matched_members_are_measured_again_at_the_index_date_they_take(population):
    """A control takes its treated person's index date: analysis.matched_covariates counts its history there."""
    wh = population
    wh.con.execute("""
        CREATE OR REPLACE TABLE analysis.matched_sets AS
        SELECT * FROM (VALUES
            ('primary', '6m', 0, 'treated', 'T-sunday-same-week', 1.0, DATE '2013-03-31', DATE '2013-03-31'),
            ('primary', '6m', 0, 'control', 'C-candidate', 1.0, DATE '2013-03-31', DATE '2013-03-31'))
            AS t(setting, cohort, set_id, role, person_id, weight, index_date, measured_on)""")
    wh.build("analysis.matched_covariates")
    assert wh.select("SELECT role, ae_attendances_3m, ae_attendances_12m FROM analysis.matched_covariates "
                     "ORDER BY role DESC") == [("treated", 4, 8), ("control", 2, 2)]
