"""ADR 0009 windows: for W = 6 and 12 months and index date R, before = [R - W months, R) and
after = [R, R + W months); month arithmetic clamps to the month's end. Rules: sql/analysis/cohort_windows.sql
and the window columns of sql/analysis/cohort_steps.sql (pre_window_start = R - W, post_window_end = R + W,
exclusive). One referred patient per case (the case id is the patient); the answer is their window bounds.
Counting events at the window edges is in test_hospital_use.py."""
from __future__ import annotations

import calendar
import datetime as dt

import pytest

CASES = {
    # id: (R, cohort, pre_window_start, post_window_end)
    "R-on-the-15th-6m": ("2012-10-15", "6m", "2012-04-15", "2013-04-15"),
    "R-on-the-15th-12m": ("2012-10-15", "12m", "2011-10-15", "2013-10-15"),
    "R-on-the-31st-clamps-to-30th-both-ends-6m": ("2013-03-31", "6m", "2012-09-30", "2013-09-30"),
    "R-on-the-31st-12m": ("2013-03-31", "12m", "2012-03-31", "2014-03-31"),
    "R-on-the-30th-6m": ("2013-05-30", "6m", "2012-11-30", "2013-11-30"),
    "R-on-the-29th-6m": ("2013-01-29", "6m", "2012-07-29", "2013-07-29"),
    "R-on-the-29th-pre-clamps-to-28-february-6m": ("2013-08-29", "6m", "2013-02-28", "2014-02-28"),
    "R-on-the-31st-pre-clamps-to-28-february-6m": ("2013-08-31", "6m", "2013-02-28", "2014-02-28"),
    "R-on-the-31st-pre-clamps-to-leap-day-post-to-28-february-6m": ("2012-08-31", "6m", "2012-02-29", "2013-02-28"),
    "R-on-the-31st-12m-no-clamping": ("2012-08-31", "12m", "2011-08-31", "2013-08-31"),
    "R-on-leap-day-6m": ("2012-02-29", "6m", "2011-08-29", "2012-08-29"),
    "R-on-leap-day-12m-clamps-to-28-february": ("2012-02-29", "12m", "2011-02-28", "2013-02-28"),
    "R-on-31-december-6m-clamps-to-30-june": ("2012-12-31", "6m", "2012-06-30", "2013-06-30"),
    "R-on-31-january-6m": ("2013-01-31", "6m", "2012-07-31", "2013-07-31"),
    "R-on-1-january-12m-crosses-years": ("2013-01-01", "12m", "2012-01-01", "2014-01-01"),
}


@pytest.fixture(scope="module")
def windows(module_wh):
    for person, (index_date, *_) in CASES.items():
        module_wh.person(person)
        module_wh.referral(person, index_date)
    module_wh.build("analysis.cohort_steps")
    rows = module_wh.select("SELECT person_id, cohort, index_date, pre_window_start, post_window_end "
                            "FROM analysis.cohort_steps")
    return {(person, cohort): tuple(rest) for person, cohort, *rest in rows}


@pytest.mark.parametrize("person", CASES)
def test_window_bounds_of_one_patient(windows, person):
    index_date, cohort, pre_start, post_end = CASES[person]
    assert windows[(person, cohort)] == (index_date, pre_start, post_end)


def test_the_two_cohorts_are_6_and_12_months(wh):
    wh.load(())  # the vocabulary's reference tables
    assert wh.select("SELECT cohort, months, cohort_order FROM analysis.cohort_windows ORDER BY cohort_order") == [
        ("6m", 6, 1), ("12m", 12, 2)]


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months, clamped to the end of the target month: the rule as the contract states it."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def test_every_index_date_of_four_years_gets_the_calendar_windows(wh):
    days = [dt.date(2011, 1, 1) + dt.timedelta(n) for n in range(4 * 365 + 1)]  # 2011-01-01 .. 2014-12-31
    wh.parameters(quarter_end="2014-12-31")
    for day in days:
        wh.referral(f"P{day:%Y%m%d}", day.isoformat())
    wh.build("analysis.cohort_steps")
    got = {(r[0], r[1]): (r[2], r[3]) for r in wh.con.execute(
        "SELECT index_date, months, pre_window_start, post_window_end FROM analysis.cohort_steps").fetchall()}
    expected = {(d, w): (add_months(d, -w), add_months(d, w)) for d in days for w in (6, 12)}
    assert got == expected
