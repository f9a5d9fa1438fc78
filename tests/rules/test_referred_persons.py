"""ADR 0009 referred persons: the distinct TOKEN_PERSON_IDs with a referral of the programme dated on or before
the reporting quarter's last day; index date R = the earliest such date; later referrals (late entries in a
cumulative export) are left out; `linked` = the person has a valid persons row. Rule:
sql/analysis/referred_persons.sql. One patient per case; the answer is (index_date, n_referrals, linked), or
None when the patient is not a referred person. Quarter 2013Q4 (last day 2013-12-31), programme LTC."""
from __future__ import annotations

import pytest

NOT_REFERRED = None
CASES = {
    # id: (in persons.csv, referrals as (date, programme), answer)
    "one-referral": (True, [("2013-03-15", "LTC")], ("2013-03-15", 1, True)),
    "referral-on-the-quarters-last-day": (True, [("2013-12-31", "LTC")], ("2013-12-31", 1, True)),
    "referral-the-day-after-the-quarter-is-left-out": (True, [("2014-01-01", "LTC")], NOT_REFERRED),
    "re-referred-index-is-the-earliest-referral": (True, [("2013-05-01", "LTC"), ("2013-01-10", "LTC")],
                                                   ("2013-01-10", 2, True)),
    "two-referrals-on-one-day": (True, [("2013-01-10", "LTC"), ("2013-01-10", "LTC")], ("2013-01-10", 2, True)),
    "re-referral-after-the-quarter-is-not-counted": (True, [("2013-06-01", "LTC"), ("2014-01-05", "LTC")],
                                                     ("2013-06-01", 1, True)),
    "referral-to-another-programme": (True, [("2013-03-15", "MH")], NOT_REFERRED),
    "earlier-referral-to-another-programme-is-not-the-index":
        (True, [("2012-01-01", "MH"), ("2013-03-15", "LTC")], ("2013-03-15", 1, True)),
    "referral-not-linked-to-persons": (False, [("2013-03-15", "LTC")], ("2013-03-15", 1, False)),
    "never-referred": (True, [], NOT_REFERRED),
}


def write(wh, cases):
    for person, (linked, referrals, _) in cases.items():
        if linked:
            wh.person(person)
        for day, programme in referrals:
            wh.referral(person, day, PROGRAMME=programme)


@pytest.fixture(scope="module")
def referred(module_wh):
    write(module_wh, CASES)
    module_wh.build("analysis.referred_persons")
    return {r[0]: r[1:] for r in module_wh.select(
        "SELECT person_id, index_date, n_referrals, linked FROM analysis.referred_persons")}


@pytest.mark.parametrize("person", CASES)
def test_referred_person(referred, person):
    assert referred.get(person, NOT_REFERRED) == CASES[person][2]


def test_referred_persons_are_one_row_per_person(referred):
    assert set(referred) == {p for p, case in CASES.items() if case[2] is not NOT_REFERRED}


def test_the_programme_and_quarter_come_from_the_run_parameters(wh):
    write(wh, CASES)
    wh.parameters(programme="MH", quarter_end="2012-03-31")
    wh.build("analysis.referred_persons")
    assert wh.select("SELECT person_id, index_date, n_referrals, linked FROM analysis.referred_persons") == [
        ("earlier-referral-to-another-programme-is-not-the-index", "2012-01-01", 1, True)]
