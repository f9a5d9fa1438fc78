"""The matched comparison recovers the effect planted in the synthetic data (demo scale, seed 42),
where the naive before/after change, inflated by regression to the mean, does not.

What a single seed can show: every planted effect lies inside the 95% interval of the matched and of the
doubly robust estimate, in both cohorts; the analysis plan's primary estimate (12-month emergency
admissions) is nearer the truth than the naive change; the naive change is further from the truth than the
matched estimate in total over the four measures; the history the outcome starts from is balanced; and the
return on investment the planted effects imply lies inside the matched ROI's interval while the naive ROI
overstates it.
Bias and coverage over many seeds, and under a harder generator setting, are measured by
bench/truth_coverage.py (figures in docs/decisions/0017-matching-at-the-index-date.md).
"""
from __future__ import annotations

import polars as pl
import pytest

from speval.analysis.truth import MEASURES, true_effects
from speval.run.vocabulary import VALUE_SCENARIOS

pytestmark = pytest.mark.pipeline  # real `speval run` / Dagster job or PDF rendering: not in `make test-fast`


@pytest.fixture(scope="module")
def demo(demo_data, demo_run):
    import duckdb

    root = demo_run
    with duckdb.connect(str(root / "w.duckdb"), read_only=True) as con:
        treated = con.sql("SELECT DISTINCT cohort, person_id FROM analysis.matched_sets "
                          "WHERE setting = 'primary' AND role = 'treated'").pl()
        adjusted = con.sql("SELECT cohort, measure, did_adjusted, did_adjusted_ci_low, did_adjusted_ci_high "
                           "FROM analysis.matched_effects WHERE setting = 'primary'").pl()
    tables = root / "out" / "LTC" / "2013Q4" / "tables"
    return {
        "truth": true_effects(demo_data / "truth_patients.csv", treated),
        "effects": pl.read_csv(tables / "matched_effects.csv").join(adjusted, on=["cohort", "measure"]),
        "naive": pl.read_csv(tables / "hospital_use.csv").filter(group="all"),
        "balance": pl.read_csv(tables / "balance.csv"),
        "costs": pl.read_csv(tables / "costs_avoided.csv"),
        "value": pl.read_csv(tables / "value_for_money.csv"),
        "inputs": pl.read_csv(tables / "value_inputs.csv"),
    }


@pytest.mark.parametrize("cohort", ["6m", "12m"])
@pytest.mark.parametrize("measure", MEASURES)
def test_planted_effect_lies_in_the_interval_of_the_matched_and_the_doubly_robust_estimate(demo, cohort, measure):
    truth = demo["truth"][(cohort, measure)]
    row = demo["effects"].filter(cohort=cohort, measure=measure).row(0, named=True)
    assert row["did_ci_low"] <= truth <= row["did_ci_high"], (truth, row)
    assert row["did_adjusted_ci_low"] <= truth <= row["did_adjusted_ci_high"], (truth, row)


def test_the_primary_estimate_is_nearer_the_truth_than_the_naive_change(demo):
    """The analysis plan's primary estimate: emergency admissions, 12-month cohort, matched DiD."""
    truth = demo["truth"][("12m", "emergency_admissions")]
    did = demo["effects"].filter(cohort="12m", measure="emergency_admissions")["did"][0]
    naive = demo["naive"].filter(cohort="12m", measure="emergency_admissions")["change"][0]
    assert abs(did - truth) < abs(naive - truth), (truth, did, naive)


@pytest.mark.parametrize("cohort", ["6m", "12m"])
def test_the_history_the_outcome_starts_from_is_balanced(demo, cohort):
    """Controls are measured again at the index date they take (ADR 0017): on the counts of the outcome's own
    "before" window the matched groups differ by less than the balance threshold."""
    window = demo["balance"].filter(pl.col("cohort") == cohort, pl.col("covariate").str.ends_with(f"_{cohort}"))
    assert window.height == len(MEASURES)
    assert (window["smd_after"].abs() < 0.1).all(), window


@pytest.mark.parametrize("cohort", ["6m", "12m"])
def test_naive_change_is_further_from_the_truth_than_the_matched_estimate(demo, cohort):
    naive_error = matched_error = 0.0
    for measure in MEASURES:
        truth = demo["truth"][(cohort, measure)]
        naive_error += abs(demo["naive"].filter(cohort=cohort, measure=measure)["change"][0] - truth)
        matched_error += abs(demo["effects"].filter(cohort=cohort, measure=measure)["did"][0] - truth)
    assert naive_error > matched_error, (naive_error, matched_error)


def test_matching_balances_the_history(demo):
    balance = demo["balance"]
    assert (balance["smd_before"].abs() > 0.1).any()
    assert (balance.filter(cohort="12m")["smd_after"].abs() < 0.25).all()


def planted_roi(demo, scenario) -> float:
    """The ROI the planted effects imply: the generator's true 12-month effect per patient over the matched
    treated (truth_patients.csv: expected minus counterfactual counts), costed at the run's unit costs and scaled
    and projected as the scenario says (docs/contract/rules.md "Value for money")."""
    from speval.economics.scenarios import projected_benefit
    from speval.economics.value import ITEMS, events_avoided

    unit_cost = dict(demo["costs"].filter(basis="matched").select("item", "unit_cost_gbp").iter_rows())
    events = events_avoided({m: demo["truth"][("12m", m)] for m in MEASURES})
    saving = sum(events[item] * unit_cost[item] for item in ITEMS)
    inputs = demo["inputs"].filter(basis="matched").row(0, named=True)
    if scenario.drop_off is None:
        return saving * inputs["referred_to_date"] / inputs["cost_to_date_gbp"]
    return projected_benefit(saving * inputs["referred_last_year"], scenario.drop_off) / inputs["annual_cost_gbp"]


@pytest.mark.parametrize("scenario", VALUE_SCENARIOS, ids=lambda s: s.code)
def test_the_planted_return_lies_in_the_matched_roi_interval_and_the_naive_roi_overstates_it(demo, scenario):
    truth = planted_roi(demo, scenario)
    matched = demo["value"].filter(basis="matched", scenario=scenario.code).row(0, named=True)
    naive = demo["value"].filter(basis="naive", scenario=scenario.code).row(0, named=True)
    assert truth > 0  # the planted effect is a fall in every measure
    assert matched["roi_ci_low"] <= truth <= matched["roi_ci_high"], (truth, matched)
    assert naive["roi"] > truth, (truth, naive)
