"""ADR 0018 and 0019: the economics rules in SQL, on hand-written rows with known answers.

- sql/analysis/wellbeing_progress.sql: among referrals with a follow-up and at least one measure scored at
  both assessments, those progressing on at least 1 (4) measures;
- sql/analysis/unit_costs.sql: one price year (the financial year of the quarter's last day, capped at the
  index's latest year), each item's cost of the latest year on or before it, re-priced with the index;
- sql/analysis/programme_cost.sql: cost to date pro rata by whole months of the current financial year, and
  blank when a financial year since the first referral has no cost;
- sql/analysis/referred_to_date.sql: referred persons, and those with an index date in the last four quarters;
- sql/analysis/provider_shares.sql … sroi.sql: volunteering, welfare and leverage shared between programmes by
  each provider's Activity rows, valued and adjusted as the SROI guide says.
Quarter 2013Q4 (last day 2013-12-31), programme LTC unless a test says otherwise.
"""
from __future__ import annotations

import pytest

B, R = "Baseline", "Review"
SCORES = ("FEELING_POSITIVE", "LIFESTYLE", "LOOKING_AFTER_YOURSELF", "MANAGING_SYMPTOMS", "WORK_VOLUNTEERING_SOCIAL",
          "MONEY", "WHERE_YOU_LIVE", "FAMILY_FRIENDS")


def table(wh, name: str, columns: str, rows: list[tuple]) -> None:
    """Create reference/staged table `name` with `columns` ('a VARCHAR, b DOUBLE') and `rows`."""
    wh.con.execute(f"CREATE OR REPLACE TABLE {name} ({columns})")
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        wh.con.executemany(f"INSERT INTO {name} VALUES ({marks})", [list(r) for r in rows])


def scores(progress: int, scored: int = 8, base: int = 2) -> tuple[dict, dict]:
    """Baseline and review scores on the first `scored` measures, the first `progress` of them higher at review."""
    baseline = {m: str(base) for m in SCORES[:scored]}
    review = {m: str(base + 1 if i < progress else base) for i, m in enumerate(SCORES[:scored])}
    return baseline, review


# -- well-being progress across measures --------------------------------------------------------------------

PROGRESS_CASES = {
    # referral: (measures progressed, measures scored at both, has a review in the window)
    "five-measures": (5, 8, True),
    "exactly-four-measures": (4, 8, True),
    "three-measures": (3, 8, True),
    "no-measure": (0, 8, True),
    "baseline-only": (0, 8, False),
}


def test_progress_on_at_least_one_and_at_least_four_measures(wh):
    for referral, (progress, scored, reviewed) in PROGRESS_CASES.items():
        wh.referral("P1", "2013-01-01", REFERRAL_ID=referral)
        baseline, review = scores(progress, scored)
        wh.assessment(referral, "2013-01-10", B, **baseline)
        if reviewed:
            wh.assessment(referral, "2013-04-10", R, **review)
    # a review with no measure scored at both assessments does not count as a follow-up
    wh.referral("P1", "2013-01-01", REFERRAL_ID="nothing-scored-at-both")
    wh.assessment("nothing-scored-at-both", "2013-01-10", B, FEELING_POSITIVE="2")
    wh.assessment("nothing-scored-at-both", "2013-04-10", R, LIFESTYLE="4")
    wh.build("analysis.wellbeing_progress")
    assert wh.select("SELECT measures_progressed, n_followup, n, pct FROM analysis.wellbeing_progress "
                     "ORDER BY measures_progressed_order") == [("at_least_1", 4, 3, 75.0), ("at_least_4", 4, 2, 50.0)]


def test_progress_with_no_follow_up_is_blank_not_zero_percent(wh):
    wh.referral("P1", "2013-01-01", REFERRAL_ID="R1")
    wh.assessment("R1", "2013-01-10", B, FEELING_POSITIVE="2")
    wh.build("analysis.wellbeing_progress")
    assert wh.select("SELECT measures_progressed, n_followup, n, pct FROM analysis.wellbeing_progress "
                     "ORDER BY measures_progressed_order") == [("at_least_1", 0, 0, None), ("at_least_4", 0, 0, None)]


def test_a_lower_review_score_is_not_progress(wh):
    wh.referral("P1", "2013-01-01", REFERRAL_ID="R1")
    wh.assessment("R1", "2013-01-10", B, FEELING_POSITIVE="4", LIFESTYLE="2")
    wh.assessment("R1", "2013-04-10", R, FEELING_POSITIVE="3", LIFESTYLE="2")
    wh.build("analysis.wellbeing_progress")
    assert wh.select("SELECT n_followup, n FROM analysis.wellbeing_progress") == [(1, 0), (1, 0)]


# -- unit costs at one price year ----------------------------------------------------------------------------

ITEMS = ("emergency_admissions", "other_admissions", "ae_attendances", "outpatient_appointments")
INDEX = [("2012/13", 100.0), ("2013/14", 102.0), ("2014/15", 104.0), ("2016/17", 110.0)]


def unit_cost_tables(wh, costs: list[tuple[str, str, float]], index=INDEX) -> None:
    table(wh, "reference.unit_costs", "item VARCHAR, financial_year VARCHAR, cost_gbp DOUBLE, currency VARCHAR, "
          "status VARCHAR, source VARCHAR, licence VARCHAR, notes VARCHAR",
          [(i, y, c, "x", "published", "s", "OGL", None) for i, y, c in costs])
    table(wh, "reference.price_index", "financial_year VARCHAR, index_value DOUBLE, index_name VARCHAR, "
          "status VARCHAR, source VARCHAR, licence VARCHAR, notes VARCHAR",
          [(y, v, "idx", "published", "s", "OGL", None) for y, v in index])


def test_each_item_takes_its_latest_cost_on_or_before_the_price_year_repriced(wh):
    unit_cost_tables(wh, [("emergency_admissions", "2012/13", 1000.0), ("emergency_admissions", "2013/14", 1500.0),
                          ("emergency_admissions", "2014/15", 9999.0),  # after the price year: not used
                          ("other_admissions", "2012/13", 500.0),  # an earlier year, re-priced 102/100
                          ("ae_attendances", "2016/17", 110.0),  # only later years: the earliest, 102/110
                          ("outpatient_appointments", "2013/14", 100.0)])
    wh.build("analysis.unit_costs")  # 2013Q4 ends on 2013-12-31: price year 2013/14
    assert wh.select("SELECT item, price_year, cost_year, round(unit_cost_gbp, 6) FROM analysis.unit_costs "
                     "ORDER BY item") == [
        ("ae_attendances", "2013/14", "2016/17", 102.0),
        ("emergency_admissions", "2013/14", "2013/14", 1500.0),
        ("other_admissions", "2013/14", "2012/13", 510.0),
        ("outpatient_appointments", "2013/14", "2013/14", 100.0),
    ]


@pytest.mark.parametrize("quarter_end,price_year", [("2014-03-31", "2013/14"), ("2014-06-30", "2014/15"),
                                                    ("2019-12-31", "2016/17")],
                         ids=["march-is-the-old-year", "april-starts-a-new-year", "capped-at-the-index"])
def test_the_price_year_is_the_financial_year_of_the_quarters_last_day(wh, quarter_end, price_year):
    wh.parameters(quarter_end=quarter_end)
    unit_cost_tables(wh, [(i, "2013/14", 100.0) for i in ITEMS])
    wh.build("analysis.unit_costs")
    assert {r[0] for r in wh.select("SELECT price_year FROM analysis.unit_costs")} == {price_year}


def test_a_cost_year_missing_from_the_index_leaves_the_unit_cost_blank(wh):
    unit_cost_tables(wh, [(i, "2015/16", 100.0) for i in ITEMS])
    wh.build("analysis.unit_costs")
    assert wh.select("SELECT DISTINCT unit_cost_gbp FROM analysis.unit_costs") == [(None,)]


# -- programme cost -----------------------------------------------------------------------------------------

def programme_costs(wh, rows: list[tuple[str, str, float]]) -> None:
    table(wh, "reference.programme_costs", "programme VARCHAR, financial_year VARCHAR, cost_gbp DOUBLE, "
          "status VARCHAR, source VARCHAR, licence VARCHAR, notes VARCHAR",
          [(p, y, c, "derived", "s", "OGL", None) for p, y, c in rows])


@pytest.mark.parametrize("quarter_end,to_date,annual", [
    ("2013-06-30", 120_000 + 120_000 * 3 / 12, 120_000),  # 3 months of 2013/14
    ("2013-12-31", 120_000 + 120_000 * 9 / 12, 120_000),
    ("2014-03-31", 240_000, 120_000),  # the whole year
    ("2014-06-30", 240_000 + 60_000 * 3 / 12, 60_000),  # a new year starts in April
], ids=["june", "december", "march", "june-next-year"])
def test_cost_to_date_counts_the_current_year_by_whole_months(wh, quarter_end, to_date, annual):
    wh.parameters(quarter_end=quarter_end)
    wh.referral("P1", "2012-09-03")
    programme_costs(wh, [("LTC", "2012/13", 120_000.0), ("LTC", "2013/14", 120_000.0), ("LTC", "2014/15", 60_000.0),
                         ("MH", "2013/14", 1_000_000.0)])
    wh.build("analysis.programme_cost")
    assert wh.select("SELECT cost_to_date_gbp, annual_cost_gbp, years_without_cost FROM analysis.programme_cost") == [
        (pytest.approx(to_date), annual, None)]


def test_a_year_without_a_cost_leaves_cost_to_date_blank_and_names_the_year(wh):
    wh.referral("P1", "2012-09-03")
    programme_costs(wh, [("LTC", "2013/14", 120_000.0)])
    wh.build("analysis.programme_cost")
    assert wh.select("SELECT cost_to_date_gbp, annual_cost_gbp, years_without_cost FROM analysis.programme_cost") == [
        (None, 120_000.0, "2012/13")]


# -- people referred ----------------------------------------------------------------------------------------

def test_referred_last_year_is_index_dates_in_the_four_quarters_ending_with_the_quarter(wh):
    wh.referral("P1", "2012-12-31")  # the day before the four quarters start
    wh.referral("P2", "2013-01-01")  # their first day
    wh.referral("P3", "2013-12-31")  # the quarter's last day
    wh.referral("P4", "2014-01-01")  # after the quarter: not referred yet
    wh.referral("P5", "2012-05-01")
    wh.referral("P5", "2013-05-01")  # re-referred: the index date is the first referral
    wh.build("analysis.referred_to_date")
    assert wh.select("SELECT referred_to_date, referred_last_year FROM analysis.referred_to_date") == [(4, 2)]


# -- SROI ---------------------------------------------------------------------------------------------------

def provider_tables(wh) -> None:
    """Two providers: VCS01 works for LTC (3 Activity rows) and MH (1 row); VCS02 has no Activity rows."""
    wh.referral("P1", "2013-01-01", REFERRAL_ID="L1")
    wh.referral("P2", "2013-01-01", REFERRAL_ID="L2")
    wh.referral("P3", "2013-01-01", REFERRAL_ID="M1", PROGRAMME="MH")
    staged = "delivery VARCHAR, file VARCHAR, row_number BIGINT"
    table(wh, "staged.provider_activity", f"{staged}, REFERRAL_ID VARCHAR",
          [("2013Q1", "provider_returns/2013Q1/VCS01.xlsx#Activity", 4, "L1"),
           ("2013Q2", "provider_returns/2013Q2/VCS01.xlsx#Activity", 4, "L1"),
           ("2013Q2", "provider_returns/2013Q2/VCS01.xlsx#Activity", 5, "L2"),
           ("2013Q3", "provider_returns/2013Q3/VCS01.xlsx#Activity", 4, "M1"),
           ("2014Q1", "provider_returns/2014Q1/VCS01.xlsx#Activity", 4, "M1")])  # a later return: not in use
    table(wh, "staged.provider_volunteering", f"{staged}, MONTH DATE, HOURS DOUBLE",
          [("2013Q3", "provider_returns/2013Q3/VCS01.xlsx#Volunteering", 3, "2013-09-01", 100.0),
           ("2013Q4", "provider_returns/2013Q4/VCS01.xlsx#Volunteering", 3, "2013-10-01", 40.0),
           ("2013Q4", "provider_returns/2013Q4/VCS02.xlsx#Volunteering", 3, "2013-10-01", 999.0)])
    table(wh, "staged.provider_welfare", f"{staged}, REFERRAL_ID VARCHAR, BENEFIT_TYPE VARCHAR, AWARD_DATE DATE, WEEKLY_AMOUNT_GBP DOUBLE",
          [("2013Q2", "provider_returns/2013Q2/VCS01.xlsx#Welfare", 4, "L1", "Carer's Allowance", "2013-05-01", 10.0),
           ("2013Q4", "provider_returns/2013Q4/VCS01.xlsx#Welfare", 4, "L2", "Pension Credit", "2013-12-31", 20.0),
           ("2013Q4", "provider_returns/2013Q4/VCS01.xlsx#Welfare", 5, "L2", "Attendance Allowance", None, 50.0),  # no award date
           ("2013Q4", "provider_returns/2013Q4/VCS01.xlsx#Welfare", 6, "M1", "Housing Benefit", "2013-11-01", 80.0)])  # MH
    table(wh, "staged.provider_funding",
          f"{staged}, FUNDER VARCHAR, AMOUNT_GBP DOUBLE, DATE_AWARDED DATE, ATTRIBUTED_TO_PROGRAMME VARCHAR",
          [("2013Q1", "provider_returns/2013Q1/VCS01.xlsx#Funding", 3, "Lottery", 8000.0, "2013-02-01", "Y"),
           ("2013Q1", "provider_returns/2013Q1/VCS01.xlsx#Funding", 4, "Trust", 5000.0, "2013-02-01", "N"),
           ("2013Q4", "provider_returns/2013Q4/VCS02.xlsx#Funding", 3, "Council", 7000.0, "2013-11-01", "Y")])
    table(wh, "reference.wages", "wage VARCHAR, valid_from DATE, valid_to DATE, hourly_gbp DOUBLE, status VARCHAR, "
          "source VARCHAR, licence VARCHAR, notes VARCHAR",
          [("national_minimum_wage", "2012-10-01", "2013-09-30", 6.0, "published", "s", "OGL", None),
           ("national_minimum_wage", "2013-10-01", None, 7.0, "published", "s", "OGL", None),
           ("median_hourly_pay", "2013-04-01", None, 12.0, "published", "s", "OGL", None)])
    table(wh, "reference.sroi_adjustments", "component VARCHAR, adjustment VARCHAR, value DOUBLE, status VARCHAR, "
          "source VARCHAR, licence VARCHAR, notes VARCHAR",
          [(c, a, {"deadweight": 0.5, "attribution": 0.0, "displacement": 0.0}[a] if c == "welfare" else 0.0,
            "illustrative", "s", "OGL", None)
           for c in ("wellbeing", "volunteering", "welfare", "leverage")
           for a in ("deadweight", "attribution", "displacement")])
    table(wh, "reference.wellbeing_proxies", "measure VARCHAR, basis VARCHAR, value_low_gbp DOUBLE, "
          "value_high_gbp DOUBLE, status VARCHAR, source VARCHAR, licence VARCHAR, notes VARCHAR",
          [(m.lower(), b, 100.0, 200.0, "illustrative", "s", "n/a", None)
           for m in SCORES for b in ("hact_wellbeing_valuation", "wellby")])
    programme_costs(wh, [("LTC", "2012/13", 1000.0), ("LTC", "2013/14", 1200.0)])


def test_each_provider_is_shared_by_its_activity_rows_and_one_without_any_is_unattributed(wh):
    provider_tables(wh)
    wh.build("analysis.provider_shares")
    assert wh.select("SELECT provider_code, programme_activity_rows, activity_rows, share "
                     "FROM analysis.provider_shares") == [("VCS01", 3, 4, 0.75), ("VCS02", 0, 0, None)]


def test_sroi_components_from_hours_awards_funding_and_progress(wh):
    provider_tables(wh)
    wh.assessment("L1", "2013-01-10", B, FEELING_POSITIVE="2", LIFESTYLE="2")
    wh.assessment("L1", "2013-04-10", R, FEELING_POSITIVE="3", LIFESTYLE="3")  # two progressions
    wh.build("analysis.sroi")
    cost_to_date = 1000.0 + 1200.0 * 9 / 12
    hours = 0.75 * 100 + 0.75 * 40  # September at £6 (low), October at £7; £12 high
    welfare = (10.0 + 20.0) * 52 * 0.5  # two LTC awards with a date on or before 2013-12-31; deadweight 50%
    expected = {
        "wellbeing": (2.0, "measure progressions", 200.0, 400.0),
        "volunteering": (hours, "hours", 0.75 * 100 * 6 + 0.75 * 40 * 7, hours * 12),
        "welfare": (2.0, "awards", welfare, welfare),
        "leverage": (0.75, "funding awards", 0.75 * 8000, 0.75 * 8000),  # VCS02's award is unattributed
    }
    rows = {r[0]: r[1:] for r in wh.select("SELECT component, quantity, unit, value_low_gbp, value_high_gbp, "
                                           "per_pound_low, per_pound_high FROM analysis.sroi")}
    for component, (quantity, unit, low, high) in expected.items():
        assert rows[component] == (pytest.approx(quantity), unit, pytest.approx(low), pytest.approx(high),
                                   pytest.approx(low / cost_to_date), pytest.approx(high / cost_to_date)), component
    total_low = sum(v[2] for v in expected.values())
    total_high = sum(v[3] for v in expected.values())
    assert rows["total"] == (None, None, pytest.approx(total_low), pytest.approx(total_high),
                             pytest.approx(total_low / cost_to_date), pytest.approx(total_high / cost_to_date))
