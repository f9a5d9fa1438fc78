"""Value-for-money scenarios: a benefit projected over years with drop-off and discounting, and payback.

The arithmetic of docs/contract/rules.md "Value for money" (ADR 0019), written once and used by the pipeline
(on the naive and matched estimates and on every bootstrap replicate) and by `speval value-for-money`, the
calculator a commissioner reruns with their own numbers. Every function takes numbers or NumPy arrays of
annual benefits, so the replicates are one call, not a loop.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: HM Treasury Green Book discount rate (3.5% a year) and the five-year horizon of the scenarios.
DISCOUNT_RATE = 0.035
YEARS = 5
#: Payback is looked for within this many months; beyond it, it is reported as not reached.
PAYBACK_HORIZON_MONTHS = 60
#: A cumulative benefit within this relative distance below the cost counts as having reached it, so that
#: twelve months of B/12 reach B despite floating-point rounding.
_REACH_TOLERANCE = 1e-9


def yearly_shares(drop_off: float, years: int) -> np.ndarray:
    """The share of the first-year benefit counted in years 0..years-1: max(0, 1 - drop_off * t)."""
    return np.maximum(0.0, 1.0 - drop_off * np.arange(years))


def projected_benefit(annual_benefit, drop_off: float, years: int = YEARS, discount_rate: float = DISCOUNT_RATE):
    """Σ_{t=0}^{years-1} B × max(0, 1 − d·t) / (1 + r)^t: the benefit of one year's referrals over `years`,
    falling each year by `drop_off` of its first-year value, discounted at `discount_rate` (year 0 not
    discounted)."""
    factor = float(np.sum(yearly_shares(drop_off, years) / (1.0 + discount_rate) ** np.arange(years)))
    return np.asarray(annual_benefit, dtype=np.float64) * factor if np.ndim(annual_benefit) else \
        float(annual_benefit) * factor


def payback_months(annual_benefit: float, annual_cost: float, drop_off: float,
                   horizon: int = PAYBACK_HORIZON_MONTHS) -> int | None:
    """The smallest whole number of months m whose benefit (B/12 a month, undiscounted, falling by `drop_off`
    of the first-year value at the start of each new year) adds up to `annual_cost`; None when it is not
    reached within `horizon` months, or when the benefit or the cost is not positive (no cost, no payback to
    speak of, as the ROI is then undefined too)."""
    if not (annual_benefit > 0 and annual_cost > 0):
        return None
    month = np.arange(horizon)
    monthly = annual_benefit / 12.0 * np.maximum(0.0, 1.0 - drop_off * (month // 12))
    reached = np.nonzero(np.cumsum(monthly) >= annual_cost * (1.0 - _REACH_TOLERANCE))[0]
    return int(reached[0]) + 1 if reached.size else None


@dataclass(frozen=True)
class ScenarioRow:
    scenario: str
    years: int
    discount_rate: float
    drop_off: float | None
    benefit_gbp: float
    cost_gbp: float | None
    roi: float | None
    payback_months: int | None


def ratio(benefit, cost):
    """benefit / cost, None (or NaN for arrays) when the cost is missing or not positive."""
    if cost is None or not cost > 0:
        return None if np.ndim(benefit) == 0 else np.full(np.shape(benefit), np.nan)
    return benefit / cost


def scenario_rows(annual_benefit: float, annual_cost: float | None, drop_offs: dict[str, float],
                  years: int = YEARS, discount_rate: float = DISCOUNT_RATE) -> list[ScenarioRow]:
    """One row per named drop-off: the projected benefit of a year of referrals, its ROI against a year's
    cost, and the payback month."""
    rows = []
    for name, d in drop_offs.items():
        benefit = projected_benefit(annual_benefit, d, years, discount_rate)
        rows.append(ScenarioRow(name, years, discount_rate, d, benefit, annual_cost, ratio(benefit, annual_cost),
                                None if annual_cost is None else payback_months(annual_benefit, annual_cost, d)))
    return rows
