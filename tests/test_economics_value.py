"""Costs avoided and value for money on hand-made inputs (speval/economics/value.py; docs/contract/rules.md
"Costs avoided" and "Value for money"). Every expected number is worked out by hand in the test, not with
speval.economics.scenarios."""
from __future__ import annotations

import numpy as np
import pytest

from speval.economics.value import Saving, costs_avoided, value_for_money, value_inputs

UNIT = {"emergency_admissions": 1000.0, "other_admissions": 500.0, "ae_attendances": 100.0,
        "outpatient_appointments": 50.0}
# Changes per patient (after − before, or the DiD): a fall is negative.
NAIVE = {"emergency_admissions": -0.5, "inpatient_admissions": -0.8, "ae_attendances": 0.2,
         "outpatient_appointments": -1.0}
ITEMS = ["emergency_admissions", "other_admissions", "ae_attendances", "outpatient_appointments", "total"]
# 41 evenly spaced values from 0 to 1: the 2.5% and 97.5% quantiles (linear) are 0.025 and 0.975.
GRID = np.linspace(0.0, 1.0, 41)
DISCOUNTS = [1 / 1.035 ** t for t in range(5)]
F0 = sum(DISCOUNTS)                                                  # 4.673079...
F20 = sum(s * f for s, f in zip([1, 0.8, 0.6, 0.4, 0.2], DISCOUNTS))
F33 = sum(s * f for s, f in zip([1, 0.667, 0.334, 0.001, 0.0], DISCOUNTS))  # 1 − 0.333·4 < 0: clipped to 0


def _rows(table, basis):
    return {r["item"]: r for r in table.filter(basis=basis).iter_rows(named=True)}


def test_costs_avoided_naive_by_hand():
    table, totals = costs_avoided(NAIVE, None, None, UNIT)
    assert table.columns == ["basis", "cohort", "item", "events_avoided_per_patient", "unit_cost_gbp",
                             "saving_per_patient_gbp", "saving_ci_low_gbp", "saving_ci_high_gbp"]
    assert table["basis"].to_list() == ["naive"] * 5 + ["matched"] * 5
    assert table["item"].to_list() == ITEMS * 2
    assert set(table["cohort"]) == {"12m"}
    naive = _rows(table, "naive")
    # A fall is a positive number of events avoided; other admissions = in-patient − emergency, so an
    # emergency admission is not costed twice: −(−0.8 − (−0.5)) = 0.3.
    assert naive["emergency_admissions"]["events_avoided_per_patient"] == pytest.approx(0.5)
    assert naive["other_admissions"]["events_avoided_per_patient"] == pytest.approx(0.3)
    assert naive["ae_attendances"]["events_avoided_per_patient"] == pytest.approx(-0.2)  # a rise: negative
    assert naive["outpatient_appointments"]["events_avoided_per_patient"] == pytest.approx(1.0)
    savings = {i: naive[i]["saving_per_patient_gbp"] for i in ITEMS}
    assert savings == pytest.approx({"emergency_admissions": 500.0, "other_admissions": 150.0,
                                     "ae_attendances": -20.0, "outpatient_appointments": 50.0, "total": 680.0})
    assert naive["emergency_admissions"]["unit_cost_gbp"] == 1000.0
    assert naive["total"]["unit_cost_gbp"] is None and naive["total"]["events_avoided_per_patient"] is None
    # The naive basis has no interval.
    assert all(naive[i]["saving_ci_low_gbp"] is None and naive[i]["saving_ci_high_gbp"] is None for i in ITEMS)
    assert totals["naive"].per_patient == pytest.approx(680.0)
    assert totals["naive"].replicates is None


def test_costs_avoided_matched_interval_from_replicates():
    did = {"emergency_admissions": -0.5, "inpatient_admissions": -0.5, "ae_attendances": 0.0,
           "outpatient_appointments": 0.0}
    # Replicate b: emergency and in-patient admissions both fall by GRID[b] (so other admissions do not
    # change), A&E falls by 2·GRID[b], outpatients do not change.
    replicates = {"emergency_admissions": -GRID, "inpatient_admissions": -GRID, "ae_attendances": -2 * GRID,
                  "outpatient_appointments": np.zeros_like(GRID)}
    table, totals = costs_avoided(NAIVE, did, replicates, UNIT)
    matched = _rows(table, "matched")
    assert matched["emergency_admissions"]["saving_per_patient_gbp"] == pytest.approx(500.0)
    assert matched["other_admissions"]["saving_per_patient_gbp"] == pytest.approx(0.0)
    assert matched["total"]["saving_per_patient_gbp"] == pytest.approx(500.0)
    # Per item: 1000·GRID → (25, 975); A&E 100·2·GRID → (5, 195); the others 0.
    assert (matched["emergency_admissions"]["saving_ci_low_gbp"],
            matched["emergency_admissions"]["saving_ci_high_gbp"]) == pytest.approx((25.0, 975.0))
    assert (matched["ae_attendances"]["saving_ci_low_gbp"],
            matched["ae_attendances"]["saving_ci_high_gbp"]) == pytest.approx((5.0, 195.0))
    assert (matched["other_admissions"]["saving_ci_low_gbp"],
            matched["other_admissions"]["saving_ci_high_gbp"]) == pytest.approx((0.0, 0.0))
    # The total's interval is of the replicate totals (1200·GRID → 30, 1170), not a sum of item intervals.
    assert (matched["total"]["saving_ci_low_gbp"], matched["total"]["saving_ci_high_gbp"]) == \
        pytest.approx((30.0, 1170.0))
    assert totals["matched"].replicates == pytest.approx(1200 * GRID)
    # The naive rows are unchanged by the matched replicates: still no interval.
    assert _rows(table, "naive")["total"]["saving_ci_low_gbp"] is None


@pytest.mark.parametrize("matched", [
    None,                                                    # no matched sets
    {**NAIVE, "ae_attendances": float("nan")},               # a measure not estimated
    {k: v for k, v in NAIVE.items() if k != "outpatient_appointments"},  # a measure missing
])
def test_costs_avoided_a_basis_with_no_estimate_gives_blank_rows(matched):
    table, totals = costs_avoided(NAIVE, matched, None, UNIT)
    rows = _rows(table, "matched")
    assert list(rows) == ITEMS
    for item in ITEMS:
        assert rows[item]["saving_per_patient_gbp"] is None
        assert rows[item]["events_avoided_per_patient"] is None
        assert rows[item]["saving_ci_low_gbp"] is None
    assert rows["emergency_admissions"]["unit_cost_gbp"] == 1000.0  # the price is still shown
    assert totals["matched"].per_patient is None
    assert totals["naive"].per_patient == pytest.approx(680.0)  # the other basis is unaffected


def _vfm_rows(table):
    return {(r["basis"], r["scenario"]): r for r in table.iter_rows(named=True)}


def test_value_for_money_to_date_and_drop_offs_by_hand():
    totals = {"naive": Saving(10.0), "matched": Saving(None)}
    table = value_for_money(totals, referred_to_date=300, referred_last_year=200, cost_to_date=6000.0,
                            annual_cost=2000.0)
    assert table.columns == ["basis", "scenario", "years", "discount_rate", "benefit_gbp", "cost_gbp", "roi",
                             "roi_ci_low", "roi_ci_high", "prob_roi_at_least_1", "payback_months"]
    assert [(r["basis"], r["scenario"]) for r in table.iter_rows(named=True)] == [
        (b, s) for b in ("naive", "matched") for s in ("to_date", "drop_off_0", "drop_off_20", "drop_off_33")]
    rows = _vfm_rows(table)
    # To date: 10 × 300 referred to date = 3,000 against the cost to date, one year, undiscounted.
    to_date = rows["naive", "to_date"]
    assert (to_date["years"], to_date["discount_rate"]) == (1, 0.0)
    assert to_date["benefit_gbp"] == pytest.approx(3000.0)
    assert to_date["cost_gbp"] == 6000.0
    assert to_date["roi"] == pytest.approx(0.5)
    assert to_date["payback_months"] is None
    # Drop-offs: B = 10 × 200 referred in the last year = 2,000 against the annual cost, five years, 3.5%.
    for scenario, factor, payback in (("drop_off_0", F0, 12), ("drop_off_20", F20, 12), ("drop_off_33", F33, 12)):
        row = rows["naive", scenario]
        assert (row["years"], row["discount_rate"], row["cost_gbp"]) == (5, 0.035, 2000.0)
        assert row["benefit_gbp"] == pytest.approx(2000.0 * factor)
        assert row["roi"] == pytest.approx(factor)
        assert row["payback_months"] == payback  # 12 × 2000/12 = 2,000 exactly: month 12
    # Naive: no interval, no probability.
    assert all(rows["naive", s][c] is None for s in ("to_date", "drop_off_0")
               for c in ("roi_ci_low", "roi_ci_high", "prob_roi_at_least_1"))
    # A basis with no estimate: blank benefit, ROI and payback, the costs still shown.
    for scenario in ("to_date", "drop_off_0", "drop_off_20", "drop_off_33"):
        row = rows["matched", scenario]
        assert row["benefit_gbp"] is None and row["roi"] is None and row["payback_months"] is None
    assert rows["matched", "to_date"]["cost_gbp"] == 6000.0 and rows["matched", "drop_off_0"]["cost_gbp"] == 2000.0


def test_value_for_money_payback_uses_the_annual_benefit_of_last_year_referrals():
    # B = 1 × 120 = 120 a year (10 a month) against 150: 15 months undropped; with 20% drop-off 12 + 30/8 → 16.
    totals = {"naive": Saving(1.0)}
    rows = _vfm_rows(value_for_money(totals, referred_to_date=10_000, referred_last_year=120, cost_to_date=1.0,
                                     annual_cost=150.0))
    assert rows["naive", "drop_off_0"]["payback_months"] == 15
    assert rows["naive", "drop_off_20"]["payback_months"] == 16
    assert rows["naive", "drop_off_33"]["payback_months"] == 17  # 12 + 30 / 6.67 = 16.5


def test_value_for_money_matched_interval_and_probability_from_replicates():
    # To date: ROI replicate = saving × 100 / 100 = the saving, so the replicates are the ROIs.
    reps = np.array([0.5, 1.0, 1.5, 2.0])  # 1.0 counts as ROI ≥ 1
    totals = {"naive": Saving(1.25), "matched": Saving(1.25, reps)}
    # Five years: ROI replicate = saving × 10 × factor / (10 × F0 × 1.001): the saving at 0% drop-off, a hair
    # less (so that no replicate sits on ROI = 1 up to rounding).
    table = value_for_money(totals, referred_to_date=100, referred_last_year=10, cost_to_date=100.0,
                            annual_cost=10 * F0 * 1.001)
    rows = _vfm_rows(table)
    to_date = rows["matched", "to_date"]
    assert to_date["roi"] == pytest.approx(1.25)
    assert to_date["prob_roi_at_least_1"] == pytest.approx(0.75)
    # Linear quantiles of 4 values at 2.5% and 97.5%: 0.5 + 0.075 × 0.5 and 1.5 + 0.925 × 0.5.
    assert (to_date["roi_ci_low"], to_date["roi_ci_high"]) == pytest.approx((0.5375, 1.9625))
    assert rows["matched", "drop_off_0"]["roi"] == pytest.approx(1.25 / 1.001)
    # drop_off_0: ROIs 0.4995, 0.999, 1.4985, 1.998 → two in four.
    assert rows["matched", "drop_off_0"]["prob_roi_at_least_1"] == pytest.approx(0.5)
    # drop_off_20: ROIs = reps × F20/(F0 × 1.001) = 0.31, 0.61, 0.92, 1.23 → one in four.
    assert rows["matched", "drop_off_20"]["prob_roi_at_least_1"] == pytest.approx(0.25)
    # drop_off_33: reps × F33/(F0 × 1.001) = 0.21 … 0.84 → none.
    assert rows["matched", "drop_off_33"]["prob_roi_at_least_1"] == pytest.approx(0.0)
    lo, hi = rows["matched", "drop_off_20"]["roi_ci_low"], rows["matched", "drop_off_20"]["roi_ci_high"]
    assert (lo, hi) == pytest.approx((0.5375 * F20 / (F0 * 1.001), 1.9625 * F20 / (F0 * 1.001)))
    # The naive basis, same saving: same ROI, no interval.
    assert rows["naive", "drop_off_0"]["roi"] == pytest.approx(1.25 / 1.001)
    assert rows["naive", "drop_off_0"]["prob_roi_at_least_1"] is None
    assert rows["naive", "drop_off_0"]["roi_ci_low"] is None


@pytest.mark.parametrize(("cost_to_date", "annual_cost"), [(None, None), (0.0, 0.0)])
def test_value_for_money_missing_cost_gives_blank_roi(cost_to_date, annual_cost):
    totals = {"naive": Saving(10.0), "matched": Saving(10.0, np.array([9.0, 11.0]))}
    rows = _vfm_rows(value_for_money(totals, referred_to_date=300, referred_last_year=200,
                                     cost_to_date=cost_to_date, annual_cost=annual_cost))
    for (basis, scenario), row in rows.items():
        assert row["benefit_gbp"] is not None  # the benefit is still reported
        assert row["roi"] is None, (basis, scenario)
        assert row["roi_ci_low"] is None and row["prob_roi_at_least_1"] is None
        assert row["cost_gbp"] == (cost_to_date if scenario == "to_date" else annual_cost)
    if annual_cost is None:
        assert all(row["payback_months"] is None for row in rows.values())


def test_value_inputs_carry_what_the_scenarios_start_from():
    totals = {"naive": Saving(10.0), "matched": Saving(None)}
    table = value_inputs(totals, 300, 200, 6000.0, 2000.0, "2016/17")
    assert table.columns == ["basis", "saving_per_patient_gbp", "referred_to_date", "referred_last_year",
                             "annual_benefit_gbp", "cost_to_date_gbp", "annual_cost_gbp", "price_year"]
    naive, matched = table.iter_rows(named=True)
    assert naive == {"basis": "naive", "saving_per_patient_gbp": 10.0, "referred_to_date": 300,
                     "referred_last_year": 200, "annual_benefit_gbp": 2000.0, "cost_to_date_gbp": 6000.0,
                     "annual_cost_gbp": 2000.0, "price_year": "2016/17"}
    assert matched["basis"] == "matched" and matched["annual_benefit_gbp"] is None
