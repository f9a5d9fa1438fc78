"""Costs avoided and value for money, on the naive and the matched basis (docs/contract/rules.md §"Costs
avoided" and "Value for money", ADR 0019).

The matched figures are costed from the primary matched difference in differences of the 12-month cohort, and
their intervals come from the same bootstrap replicates as the DiD intervals: each replicate's DiDs are costed
and carried through to a replicate ROI, so a saving, an ROI and the probability that ROI ≥ 1 all describe one
sampling distribution. The naive figures (the seeds' method: the cohort's before/after change) are shown
beside them, without intervals.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from speval.economics.scenarios import (DISCOUNT_RATE, YEARS, payback_months, projected_benefit, ratio)
from speval.run.vocabulary import COST_BASES, COST_ITEMS, VALUE_SCENARIOS

COSTED_COHORT = "12m"  # the seeds' "if the benefits last one year": a year of follow-up per patient
LEVEL = 0.95
ITEMS = tuple(i.code for i in COST_ITEMS if i.code != "total")

COSTS_SCHEMA = {"basis": pl.String, "cohort": pl.String, "item": pl.String, "events_avoided_per_patient": pl.Float64,
                "unit_cost_gbp": pl.Float64, "saving_per_patient_gbp": pl.Float64,
                "saving_ci_low_gbp": pl.Float64, "saving_ci_high_gbp": pl.Float64}
VALUE_SCHEMA = {"basis": pl.String, "scenario": pl.String, "years": pl.Int64, "discount_rate": pl.Float64,
                "benefit_gbp": pl.Float64, "cost_gbp": pl.Float64, "roi": pl.Float64, "roi_ci_low": pl.Float64,
                "roi_ci_high": pl.Float64, "prob_roi_at_least_1": pl.Float64, "payback_months": pl.Int64}


def events_avoided(change: dict[str, float | np.ndarray]) -> dict[str, float | np.ndarray]:
    """Events avoided per patient per item from the change per measure (a fall is a positive number): each
    event is costed once, so `other_admissions` is in-patient minus emergency admissions."""
    return {
        "emergency_admissions": -change["emergency_admissions"],
        "other_admissions": -(change["inpatient_admissions"] - change["emergency_admissions"]),
        "ae_attendances": -change["ae_attendances"],
        "outpatient_appointments": -change["outpatient_appointments"],
    }


@dataclass(frozen=True)
class Saving:
    """A basis's total saving per patient and, on the matched basis, its bootstrap replicates."""

    per_patient: float | None
    replicates: np.ndarray | None = None


def _interval(values: np.ndarray) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return None, None
    low, high = np.quantile(finite, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return float(low), float(high)


def _none_if_nan(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def costs_avoided(naive_change: dict[str, float] | None, matched_did: dict[str, float] | None,
                  matched_replicates: dict[str, np.ndarray] | None, unit_costs: dict[str, float]
                  ) -> tuple[pl.DataFrame, dict[str, Saving]]:
    """costs_avoided.csv rows (basis × item, the 12-month cohort) and each basis's total saving per patient.

    `naive_change`: hospital_use's change per measure (12-month cohort, group all); `matched_did`: the primary
    matched DiD per measure; `matched_replicates`: the DiD bootstrap replicates per measure (one array per
    measure, replicate b of every measure drawn from the same resample of matched sets). A basis with no
    estimate (an empty cohort, no matched sets) has blank rows."""
    rows, totals = [], {}
    for basis, change, replicates in (("naive", naive_change, None), ("matched", matched_did, matched_replicates)):
        have = change is not None and all(change.get(m) is not None and np.isfinite(change[m])
                                          for m in ("emergency_admissions", "inpatient_admissions", "ae_attendances",
                                                    "outpatient_appointments"))
        events = events_avoided(change) if have else {}
        rep_events = events_avoided(replicates) if have and replicates is not None else None
        total, total_reps = 0.0, None
        for item in ITEMS:
            row = {"basis": basis, "cohort": COSTED_COHORT, "item": item, "unit_cost_gbp": unit_costs[item]}
            if have:
                saving = float(events[item]) * unit_costs[item]
                row.update(events_avoided_per_patient=float(events[item]), saving_per_patient_gbp=saving)
                total += saving
                if rep_events is not None:
                    reps = np.asarray(rep_events[item], dtype=np.float64) * unit_costs[item]
                    total_reps = reps if total_reps is None else total_reps + reps
                    row["saving_ci_low_gbp"], row["saving_ci_high_gbp"] = _interval(reps)
            rows.append(row)
        row = {"basis": basis, "cohort": COSTED_COHORT, "item": "total"}
        if have:
            row["saving_per_patient_gbp"] = total
            if total_reps is not None:
                row["saving_ci_low_gbp"], row["saving_ci_high_gbp"] = _interval(total_reps)
        rows.append(row)
        totals[basis] = Saving(total if have else None, total_reps)
    order = {b.code: i for i, b in enumerate(COST_BASES)}
    table = pl.DataFrame(rows, schema=COSTS_SCHEMA).sort(pl.col("basis").replace_strict(order), maintain_order=True)
    return table, totals


INPUTS_SCHEMA = {"basis": pl.String, "saving_per_patient_gbp": pl.Float64, "referred_to_date": pl.Int64,
                 "referred_last_year": pl.Int64, "annual_benefit_gbp": pl.Float64, "cost_to_date_gbp": pl.Float64,
                 "annual_cost_gbp": pl.Float64, "price_year": pl.String}


def value_inputs(totals: dict[str, Saving], referred_to_date: int, referred_last_year: int,
                 cost_to_date: float | None, annual_cost: float | None, price_year: str | None) -> pl.DataFrame:
    """What the value-for-money scenarios start from, per basis (tables/value_inputs.csv): the total saving per
    patient, the people it is scaled to, the annual benefit B and the costs, so an auditor or
    `speval value-for-money --run` can redo the arithmetic."""
    rows = []
    for basis in (b.code for b in COST_BASES):
        per_patient = totals.get(basis, Saving(None)).per_patient
        rows.append({"basis": basis, "saving_per_patient_gbp": per_patient, "referred_to_date": referred_to_date,
                     "referred_last_year": referred_last_year,
                     "annual_benefit_gbp": None if per_patient is None else per_patient * referred_last_year,
                     "cost_to_date_gbp": cost_to_date, "annual_cost_gbp": annual_cost, "price_year": price_year})
    return pl.DataFrame(rows, schema=INPUTS_SCHEMA)


def value_for_money(totals: dict[str, Saving], referred_to_date: int, referred_last_year: int,
                    cost_to_date: float | None, annual_cost: float | None) -> pl.DataFrame:
    """value_for_money.csv rows: per basis, the benefit to date (total saving per patient × referred to date,
    against the cost to date, one year, undiscounted) and the five-year drop-off scenarios (B = total saving per
    patient × referred in the last year, against a year's cost, discounted). The matched basis carries the 95%
    interval of the ROI and the share of replicates with ROI ≥ 1."""
    rows = []
    for basis in (b.code for b in COST_BASES):
        saving = totals.get(basis, Saving(None))
        for s in VALUE_SCENARIOS:
            row = {"basis": basis, "scenario": s.code, "years": s.years}
            if s.drop_off is None:
                row.update(discount_rate=0.0, cost_gbp=cost_to_date)
                scale, cost = referred_to_date, cost_to_date
                project = lambda b: b  # noqa: E731 - the benefit to date is not projected
            else:
                row.update(discount_rate=DISCOUNT_RATE, cost_gbp=annual_cost)
                scale, cost = referred_last_year, annual_cost
                project = lambda b, d=s.drop_off: projected_benefit(b, d, YEARS, DISCOUNT_RATE)  # noqa: E731
            if saving.per_patient is not None:
                annual = saving.per_patient * scale
                row["benefit_gbp"] = float(project(annual))
                row["roi"] = _none_if_nan(ratio(row["benefit_gbp"], cost))
                if s.drop_off is not None and annual_cost is not None:
                    row["payback_months"] = payback_months(annual, annual_cost, s.drop_off)
                if saving.replicates is not None and row["roi"] is not None:
                    roi_reps = ratio(project(saving.replicates * scale), cost)
                    row["roi_ci_low"], row["roi_ci_high"] = _interval(roi_reps)
                    finite = roi_reps[np.isfinite(roi_reps)]  # the same replicates as the interval
                    row["prob_roi_at_least_1"] = float(np.mean(finite >= 1.0)) if finite.size else None
            rows.append(row)
    return pl.DataFrame(rows, schema=VALUE_SCHEMA)
