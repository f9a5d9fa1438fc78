"""ADR 0008: an outpatient appointment is a distinct ATTENDKEY with ATTENDED 5 (seen on time) or 6 (late but
seen), dated by APPTDATE; first and follow-up, face-to-face and telephone (FIRSTATT 1-4) all count. Rule:
sql/core/outpatient_appointments.sql. One patient per case; the answer is the patient's appointment dates."""
from __future__ import annotations

import pytest

ATTENDED = {"0": "unknown", "2": "patient-cancelled", "3": "did-not-attend", "4": "hospital-cancelled",
            "5": "seen-on-time", "6": "late-but-seen", "7": "late-not-seen", "9": "not-known"}

CASES = {
    **{f"attended-{code}-{what}": ([dict(APPTDATE="2013-02-01", ATTENDED=code)],
                                   ["2013-02-01"] if code in ("5", "6") else [])
       for code, what in ATTENDED.items()},
    **{f"firstatt-{code}-counts": ([dict(APPTDATE="2013-02-01", FIRSTATT=code)], ["2013-02-01"]) for code in "1234"},
    # id: (appointments, dates counted)
    "two-appointments-same-day-are-two": ([dict(APPTDATE="2013-02-01"), dict(APPTDATE="2013-02-01")],
                                          ["2013-02-01", "2013-02-01"]),
    "every-attended-code-on-one-day-counts-the-seen-ones":
        ([dict(APPTDATE="2013-02-01", ATTENDED=code) for code in ATTENDED], ["2013-02-01", "2013-02-01"]),
}


@pytest.fixture(scope="module")
def appointments(module_wh):
    for person, (rows, _) in CASES.items():
        module_wh.person(person)
        for row in rows:
            module_wh.op(person, **row)
    module_wh.build("core.outpatient_appointments")
    got: dict[str, list] = {}
    for person, day in module_wh.select("SELECT person_id, event_date FROM core.outpatient_appointments "
                                        "ORDER BY ALL"):
        got.setdefault(person, []).append(day)
    return got


@pytest.mark.parametrize("person", CASES)
def test_appointments_of_one_patient(appointments, person):
    assert appointments.get(person, []) == CASES[person][1]

