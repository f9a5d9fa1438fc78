"""ADR 0007: an A&E attendance is a distinct (person, PROCODE3, ARRIVALDATE, ARRIVALTIME) with AEATTENDCAT 1
(first) or 3 (unplanned follow-up); planned follow-ups (2) are not counted. Rule: sql/core/ae_attendances.sql.
One patient per case; the answer is the patient's attendances as (PROCODE3, ARRIVALDATE, ARRIVALTIME)."""
from __future__ import annotations

import pytest

A = dict  # one A&E record: ARRIVALDATE and the columns changed from the defaults (RFR, 10:00, category 1)

CASES = {
    # id: (records, attendances)
    "first-attendance-category-1": ([A(ARRIVALDATE="2013-01-05")], [("RFR", "2013-01-05", "10:00")]),
    "planned-follow-up-category-2": ([A(ARRIVALDATE="2013-01-05", AEATTENDCAT="2")], []),
    "unplanned-follow-up-category-3": ([A(ARRIVALDATE="2013-01-06", AEATTENDCAT="3")],
                                       [("RFR", "2013-01-06", "10:00")]),
    "same-day-at-another-time-is-another-attendance":
        ([A(ARRIVALDATE="2013-02-01", ARRIVALTIME="10:00"), A(ARRIVALDATE="2013-02-01", ARRIVALTIME="18:30")],
         [("RFR", "2013-02-01", "10:00"), ("RFR", "2013-02-01", "18:30")]),
    "same-arrival-under-two-keys-is-one-attendance":
        ([A(ARRIVALDATE="2013-02-10", ARRIVALTIME="09:00"), A(ARRIVALDATE="2013-02-10", ARRIVALTIME="09:00")],
         [("RFR", "2013-02-10", "09:00")]),
    "same-date-and-time-at-two-providers-is-two-attendances":
        ([A(ARRIVALDATE="2013-02-20", ARRIVALTIME="09:00"),
          A(ARRIVALDATE="2013-02-20", ARRIVALTIME="09:00", PROCODE3="RHQ")],
         [("RFR", "2013-02-20", "09:00"), ("RHQ", "2013-02-20", "09:00")]),
    "same-arrival-recorded-as-category-1-and-2-counts-once":
        ([A(ARRIVALDATE="2013-03-01", AEATTENDCAT="1"), A(ARRIVALDATE="2013-03-01", AEATTENDCAT="2")],
         [("RFR", "2013-03-01", "10:00")]),
    "same-arrival-recorded-as-category-1-and-3-counts-once":
        ([A(ARRIVALDATE="2013-03-01", AEATTENDCAT="1"), A(ARRIVALDATE="2013-03-01", AEATTENDCAT="3")],
         [("RFR", "2013-03-01", "10:00")]),
    "arrival-just-before-midnight-is-dated-by-arrival":
        ([A(ARRIVALDATE="2013-03-31", ARRIVALTIME="23:59")], [("RFR", "2013-03-31", "23:59")]),
}


@pytest.fixture(scope="module")
def attendances(module_wh):
    for person, (records, _) in CASES.items():
        module_wh.person(person)
        for record in records:
            module_wh.ae(person, **record)
    module_wh.build("core.ae_attendances")
    got: dict[str, list] = {}
    for person, *attendance in module_wh.select(
            "SELECT person_id, provider, event_date, arrival_time FROM core.ae_attendances ORDER BY ALL"):
        got.setdefault(person, []).append(tuple(attendance))
    return got


@pytest.mark.parametrize("person", CASES)
def test_attendances_of_one_patient(attendances, person):
    assert attendances.get(person, []) == CASES[person][1]
