"""End-to-end smoke test of the well-being rules (docs/contract/rules.md, ADR 0010).

The rule cases themselves — baseline and follow-up per referral, 84/140-day bounds, ties, blank scores, the
quarter's last day, Table 2 — are tested fast and in memory in tests/rules/test_wellbeing.py. Here the same
referrals and assessments are written as delivered files and run once through the real `speval run`; the
pairs and Table 2 must come out exactly as the fast rules' harness builds them from the same rows.
"""
from __future__ import annotations

import pytest


pytestmark = pytest.mark.pipeline

TABLES = ("analysis.wellbeing_pairs", "analysis.wellbeing")


def write(ds) -> None:
    """The data set, on a `DataSet` (files) or a `RuleWarehouse` (the fast rules' staged tables) alike."""
    from rules.test_wellbeing import CASES, write as write_cases, write_table_2_data

    ds.person("P1")
    for add in (ds.apc, ds.ae, ds.op):  # every HES file has rows (a header-only file is refused)
        add("P1", "2012-06-01")
    write_cases(ds, CASES)
    write_table_2_data(ds)


def test_the_pipeline_applies_the_wellbeing_rules_as_the_fast_rule_tests_do(tmp_path, run_speval):
    from rules.conftest import pipeline_and_fast_rules_agree

    pipeline_and_fast_rules_agree(write, TABLES, tmp_path / "data", run_speval)
