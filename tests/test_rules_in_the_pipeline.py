"""End-to-end smoke test of the counting, window, cohort and well-being rules (docs/contract/rules.md, ADRs
0005-0010).

The rule cases themselves — one patient, known events, known answer — are tested fast and in memory in
tests/rules/ (test_inpatient_admissions.py ... test_hospital_use.py, test_wellbeing.py). Here the patients of
tests/rules/test_hospital_use.py, plus cohort-step, funded and not-linked patients, and the referrals and
assessments of tests/rules/test_wellbeing.py, are written as one delivery and run once through the real
`speval run` (Dagster job, ingest, validation, exact duplicates, the HES manifest's coverage and cutoff); every
rule table must come out exactly as the fast rules' harness builds it from the same rows.
"""
from __future__ import annotations

import pytest


pytestmark = pytest.mark.pipeline

COUNTING_TABLES = ("core.inpatient_admissions", "core.emergency_admissions", "core.ae_attendances",
                   "core.outpatient_appointments", "analysis.referred_persons", "analysis.cohort_steps",
                   "analysis.cohort_members", "analysis.attrition", "analysis.hospital_use_by_patient",
                   "analysis.hospital_use")
WELLBEING_TABLES = ("analysis.wellbeing_pairs", "analysis.wellbeing")


def write_counting_cases(ds) -> None:
    """The counting, window and cohort cases, on a `DataSet` (files) or a `RuleWarehouse` (the fast rules'
    staged tables) alike."""
    from rules.test_hospital_use import CASES

    for person, (write_case, _) in CASES.items():
        write_case(ds, person)
    ds.referral("T_NOT_LINKED", "2013-03-15")
    ds.person("P_DIES_IN", DATE_OF_DEATH="2013-09-14")
    ds.referral("P_DIES_IN", "2013-03-15")
    ds.person("P_DEREG", REGISTERED_TO="2013-09-13")
    ds.referral("P_DEREG", "2013-03-15")
    ds.person("P_PRE_SHORT")
    ds.referral("P_PRE_SHORT", "2011-09-30")
    ds.person("P_POST_SHORT")
    ds.referral("P_POST_SHORT", "2013-07-02")
    ds.person("P_FUNDED")
    ds.onward(ds.referral("P_FUNDED", "2013-03-15")["REFERRAL_ID"], "2013-03-20", FUNDING="Funded")
    ds.person("P_FUNDED_LATE")
    ds.onward(ds.referral("P_FUNDED_LATE", "2013-03-15")["REFERRAL_ID"], "2014-01-10", FUNDING="Funded")
    ds.person("P_LATE_REFERRAL")
    ds.referral("P_LATE_REFERRAL", "2014-01-05")
    ds.person("P_OTHER_PROGRAMME")
    ds.referral("P_OTHER_PROGRAMME", "2013-03-15", PROGRAMME="MH")


def write_wellbeing_cases(ds) -> None:
    """The well-being cases (referrals and assessments of one person, and Table 2's data), likewise."""
    from rules.test_wellbeing import CASES, write as write_cases, write_table_2_data

    ds.person("P1")
    for add in (ds.apc, ds.ae, ds.op):
        add("P1", "2012-06-01")
    write_cases(ds, CASES)
    write_table_2_data(ds)


def write(ds) -> None:
    """Both sets of cases in one delivery (their people and referrals are distinct): one run tests both."""
    write_counting_cases(ds)
    write_wellbeing_cases(ds)


def test_the_pipeline_applies_the_rules_as_the_fast_rule_tests_do(tmp_path, run_speval):
    from rules.conftest import pipeline_and_fast_rules_agree

    pipeline_and_fast_rules_agree(write, COUNTING_TABLES + WELLBEING_TABLES, tmp_path / "data", run_speval)
