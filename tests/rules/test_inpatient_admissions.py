"""ADR 0005: an inpatient admission is a distinct (person, PROCODE3, ADMIDATE) among finished episodes
(EPISTAT 3) of ordinary admissions or day cases (CLASSPAT 1, 2), dated by ADMIDATE. Rule:
sql/core/inpatient_admissions.sql. One patient per case (the case id is the patient); the answer is the
patient's admissions as (PROCODE3, ADMIDATE)."""
from __future__ import annotations

import pytest

E = dict  # one APC episode: ADMIDATE and columns changed from the defaults (RFR, EPISTAT 3, CLASSPAT 1, ADMIMETH 21)


def spell(admidate: str, starts: tuple[str, ...], **values) -> list[dict]:
    """One stay of several consultant episodes: same provider and ADMIDATE, EPIORDER 1, 2, ..."""
    return [E(ADMIDATE=admidate, EPISTART=d, EPIEND=d, DISDATE=starts[-1], EPIORDER=str(i), **values)
            for i, d in enumerate(starts, start=1)]


CASES = {
    # id: (episodes, admissions)
    "ordinary-admission-classpat-1": ([E(ADMIDATE="2013-01-10")], [("RFR", "2013-01-10")]),
    "day-case-classpat-2": ([E(ADMIDATE="2013-01-10", CLASSPAT="2", ADMIMETH="11")], [("RFR", "2013-01-10")]),
    "regular-day-attender-classpat-3": ([E(ADMIDATE="2013-01-20", CLASSPAT="3", ADMIMETH="11")], []),
    "regular-night-attender-classpat-4": ([E(ADMIDATE="2013-01-25", CLASSPAT="4", ADMIMETH="11")], []),
    "mother-and-baby-classpat-5": ([E(ADMIDATE="2013-01-28", CLASSPAT="5")], []),
    "unfinished-episode-epistat-1": ([E(ADMIDATE="2013-02-01", EPISTAT="1", EPIEND="", DISDATE="")], []),
    "other-epistat-9-kept-but-not-counted": ([E(ADMIDATE="2013-02-01", EPISTAT="9")], []),
    "three-episode-spell-counts-once": (spell("2012-12-01", ("2012-12-01", "2012-12-03", "2012-12-05")),
                                        [("RFR", "2012-12-01")]),
    "spell-whose-first-episode-is-unfinished-counts-once":
        ([E(ADMIDATE="2012-12-01", EPISTAT="1", EPIEND="", DISDATE=""),
          E(ADMIDATE="2012-12-01", EPISTART="2012-12-03", EPIORDER="2")], [("RFR", "2012-12-01")]),
    "same-person-provider-date-under-two-keys-counted-once":
        ([E(ADMIDATE="2013-01-10"), E(ADMIDATE="2013-01-10")], [("RFR", "2013-01-10")]),
    "same-day-at-another-provider-is-another-admission":
        ([*spell("2012-12-01", ("2012-12-01", "2012-12-03")), E(ADMIDATE="2012-12-01", PROCODE3="RHQ")],
         [("RFR", "2012-12-01"), ("RHQ", "2012-12-01")]),
    "next-day-same-provider-is-another-admission":
        ([E(ADMIDATE="2013-01-10"), E(ADMIDATE="2013-01-11")], [("RFR", "2013-01-10"), ("RFR", "2013-01-11")]),
    "every-admission-method-elective-11-emergency-2A-maternity-31":
        ([E(ADMIDATE="2013-01-10", ADMIMETH="11"), E(ADMIDATE="2013-02-10", ADMIMETH="2A"),
          E(ADMIDATE="2013-03-10", ADMIMETH="31")],
         [("RFR", "2013-01-10"), ("RFR", "2013-02-10"), ("RFR", "2013-03-10")]),
    "dated-by-admidate-not-episode-start":
        ([E(ADMIDATE="2013-01-30", EPISTART="2013-02-02", EPIORDER="2")], [("RFR", "2013-01-30")]),
    "no-episodes": ([], []),
}


@pytest.fixture(scope="module")
def admissions(module_wh):
    for person, (episodes, _) in CASES.items():
        module_wh.person(person)
        for episode in episodes:
            module_wh.apc(person, **episode)
    module_wh.build("core.inpatient_admissions")
    got: dict[str, list] = {}
    for person, provider, day in module_wh.select(
            "SELECT person_id, provider, event_date FROM core.inpatient_admissions ORDER BY ALL"):
        got.setdefault(person, []).append((provider, day))
    return got


@pytest.mark.parametrize("person", CASES)
def test_admissions_of_one_patient(admissions, person):
    assert admissions.get(person, []) == CASES[person][1]
