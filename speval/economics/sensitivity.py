"""How much the value-for-money and social-return results depend on their assumptions (one-way sensitivity),
and the saving per patient at which the programme breaks even.

One-way: each assumption in turn goes to the low and then the high end of its range while every other one keeps
the value the run used, so a reader sees which assumption matters most (the report's tornado chart). The return
on investment is the matched five-year scenario with benefits sustained; its arithmetic is
`speval.economics.scenarios`, the same the pipeline uses, so at the values used it equals the run's
value_for_money.csv. The social return is worked from each component's value before deadweight, attribution and
displacement, taken back out of analysis.sroi, so it too equals the run's at the values used.

The ranges (the evaluation's choices, named in the report's chart notes):

- matched total saving per patient: the bounds of its 95% interval (the same bootstrap as the effects);
- discount rate: 1.5% (the Green Book's rate for health effects) to 5%;
- drop-off of the benefit: 0 to 33% a year, the range of the scenarios;
- each unit cost: ±25%, an illustrative range (no published spread is committed);
- well-being proxies and the volunteering wage: their committed low and high values (the social return's
  central value takes the midpoint of each);
- each SROI adjustment: ±10 percentage points, kept between 0 and 1.

Plain numbers in, plain numbers out: no tables, no Dagster, no report wording.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from speval.economics.scenarios import DISCOUNT_RATE, YEARS, projected_benefit, ratio

#: The Green Book's discount rate for health effects, and the high end of the discount-rate range.
HEALTH_DISCOUNT_RATE = 0.015
HIGH_DISCOUNT_RATE = 0.05
#: Yearly drop-off of the benefit: sustained to falling by a third a year (the scenarios' range).
DROP_OFF_RANGE = (0.0, 0.333)
#: Each unit cost moves by this share either way (illustrative).
UNIT_COST_SPREAD = 0.25
#: Each SROI adjustment moves by this many percentage points either way, kept between 0 and 1.
ADJUSTMENT_STEP = 0.10


@dataclass(frozen=True)
class Swing:
    """One assumption's range and the result at each end of it (`at_low`: with the assumption at
    `low`, which need not be the lower result). `detail` names which one, e.g. the costed item, or the
    component and the adjustment."""

    assumption: str
    detail: tuple[str, ...]
    used: float
    low: float
    high: float
    at_low: float | None
    at_high: float | None

    @property
    def width(self) -> float:
        """How far apart the two ends are (0 when either is unknown): the tornado's sort key."""
        if self.at_low is None or self.at_high is None:
            return 0.0
        return abs(self.at_high - self.at_low)


def _number(x) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


# --------------------------------------------------------------------------- return on investment


def five_year_return(saving_per_patient: float, people: float, annual_cost: float | None, *,
                     drop_off: float = 0.0, discount_rate: float = DISCOUNT_RATE, years: int = YEARS) -> float | None:
    """The return per £1 of a year's referrals: the saving per patient × the people referred in a year,
    projected over `years` with `drop_off` and `discount_rate`, against a year's cost (None without a cost)."""
    benefit = projected_benefit(saving_per_patient * people, drop_off, years, discount_rate)
    return _number(ratio(benefit, annual_cost))


def break_even_saving(people: float, annual_cost: float | None, *, drop_off: float = 0.0,
                      discount_rate: float = DISCOUNT_RATE, years: int = YEARS) -> float | None:
    """The total saving per patient at which the return is exactly £1 per £1: a year's cost over what one
    pound of saving per patient is worth over the scenario. None when there is no cost or nobody to save on."""
    if annual_cost is None or not annual_cost > 0 or not people > 0:
        return None
    return annual_cost / projected_benefit(float(people), drop_off, years, discount_rate)


@dataclass(frozen=True)
class ReturnInputs:
    """What the matched five-year return is worked from: the saving per patient of each costed item at the
    price year (analysis.costs_avoided), the 95% interval of their total, the people referred in the last year
    and a year's cost (analysis.value_inputs), and the scenario used."""

    saving_by_item: Mapping[str, float]
    saving_interval: tuple[float | None, float | None]
    people: float
    annual_cost: float | None
    drop_off: float = 0.0
    discount_rate: float = DISCOUNT_RATE
    years: int = YEARS

    @property
    def saving(self) -> float:
        return float(sum(self.saving_by_item.values()))

    def at(self, saving: float | None = None, **changed) -> float | None:
        """The return with the total saving and any scenario setting replaced."""
        settings = {"drop_off": self.drop_off, "discount_rate": self.discount_rate, "years": self.years} | changed
        return five_year_return(self.saving if saving is None else saving, self.people, self.annual_cost,
                                **settings)


def return_swings(inputs: ReturnInputs) -> list[Swing]:
    """The return at each end of every assumption's range, in a fixed order: the saving per patient, the
    discount rate, the drop-off, then each item's unit cost (a unit cost ±25% moves that item's saving by
    ±25%)."""
    swings = []
    low, high = inputs.saving_interval
    if low is not None and high is not None:
        swings.append(Swing("saving", (), inputs.saving, low, high, inputs.at(low), inputs.at(high)))
    swings.append(Swing("discount_rate", (), inputs.discount_rate, HEALTH_DISCOUNT_RATE, HIGH_DISCOUNT_RATE,
                        inputs.at(discount_rate=HEALTH_DISCOUNT_RATE), inputs.at(discount_rate=HIGH_DISCOUNT_RATE)))
    low, high = DROP_OFF_RANGE
    swings.append(Swing("drop_off", (), inputs.drop_off, low, high, inputs.at(drop_off=low),
                        inputs.at(drop_off=high)))
    for item, saving in inputs.saving_by_item.items():
        swings.append(Swing("unit_cost", (item,), 1.0, 1 - UNIT_COST_SPREAD, 1 + UNIT_COST_SPREAD,
                            inputs.at(inputs.saving - UNIT_COST_SPREAD * saving),
                            inputs.at(inputs.saving + UNIT_COST_SPREAD * saving)))
    return swings


# --------------------------------------------------------------------------- social return


def share_kept(adjustments: Iterable[float]) -> float:
    """What is left of a value after deadweight, attribution and displacement: Π (1 − adjustment)."""
    return math.prod(1.0 - a for a in adjustments)


@dataclass(frozen=True)
class SocialValue:
    """One component of the social return: its value before adjustments with the low and the high proxy,
    and its adjustments (name → share, e.g. deadweight 0.25)."""

    component: str
    low: float
    high: float
    adjustments: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_adjusted(cls, component: str, value_low: float, value_high: float,
                      adjustments: Mapping[str, float]) -> SocialValue | None:
        """From the adjusted values of analysis.sroi, taken back to before the adjustments; None when nothing
        is kept (an adjustment of 1), as the value before it cannot be known."""
        kept = share_kept(adjustments.values())
        if kept <= 0:
            return None
        return cls(component, value_low / kept, value_high / kept, dict(adjustments))

    def value(self, end: str = "central", adjustments: Mapping[str, float] | None = None) -> float:
        """The adjusted value at the low or high proxy, or at their midpoint (`central`)."""
        before = {"low": self.low, "high": self.high, "central": (self.low + self.high) / 2}[end]
        return before * share_kept({**self.adjustments, **(adjustments or {})}.values())


def social_return(components: Iterable[SocialValue], cost: float | None, *, ends: Mapping[str, str] | None = None,
                  adjustments: Mapping[tuple[str, str], float] | None = None) -> float | None:
    """The social value per £1 of the cost to date: every component at its central value unless `ends` picks
    its low or high end, with any adjustment replaced ((component, adjustment) → share)."""
    ends, adjustments = ends or {}, adjustments or {}
    total = sum(c.value(ends.get(c.component, "central"),
                        {a: v for (comp, a), v in adjustments.items() if comp == c.component})
                for c in components)
    return _number(ratio(total, cost))


def social_swings(components: list[SocialValue], cost: float | None) -> list[Swing]:
    """The social return at each end of every assumption's range, in a fixed order: each component valued
    with its low and high proxy (only those whose two differ: the well-being proxies, the volunteering wage),
    then each adjustment of each component ±10 percentage points (kept between 0 and 1)."""
    swings = []
    for c in components:
        if c.low != c.high:
            swings.append(Swing("valuation", (c.component,), (c.low + c.high) / 2, c.low, c.high,
                                social_return(components, cost, ends={c.component: "low"}),
                                social_return(components, cost, ends={c.component: "high"})))
    for c in components:
        for name, used in c.adjustments.items():
            low, high = max(0.0, used - ADJUSTMENT_STEP), min(1.0, used + ADJUSTMENT_STEP)
            swings.append(Swing("adjustment", (c.component, name), used, low, high,
                                social_return(components, cost, adjustments={(c.component, name): low}),
                                social_return(components, cost, adjustments={(c.component, name): high})))
    return swings


def reaching(swings: Iterable[Swing], used: float | None, target: float = 1.0) -> list[tuple[Swing, str]]:
    """The assumptions one end of whose range ('low' or 'high') takes the result across `target` from the
    value used (to at least `target` from below it, or below it from at least it): which single change would
    reach break-even, or lose it."""
    if used is None:
        return []
    found = []
    for s in swings:
        for end, value in (("low", s.at_low), ("high", s.at_high)):
            if value is not None and (value >= target) != (used >= target):
                found.append((s, end))
                break
    return found
