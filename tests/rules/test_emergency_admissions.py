"""ADR 0006: an emergency admission is an inpatient admission (ADR 0005) whose episode's ADMIMETH is an
emergency code (21-25, 28, 2A-2D), compared as strings (`2A` must survive). Rule:
sql/core/emergency_admissions.sql. One patient per case; the answer is the patient's emergency admissions and
inpatient admissions, each as (PROCODE3, ADMIDATE)."""
from __future__ import annotations

import pytest

EMERGENCY = ("21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D")
NOT_EMERGENCY = ("11", "12", "13", "31", "32", "81", "82", "83", "99", "20", "26", "2E")
ONE = [("RFR", "2013-01-10")]
E = dict

CASES = {
    **{f"admimeth-{code}-emergency": ([E(ADMIDATE="2013-01-10", ADMIMETH=code)], ONE, ONE) for code in EMERGENCY},
    **{f"admimeth-{code}-inpatient-only": ([E(ADMIDATE="2013-01-10", ADMIMETH=code)], [], ONE)
       for code in NOT_EMERGENCY},
    # id: (episodes, emergency admissions, inpatient admissions)
    "emergency-21-and-elective-11-same-day-at-two-providers":
        ([E(ADMIDATE="2013-01-10", ADMIMETH="21"), E(ADMIDATE="2013-01-10", ADMIMETH="11", PROCODE3="RHQ")],
         ONE, [*ONE, ("RHQ", "2013-01-10")]),
    "emergency-28-on-a-day-case": ([E(ADMIDATE="2013-01-10", ADMIMETH="28", CLASSPAT="2")], ONE, ONE),
    "emergency-regular-attender-classpat-3": ([E(ADMIDATE="2013-01-10", CLASSPAT="3")], [], []),
    "emergency-regular-attender-classpat-4": ([E(ADMIDATE="2013-01-10", CLASSPAT="4")], [], []),
    "emergency-mother-and-baby-classpat-5": ([E(ADMIDATE="2013-01-10", CLASSPAT="5")], [], []),
    "emergency-unfinished-episode-epistat-1": ([E(ADMIDATE="2013-01-10", EPISTAT="1", EPIEND="", DISDATE="")],
                                               [], []),
    "emergency-2A-spell-of-three-episodes-counts-once":
        ([E(ADMIDATE="2013-01-10", EPISTART=d, EPIEND=d, DISDATE="2013-01-14", EPIORDER=str(i), ADMIMETH="2A")
          for i, d in enumerate(("2013-01-10", "2013-01-12", "2013-01-14"), start=1)], ONE, ONE),
    "emergency-same-day-at-two-providers-is-two":
        ([E(ADMIDATE="2013-01-10", ADMIMETH="21"), E(ADMIDATE="2013-01-10", ADMIMETH="22", PROCODE3="RHQ")],
         [*ONE, ("RHQ", "2013-01-10")], [*ONE, ("RHQ", "2013-01-10")]),
}


@pytest.fixture(scope="module")
def admissions(module_wh):
    for person, (episodes, _, _) in CASES.items():
        module_wh.person(person)
        for episode in episodes:
            module_wh.apc(person, **episode)
    module_wh.build("core.emergency_admissions")
    module_wh.build("core.inpatient_admissions")
    got = {}
    for table in ("core.emergency_admissions", "core.inpatient_admissions"):
        for person, provider, day in module_wh.select(f"SELECT person_id, provider, event_date FROM {table} "
                                                      f"ORDER BY ALL"):
            got.setdefault((table, person), []).append((provider, day))
    return got


@pytest.mark.parametrize("person", CASES)
def test_emergency_and_inpatient_admissions_of_one_patient(admissions, person):
    _, emergency, inpatient = CASES[person]
    assert (admissions.get(("core.emergency_admissions", person), []),
            admissions.get(("core.inpatient_admissions", person), [])) == (emergency, inpatient)


def test_every_emergency_admission_is_an_inpatient_admission(admissions):
    emergency = {(p, a) for (t, p), rows in admissions.items() if t == "core.emergency_admissions" for a in rows}
    inpatient = {(p, a) for (t, p), rows in admissions.items() if t == "core.inpatient_admissions" for a in rows}
    assert emergency and emergency <= inpatient
