"""ADR 0010 well-being. Rules: sql/analysis/wellbeing_pairs.sql (per referral and measure: baseline = earliest
Baseline; follow-up = earliest Review 84-140 days after it, both ends included; ties on date to the lowest
ASSESSMENT_ID in natural order; whole assessments, a blank score stays blank; referrals of the programme and
assessments dated on or before the quarter's last day) and sql/analysis/wellbeing.sql (Table 2).

One referral per case (the case id is the referral); the answer is its FEELING_POSITIVE pair as
(baseline ASSESSMENT_ID, baseline score, follow-up ASSESSMENT_ID, follow-up score), or None when the referral
has no baseline. Quarter 2013Q4 (last day 2013-12-31), programme LTC.
"""
from __future__ import annotations

import datetime as dt

import pytest

NO_PAIR = None
B, R = "Baseline", "Review"
CASES = {
    # id: (referral date, programme, assessments as (ASSESSMENT_ID, date, type, FEELING_POSITIVE), answer)
    "review-83-days-after-baseline-is-too-early": ("2013-01-01", "LTC", [
        ("S1", "2013-01-01", B, "2"), ("S2", "2013-03-25", R, "5")], ("S1", 2, None, None)),
    "review-84-days-after-baseline-is-the-follow-up": ("2013-01-01", "LTC", [
        ("S1", "2013-01-01", B, "2"), ("S2", "2013-03-25", R, "5"), ("S3", "2013-03-26", R, "3")],
        ("S1", 2, "S3", 3)),
    "review-140-days-after-baseline-is-the-follow-up": ("2013-01-01", "LTC", [
        ("S1", "2013-02-01", B, "4"), ("S2", "2013-06-21", R, "5")], ("S1", 4, "S2", 5)),
    "review-141-days-after-baseline-is-too-late": ("2013-01-01", "LTC", [
        ("S1", "2013-02-01", B, "1"), ("S2", "2013-06-22", R, "5")], ("S1", 1, None, None)),
    "two-baselines-on-one-day-S9-before-S10": ("2013-01-01", "LTC", [
        ("S10", "2013-02-01", B, "1"), ("S9", "2013-02-01", B, "4")], ("S9", 4, None, None)),
    "zero-padded-ids-sort-as-numbers": ("2013-01-01", "LTC", [
        ("S010", "2013-02-01", B, "1"), ("S009", "2013-02-01", B, "4")], ("S009", 4, None, None)),
    "same-length-ids-sort-as-text": ("2013-01-01", "LTC", [
        ("SB2", "2013-02-01", B, "1"), ("SA9", "2013-02-01", B, "4")], ("SA9", 4, None, None)),
    "two-reviews-on-one-day-S9-before-S10": ("2013-01-01", "LTC", [
        ("S1", "2013-01-01", B, "3"), ("S10", "2013-04-01", R, "5"), ("S9", "2013-04-01", R, "2")],
        ("S1", 3, "S9", 2)),
    "earliest-baseline-wins": ("2013-01-01", "LTC", [
        ("S2", "2013-03-05", B, "1"), ("S1", "2013-03-01", B, "3")], ("S1", 3, None, None)),
    "follow-up-window-counts-from-the-earliest-baseline": ("2013-01-01", "LTC", [
        ("S1", "2013-01-01", B, "3"), ("S2", "2013-01-20", B, "1"), ("S3", "2013-04-01", R, "4")],
        ("S1", 3, "S3", 4)),
    "two-reviews-in-range-the-earliest-is-the-follow-up": ("2013-01-01", "LTC", [
        ("S1", "2013-01-01", B, "3"), ("S2", "2013-04-11", R, "5"), ("S3", "2013-04-01", R, "2")],
        ("S1", 3, "S3", 2)),
    "blank-follow-up-score-stays-blank": ("2013-01-01", "LTC", [
        ("S1", "2013-03-01", B, "3"), ("S2", "2013-06-09", R, ""), ("S3", "2013-06-10", R, "4")],
        ("S1", 3, "S2", None)),
    "blank-baseline-score-stays-blank": ("2013-01-01", "LTC", [
        ("S1", "2013-03-01", B, ""), ("S2", "2013-03-02", B, "1"), ("S3", "2013-06-09", R, "4")],
        ("S1", None, "S3", 4)),
    "a-second-baseline-in-range-is-not-a-follow-up": ("2013-01-01", "LTC", [
        ("S1", "2013-01-01", B, "3"), ("S2", "2013-04-01", B, "5")], ("S1", 3, None, None)),
    "a-review-before-the-baseline-is-not-a-follow-up": ("2013-01-01", "LTC", [
        ("S1", "2013-05-01", B, "3"), ("S2", "2013-01-05", R, "5")], ("S1", 3, None, None)),
    "review-with-no-baseline": ("2013-01-01", "LTC", [("S1", "2013-04-01", R, "5")], NO_PAIR),
    "review-after-the-quarters-last-day-is-left-out": ("2013-09-20", "LTC", [
        ("S1", "2013-10-01", B, "2"), ("S2", "2014-01-10", R, "4")], ("S1", 2, None, None)),
    "review-on-the-quarters-last-day-counts": ("2013-09-20", "LTC", [
        ("S1", "2013-10-01", B, "2"), ("S2", "2013-12-31", R, "4")], ("S1", 2, "S2", 4)),
    "baseline-after-the-quarters-last-day-is-left-out": ("2013-12-20", "LTC", [
        ("S1", "2014-01-02", B, "2")], NO_PAIR),
    "referral-on-the-quarters-last-day": ("2013-12-31", "LTC", [("S1", "2013-12-31", B, "2")], ("S1", 2, None, None)),
    "referral-after-the-quarter": ("2014-01-10", "LTC", [("S1", "2014-01-10", B, "1")], NO_PAIR),
    "referral-to-another-programme": ("2013-01-01", "MH", [("S1", "2013-01-02", B, "1")], NO_PAIR),
}


def write(wh, cases):
    for referral, (day, programme, assessments, _) in cases.items():
        wh.referral("P1", day, PROGRAMME=programme, REFERRAL_ID=referral)  # one person, re-referred: each afresh
        for assessment_id, when, kind, score in assessments:
            wh.assessment(referral, when, kind, ASSESSMENT_ID=f"{referral}/{assessment_id}",
                          FEELING_POSITIVE=score)


@pytest.fixture(scope="module")
def pairs(module_wh):
    write(module_wh, CASES)
    module_wh.build("analysis.wellbeing_pairs")
    return {r[0]: r[1:] for r in module_wh.select(
        "SELECT referral_id, baseline_id, baseline_score, followup_id, followup_score FROM analysis.wellbeing_pairs "
        "WHERE measure = 'feeling_positive'")}


def strip(pair):
    """Assessment IDs are written `<referral>/<ID>` (unique in the export); compare the case's own IDs."""
    return pair and tuple(v.split("/")[-1] if isinstance(v, str) else v for v in pair)


@pytest.mark.parametrize("referral", CASES)
def test_baseline_and_follow_up_of_one_referral(pairs, referral):
    assert strip(pairs.get(referral, NO_PAIR)) == CASES[referral][3]


FOLLOWUP_SETTINGS = {
    # id: (days from baseline to the only review, follow-up found) with followup_min_days 90, followup_max_days 100
    "84-days-before-a-90-day-minimum": (84, False),
    "89-days": (89, False),
    "90-days-on-the-minimum": (90, True),
    "100-days-on-the-maximum": (100, True),
    "101-days": (101, False),
}


@pytest.mark.parametrize("days,found", FOLLOWUP_SETTINGS.values(), ids=FOLLOWUP_SETTINGS)
def test_follow_up_window_comes_from_the_settings(wh, days, found):
    wh.parameters(followup_min_days=90, followup_max_days=100)
    wh.referral("P1", "2013-01-01", REFERRAL_ID="R1")
    wh.assessment("R1", "2013-01-01", B, ASSESSMENT_ID="S1", FEELING_POSITIVE="2")
    wh.assessment("R1", (dt.date(2013, 1, 1) + dt.timedelta(days)).isoformat(), R, ASSESSMENT_ID="S2",
                  FEELING_POSITIVE="4")
    wh.build("analysis.wellbeing_pairs")
    assert wh.select("SELECT followup_id FROM analysis.wellbeing_pairs WHERE measure = 'feeling_positive'") == [
        ("S2" if found else None,)]


def write_table_2_data(wh):
    """Nine referrals of one person (also run through the pipeline: tests/test_rules_in_the_pipeline.py)."""
    def referral(date="2013-01-01", **kw):
        return wh.referral("P1", date, **kw)["REFERRAL_ID"]

    r1 = referral()  # review at +83 days is too early; +84 is the follow-up
    wh.assessment(r1, "2013-01-01", B, FEELING_POSITIVE="2", LIFESTYLE="3")
    wh.assessment(r1, "2013-03-25", R, FEELING_POSITIVE="5", LIFESTYLE="5")
    wh.assessment(r1, "2013-03-26", R, FEELING_POSITIVE="3", LIFESTYLE="3")
    r2 = referral()  # two baselines on one day: S9 comes before S10; review at +140 days counts
    wh.assessment(r2, "2013-02-01", B, ASSESSMENT_ID="S10", FEELING_POSITIVE="1")
    wh.assessment(r2, "2013-02-01", B, ASSESSMENT_ID="S9", FEELING_POSITIVE="4")
    wh.assessment(r2, "2013-06-21", R, FEELING_POSITIVE="5")
    r3 = referral()  # review at +141 days is too late
    wh.assessment(r3, "2013-02-01", B, FEELING_POSITIVE="1")
    wh.assessment(r3, "2013-06-22", R, FEELING_POSITIVE="5")
    r4 = referral()  # earliest baseline wins; a blank follow-up score is not filled from elsewhere
    wh.assessment(r4, "2013-03-01", B, FEELING_POSITIVE="3")
    wh.assessment(r4, "2013-03-05", B, FEELING_POSITIVE="1", LIFESTYLE="2")
    wh.assessment(r4, "2013-06-09", R, LIFESTYLE="4")
    r5 = referral()  # two reviews in range: the earliest is the follow-up
    wh.assessment(r5, "2013-01-01", B, FEELING_POSITIVE="3")
    wh.assessment(r5, "2013-04-01", R, FEELING_POSITIVE="2")
    wh.assessment(r5, "2013-04-11", R, FEELING_POSITIVE="5")
    r6 = referral("2014-01-10")  # referral after the quarter
    wh.assessment(r6, "2014-01-10", B, FEELING_POSITIVE="1")
    r7 = referral(PROGRAMME="MH")  # another programme
    wh.assessment(r7, "2013-01-02", B, FEELING_POSITIVE="1")
    r8 = referral("2013-09-20")  # review after the quarter's last day is left out
    wh.assessment(r8, "2013-10-01", B, FEELING_POSITIVE="2")
    wh.assessment(r8, "2014-01-10", R, FEELING_POSITIVE="4")
    r9 = referral()  # a review with no baseline
    wh.assessment(r9, "2013-04-01", R, FEELING_POSITIVE="5")


BLANK = dict(baseline_n=0, baseline_mean=None, baseline_low_pct=None, followup_n=0, followup_mean=None,
             progress_pct=None, progress_low_pct=None)
TABLE_2 = {
    # baselines r1 2, r2 4 (S9), r3 1, r4 3, r5 3, r8 2; pairs r1 2→3, r2 4→5, r5 3→2 (r4's follow-up is blank)
    "feeling_positive": dict(baseline_n=6, baseline_mean=15 / 6, baseline_low_pct=50.0, followup_n=3,
                             followup_mean=10 / 3, progress_pct=200 / 3, progress_low_pct=100.0),
    # whole assessments: only r1 has a baseline lifestyle score (r4's earliest baseline has it blank): 3→3
    "lifestyle": dict(baseline_n=1, baseline_mean=3.0, baseline_low_pct=0.0, followup_n=1, followup_mean=3.0,
                      progress_pct=0.0, progress_low_pct=None),
    **{m: BLANK for m in ("looking_after_yourself", "managing_symptoms", "work_volunteering_social", "money",
                          "where_you_live", "family_friends")},  # no scores: blank, not NaN
}


def test_table_2(wh):
    write_table_2_data(wh)
    wh.build("analysis.wellbeing")
    table = wh.con.sql("SELECT * EXCLUDE (measure_order) FROM analysis.wellbeing ORDER BY measure_order")
    got = {row[0]: dict(zip(table.columns[1:], row[1:])) for row in table.fetchall()}
    assert list(got) == list(TABLE_2)
    assert got == {m: {k: pytest.approx(v) if v else v for k, v in row.items()} for m, row in TABLE_2.items()}
