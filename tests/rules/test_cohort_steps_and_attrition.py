"""ADR 0009 cohort steps, attrition and the funded subgroup. Rules: sql/analysis/cohort_steps.sql,
attrition.sql, cohort_members.sql.

Steps, in order: linked → pre window covered (R - W ≥ coverage_start) → post window covered (R + W - 1 day ≤
cutoff) → alive (no death on or before R + W - 1 day) → registered (REGISTERED_FROM ≤ R - W and REGISTERED_TO
blank or ≥ R + W - 1 day); a person leaves at the first step they fail. One referred patient per case; the
answer is the first failed step in the 6- and 12-month cohorts (None = member). HES coverage 2011-04-01 to
2013-12-31, quarter 2013Q4.

R = 2013-03-15 unless a case says otherwise: 6m pre window starts 2012-09-15 and its last post-window day is
2013-09-14; the 12m post window would end 2014-03-14, after the cutoff.
"""
from __future__ import annotations

from collections import Counter

import pytest

STEPS = ("referred", "linked", "pre_window_covered", "post_window_covered", "alive", "registered")
R = "2013-03-15"
MEMBER = None
SHORT_12M = "post_window_covered"  # R = 2013-03-15: the 12m post window runs past the cutoff
NOT_LINKED = None  # no persons row

CASES = {
    # id: (persons row values or NOT_LINKED, referral dates, (first failed step 6m, 12m))
    "member-of-the-6m-cohort-only": ({}, [R], (MEMBER, SHORT_12M)),
    "member-of-both-cohorts": ({}, ["2012-10-15"], (MEMBER, MEMBER)),
    "not-linked": (NOT_LINKED, [R], ("linked", "linked")),
    "not-linked-comes-before-every-other-step": (NOT_LINKED, ["2011-09-30"], ("linked", "linked")),
    "pre-window-starts-the-day-before-coverage-start": ({}, ["2011-09-30"],
                                                        ("pre_window_covered", "pre_window_covered")),
    "pre-window-starts-on-coverage-start": ({}, ["2011-10-01"], (MEMBER, "pre_window_covered")),
    "leap-day-index-12m-pre-window-starts-before-coverage": ({}, ["2012-02-29"], (MEMBER, "pre_window_covered")),
    "post-window-ends-on-the-cutoff": ({}, ["2013-07-01"], (MEMBER, SHORT_12M)),
    "post-window-ends-the-day-after-the-cutoff": ({}, ["2013-07-02"], ("post_window_covered", SHORT_12M)),
    "dies-on-the-last-post-window-day": ({"DATE_OF_DEATH": "2013-09-14"}, [R], ("alive", SHORT_12M)),
    "dies-the-day-after-the-post-window": ({"DATE_OF_DEATH": "2013-09-15"}, [R], (MEMBER, SHORT_12M)),
    "dies-on-the-index-date": ({"DATE_OF_DEATH": R}, [R], ("alive", SHORT_12M)),
    "died-before-referral": ({"DATE_OF_DEATH": "2013-01-01"}, [R], ("alive", SHORT_12M)),
    "dies-on-the-last-12m-post-window-day": ({"DATE_OF_DEATH": "2013-10-14"}, ["2012-10-15"], (MEMBER, "alive")),
    "dies-the-day-after-the-12m-post-window": ({"DATE_OF_DEATH": "2013-10-15"}, ["2012-10-15"], (MEMBER, MEMBER)),
    "pre-window-short-and-dies-leaves-at-pre-window": ({"DATE_OF_DEATH": "2011-12-01"}, ["2011-09-30"],
                                                       ("pre_window_covered", "pre_window_covered")),
    "registration-ends-the-day-before-the-last-post-window-day": ({"REGISTERED_TO": "2013-09-13"}, [R],
                                                                  ("registered", SHORT_12M)),
    "registration-ends-on-the-last-post-window-day": ({"REGISTERED_TO": "2013-09-14"}, [R], (MEMBER, SHORT_12M)),
    "registration-ends-inside-the-post-window": ({"REGISTERED_TO": "2013-05-01"}, [R], ("registered", SHORT_12M)),
    "registration-ends-before-the-index-date": ({"REGISTERED_TO": "2013-01-01"}, [R], ("registered", SHORT_12M)),
    "registered-from-the-day-after-the-pre-window-start": ({"REGISTERED_FROM": "2012-09-16"}, [R],
                                                           ("registered", SHORT_12M)),
    "registered-from-the-pre-window-start": ({"REGISTERED_FROM": "2012-09-15"}, [R], (MEMBER, SHORT_12M)),
    "registered-after-the-12m-pre-window-start": ({"REGISTERED_FROM": "2012-01-01"}, ["2012-10-15"],
                                                  (MEMBER, "registered")),
    "dies-and-deregistered-leaves-at-alive": ({"DATE_OF_DEATH": "2013-06-01", "REGISTERED_TO": "2013-05-01"}, [R],
                                              ("alive", SHORT_12M)),
    "re-referred-windows-follow-the-earliest-referral": ({}, [R, "2013-08-01"], (MEMBER, SHORT_12M)),
    "re-referred-earliest-referral-decides-coverage": ({}, ["2013-07-02", "2013-09-01"],
                                                       ("post_window_covered", SHORT_12M)),
    "referral-after-the-quarter-is-ignored": ({}, [R, "2014-01-05"], (MEMBER, SHORT_12M)),
}

FUNDED_CASES = {
    # id: (onward referrals as (referral index, ONWARD_DATE, FUNDING), referrals as (date, programme), funded)
    "funded-onward-referral": ([(0, "2013-03-20", "Funded")], [(R, "LTC")], True),
    "funded-onward-referral-on-the-quarters-last-day": ([(0, "2013-12-31", "Funded")], [(R, "LTC")], True),
    "funded-onward-referral-after-the-quarter": ([(0, "2014-01-10", "Funded")], [(R, "LTC")], False),
    "funded-onward-referral-after-the-post-window-still-counts": ([(0, "2013-11-01", "Funded")], [(R, "LTC")], True),
    "non-funded-onward-referral": ([(0, "2013-03-20", "Non-funded")], [(R, "LTC")], False),
    "statutory-onward-referral": ([(0, "2013-03-20", "Statutory")], [(R, "LTC")], False),
    "funded-onward-referral-on-the-second-referral": ([(1, "2013-05-10", "Funded")],
                                                      [(R, "LTC"), ("2013-05-01", "LTC")], True),
    "funded-onward-referral-on-another-programmes-referral": ([(1, "2013-03-25", "Funded")],
                                                             [(R, "LTC"), ("2013-03-20", "MH")], False),
    "no-onward-referral": ([], [(R, "LTC")], False),
}


def first_failed(row: dict) -> str | None:
    return next((step for step in STEPS[1:] if not row[step]), None)


@pytest.fixture(scope="module")
def cohorts(module_wh):
    for person, (values, referrals, _) in CASES.items():
        if values is not NOT_LINKED:
            module_wh.person(person, **values)
        for day in referrals:
            module_wh.referral(person, day)
    for person, (onwards, referrals, _) in FUNDED_CASES.items():
        module_wh.person(person)
        ids = [module_wh.referral(person, day, PROGRAMME=programme)["REFERRAL_ID"] for day, programme in referrals]
        for which, day, funding in onwards:
            module_wh.onward(ids[which], day, FUNDING=funding)
    module_wh.build("analysis.cohort_members")
    module_wh.build("analysis.attrition")
    steps = module_wh.con.sql("SELECT * FROM analysis.cohort_steps")
    rows = [dict(zip(steps.columns, r)) for r in steps.fetchall()]
    return {
        "first_failed": {(r["cohort"], r["person_id"]): first_failed(r) for r in rows},
        "funded": dict(((c, p), f) for c, p, f in module_wh.select(
            "SELECT cohort, person_id, funded FROM analysis.cohort_members")),
        "attrition": module_wh.select("SELECT cohort, step, n FROM analysis.attrition"),
    }


@pytest.mark.parametrize("person", CASES)
def test_person_leaves_at_the_first_failed_step(cohorts, person):
    got = tuple(cohorts["first_failed"][(cohort, person)] for cohort in ("6m", "12m"))
    assert got == CASES[person][2]


@pytest.mark.parametrize("person", FUNDED_CASES)
def test_funded(cohorts, person):
    assert cohorts["funded"][("6m", person)] is FUNDED_CASES[person][2]


def test_attrition_counts_the_people_left_after_each_step(cohorts):
    expected = []
    for i, cohort in enumerate(("6m", "12m")):
        left = Counter(case[2][i] for case in CASES.values())
        left[(MEMBER, SHORT_12M)[i]] += len(FUNDED_CASES)  # every funded case is a member of the 6m cohort only
        remaining = len(CASES) + len(FUNDED_CASES)
        for step in STEPS:
            remaining -= left[step]
            expected.append((cohort, step, remaining))
    assert cohorts["attrition"] == expected


EDGES = {
    # id: (run parameters, first failed step 6m, 12m) for one person referred on R = 2013-03-15
    "coverage-starts-on-the-6m-pre-window-start": ({"coverage_start": "2012-09-15"},
                                                   (MEMBER, "pre_window_covered")),
    "coverage-starts-the-day-after-the-6m-pre-window-start": ({"coverage_start": "2012-09-16"},
                                                              ("pre_window_covered", "pre_window_covered")),
    "cutoff-on-the-last-6m-post-window-day": ({"cutoff": "2013-09-14"}, (MEMBER, SHORT_12M)),
    "cutoff-the-day-before-the-last-6m-post-window-day": ({"cutoff": "2013-09-13"},
                                                          ("post_window_covered", SHORT_12M)),
    "cutoff-on-the-last-12m-post-window-day": ({"cutoff": "2014-03-14", "quarter_end": "2014-03-31"},
                                               (MEMBER, MEMBER)),
}


@pytest.mark.parametrize("parameters,expected", EDGES.values(), ids=EDGES)
def test_coverage_start_and_cutoff_exactly_at_the_window_edges(wh, parameters, expected):
    wh.parameters(**parameters)
    wh.person("P1")
    wh.referral("P1", R)
    wh.build("analysis.cohort_steps")
    steps = wh.con.sql("SELECT * FROM analysis.cohort_steps ORDER BY cohort_order")
    assert tuple(first_failed(dict(zip(steps.columns, r))) for r in steps.fetchall()) == expected


def test_attrition_of_a_small_cohort(wh):
    wh.person("member")
    wh.referral("member", "2012-10-15")
    wh.referral("not_linked", R)
    wh.person("short_pre")
    wh.referral("short_pre", "2011-09-30")
    wh.person("dies", DATE_OF_DEATH="2013-04-01")
    wh.referral("dies", R)
    wh.person("moved_away", REGISTERED_TO="2013-05-01")
    wh.referral("moved_away", R)
    wh.build("analysis.attrition")
    assert wh.select("SELECT cohort, list(n ORDER BY step_order) FROM analysis.attrition GROUP BY ALL "
                     "ORDER BY any_value(cohort_order)") == [("6m", [5, 4, 3, 3, 2, 1]), ("12m", [5, 4, 3, 1, 1, 1])]


def test_attrition_with_nobody_referred_is_zero_at_every_step(wh):
    wh.person("P1")
    wh.build("analysis.attrition")
    assert wh.select("SELECT cohort, step, n FROM analysis.attrition") == [
        (cohort, step, 0) for cohort in ("6m", "12m") for step in STEPS]
