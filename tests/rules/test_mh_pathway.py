"""ADR 0020, the mental-health pathway. Rule: sql/analysis/mh_pathway.sql (over MH referrals dated on or before the
quarter's last day, distinct persons at each step, each step judged per referral; engaged = status Engaged or Took
up, a Baseline or an onward referral by then; took up = an onward referral by then; discharge review due, of them
discharged, of them with the 12th month after discharge over (discharge + 12 months − 1 day on or before the
quarter's last day), of them with no re-access on or before that day).

One person per case; the answer is the set of steps the person reaches. Quarter 2016Q1 (last day 2016-03-31),
programme MH.
"""
from __future__ import annotations

import pytest

STEPS = ("referred", "engaged", "took_up", "discharge_review_due", "discharged", "discharge_observable_12m",
         "discharge_sustained_12m")
DISCHARGE_STEPS = {"referred", "discharge_review_due", "discharged", "discharge_observable_12m",
                   "discharge_sustained_12m"}

CASES = {
    # id: (referrals as dicts of referral fields, assessments/onward as (kind, date), steps reached)
    "referred-only": ([{}], [], {"referred"}),
    "declined-with-a-baseline-has-engaged": ([{"STATUS": "Declined"}], [("Baseline", "2015-06-01")],
                                             {"referred", "engaged"}),
    "status-engaged": ([{"STATUS": "Engaged"}], [], {"referred", "engaged"}),
    "status-took-up-without-an-onward-referral": ([{"STATUS": "Took up"}], [], {"referred", "engaged"}),
    "a-review-is-not-a-baseline": ([{}], [("Review", "2015-06-01")], {"referred"}),
    "baseline-after-the-quarter": ([{}], [("Baseline", "2016-04-02")], {"referred"}),
    "onward-referral-took-up": ([{}], [("onward", "2015-07-01")], {"referred", "engaged", "took_up"}),
    "onward-referral-on-the-quarters-last-day": ([{}], [("onward", "2016-03-31")], {"referred", "engaged", "took_up"}),
    "onward-referral-after-the-quarter": ([{}], [("onward", "2016-04-10")], {"referred"}),
    "review-due-after-the-quarters-end": ([{"MH_DISCHARGE_REVIEW_DATE": "2016-04-15",
                                            "MH_DISCHARGE_DATE": "2016-03-01"}], [], {"referred"}),
    "review-due-not-yet-discharged": ([{"MH_DISCHARGE_REVIEW_DATE": "2015-10-01"}], [],
                                      {"referred", "discharge_review_due"}),
    "discharged-after-the-quarters-end": ([{"MH_DISCHARGE_REVIEW_DATE": "2015-10-01",
                                            "MH_DISCHARGE_DATE": "2016-04-01"}], [],
                                          {"referred", "discharge_review_due"}),
    "discharged-too-recently-to-observe": ([{"MH_DISCHARGE_REVIEW_DATE": "2015-10-01",
                                             "MH_DISCHARGE_DATE": "2015-11-01"}], [],
                                           {"referred", "discharge_review_due", "discharged"}),
    "discharge-12-months-minus-1-day-before-the-quarters-end": (
        [{"MH_DISCHARGE_REVIEW_DATE": "2015-03-01", "MH_DISCHARGE_DATE": "2015-04-01"}], [], DISCHARGE_STEPS),
    "discharge-a-day-later-is-not-yet-observable": (
        [{"MH_DISCHARGE_REVIEW_DATE": "2015-03-01", "MH_DISCHARGE_DATE": "2015-04-02"}], [],
        {"referred", "discharge_review_due", "discharged"}),
    "re-access-on-the-last-day-of-the-12-months": (
        [{"MH_DISCHARGE_REVIEW_DATE": "2015-03-01", "MH_DISCHARGE_DATE": "2015-04-01",
          "MH_REACCESS_DATE": "2016-03-31"}], [], DISCHARGE_STEPS - {"discharge_sustained_12m"}),
    "re-access-the-day-after-the-12-months": (
        [{"MH_DISCHARGE_REVIEW_DATE": "2015-03-01", "MH_DISCHARGE_DATE": "2015-03-31",
          "MH_REACCESS_DATE": "2016-03-31"}], [], DISCHARGE_STEPS),
    "month-end-discharge-12-months-end-the-day-before": (  # 2015-02-28 + 12 months - 1 day = 2016-02-27
        [{"MH_DISCHARGE_REVIEW_DATE": "2015-01-05", "MH_DISCHARGE_DATE": "2015-02-28",
          "MH_REACCESS_DATE": "2016-02-28"}], [], DISCHARGE_STEPS),
    "discharged-without-a-review-due": ([{"MH_DISCHARGE_DATE": "2015-04-01"}], [], {"referred"}),
    "several-referrals-each-step-once": (
        [{"STATUS": "Declined"}, {"REFERRAL_DATE": "2015-09-01", "STATUS": "Engaged"},
         {"REFERRAL_DATE": "2015-10-01", "MH_DISCHARGE_REVIEW_DATE": "2015-03-01", "MH_DISCHARGE_DATE": "2015-04-01"}],
        [("onward", "2015-09-10")], {"referred", "engaged", "took_up", "discharge_review_due", "discharged",
                                     "discharge_observable_12m", "discharge_sustained_12m"}),
    "a-referral-after-the-quarter-is-not-counted": ([{"REFERRAL_DATE": "2016-04-05", "STATUS": "Engaged"}], [], set()),
    "a-referral-to-the-other-programme-is-not-counted": ([{"PROGRAMME": "LTC", "STATUS": "Engaged"}], [], set()),
}


@pytest.mark.parametrize("case", CASES)
def test_steps_one_person_reaches(wh, case):
    referrals, events, reached = CASES[case]
    wh.parameters(quarter="2016Q1", quarter_start="2016-01-01", quarter_end="2016-03-31", programme="MH",
                  cutoff="2016-03-31")
    ids = []
    for fields in referrals:
        fields = {"PROGRAMME": "MH", "STATUS": "Referred", **fields}
        ids.append(wh.referral("P1", fields.pop("REFERRAL_DATE", "2015-05-01"), **fields)["REFERRAL_ID"])
    for kind, day in events:  # on the first referral
        if kind == "onward":
            wh.onward(ids[0] if len(ids) == 1 else ids[1], day)
        else:
            wh.assessment(ids[0], day, kind)
    wh.build("analysis.mh_pathway")
    counts = dict(wh.select("SELECT step, n FROM analysis.mh_pathway ORDER BY step_order"))
    assert list(counts) == list(STEPS)  # every step has a row, in order
    assert counts == {step: int(step in reached) for step in STEPS}
