"""One-way sensitivity of the return on investment and the social return, and the break-even saving
(speval/economics/sensitivity.py): at the values used they equal the pipeline's figures, and each range moves
the result the way the arithmetic says."""
from __future__ import annotations

import pytest

from speval.economics.scenarios import DISCOUNT_RATE, YEARS, projected_benefit
from speval.economics.sensitivity import (ADJUSTMENT_STEP, HEALTH_DISCOUNT_RATE, HIGH_DISCOUNT_RATE, UNIT_COST_SPREAD,
                                          ReturnInputs, SocialValue, break_even_saving, five_year_return, reaching,
                                          return_swings, share_kept, social_return, social_swings)

# Five years sustained at 3.5%: 1 + 1/1.035 + ... + 1/1.035^4.
FACTOR = sum(1 / 1.035 ** t for t in range(5))
INPUTS = ReturnInputs(saving_by_item={"emergency_admissions": 80.0, "other_admissions": 20.0,
                                      "ae_attendances": -10.0, "outpatient_appointments": 10.0},
                      saving_interval=(-50.0, 250.0), people=1000, annual_cost=600_000.0)


def test_the_return_at_the_values_used_is_the_scenarios_return():
    assert INPUTS.saving == 100.0
    assert INPUTS.at() == pytest.approx(100.0 * 1000 * FACTOR / 600_000)
    assert INPUTS.at() == pytest.approx(projected_benefit(100_000.0, 0.0, YEARS, DISCOUNT_RATE) / 600_000)
    assert five_year_return(100.0, 1000, None) is None  # no cost: no return
    assert five_year_return(100.0, 1000, 0.0) is None


def test_break_even_saving_gives_a_return_of_one():
    needed = break_even_saving(1000, 500_000.0)
    assert needed == pytest.approx(500_000 / (1000 * FACTOR))
    assert five_year_return(needed, 1000, 500_000.0) == pytest.approx(1.0)
    assert five_year_return(needed, 1000, 500_000.0, drop_off=0.2) < 1  # falling benefits need more
    assert break_even_saving(1000, 500_000.0, drop_off=0.2) > needed
    assert break_even_saving(0, 500_000.0) is None and break_even_saving(1000, None) is None


def test_return_swings_cover_every_range_in_order():
    swings = return_swings(INPUTS)
    assert [(s.assumption, s.detail) for s in swings] == [
        ("saving", ()), ("discount_rate", ()), ("drop_off", ()),
        ("unit_cost", ("emergency_admissions",)), ("unit_cost", ("other_admissions",)),
        ("unit_cost", ("ae_attendances",)), ("unit_cost", ("outpatient_appointments",))]
    saving, discount, drop_off, emergency, *_ = swings
    assert (saving.at_low, saving.at_high) == pytest.approx((-50 * 1000 * FACTOR / 600_000, 250 * 1000 * FACTOR / 600_000))
    assert (discount.low, discount.high) == (HEALTH_DISCOUNT_RATE, HIGH_DISCOUNT_RATE) == (0.015, 0.05)
    assert discount.at_low > INPUTS.at() > discount.at_high  # a lower rate discounts later years less
    assert drop_off.at_low == pytest.approx(INPUTS.at()) and drop_off.at_high < INPUTS.at()
    # Emergency admissions' unit cost ±25% moves the saving by ±25% of that item's £80.
    assert emergency.at_low == pytest.approx(INPUTS.at(100 - UNIT_COST_SPREAD * 80))
    assert emergency.at_high == pytest.approx(INPUTS.at(100 + 20))
    # An item whose saving is negative (more A&E attendances) loses more when its unit cost rises.
    ae = swings[5]
    assert ae.at_high < INPUTS.at() < ae.at_low
    assert saving.width == max(s.width for s in swings)


def test_no_interval_no_saving_swing():
    inputs = ReturnInputs({"emergency_admissions": 5.0}, (None, None), 100, 10_000.0)
    assert [s.assumption for s in return_swings(inputs)] == ["discount_rate", "drop_off", "unit_cost"]


def test_which_change_reaches_break_even():
    assert INPUTS.at() < 1
    reached = reaching(return_swings(INPUTS), INPUTS.at())
    assert [(s.assumption, end) for s, end in reached] == [("saving", "high")]
    # From above 1, the changes that would lose it.
    rich = ReturnInputs({"emergency_admissions": 140.0}, (90.0, 200.0), 1000, 500_000.0)
    assert rich.at() > 1
    assert [(s.assumption, end) for s, end in reaching(return_swings(rich), rich.at())] == [
        ("saving", "low"), ("drop_off", "high"), ("unit_cost", "low")]
    assert reaching(return_swings(INPUTS), None) == []


COMPONENTS = [
    SocialValue("wellbeing", 1000.0, 3000.0, {"deadweight": 0.25, "attribution": 0.25, "displacement": 0.0}),
    SocialValue("volunteering", 500.0, 900.0, {"deadweight": 0.05, "attribution": 0.0, "displacement": 0.0}),
    SocialValue("welfare", 400.0, 400.0, {"deadweight": 0.2, "attribution": 0.1, "displacement": 0.0}),
]


def test_social_return_central_is_the_midpoint_of_low_and_high():
    low = 1000 * 0.5625 + 500 * 0.95 + 400 * 0.72
    high = 3000 * 0.5625 + 900 * 0.95 + 400 * 0.72
    ends_low = {c.component: "low" for c in COMPONENTS}
    ends_high = {c.component: "high" for c in COMPONENTS}
    assert social_return(COMPONENTS, 1000.0, ends=ends_low) == pytest.approx(low / 1000)
    assert social_return(COMPONENTS, 1000.0, ends=ends_high) == pytest.approx(high / 1000)
    assert social_return(COMPONENTS, 1000.0) == pytest.approx((low + high) / 2 / 1000)
    assert social_return(COMPONENTS, None) is None


def test_values_before_adjustments_come_back_from_the_adjusted_ones():
    adjustments = {"deadweight": 0.25, "attribution": 0.25, "displacement": 0.0}
    back = SocialValue.from_adjusted("wellbeing", 562.5, 1687.5, adjustments)
    assert (back.low, back.high) == pytest.approx((1000.0, 3000.0))
    assert back.value("low") == pytest.approx(562.5)
    assert share_kept([0.25, 0.25, 0.0]) == 0.5625
    assert SocialValue.from_adjusted("welfare", 0.0, 0.0, {"deadweight": 1.0}) is None


def test_social_swings_move_each_adjustment_ten_points_within_zero_and_one():
    swings = social_swings(COMPONENTS, 1000.0)
    assert [(s.assumption, s.detail) for s in swings][:2] == [("valuation", ("wellbeing",)),
                                                            ("valuation", ("volunteering",))]
    assert not any(s.detail == ("welfare",) for s in swings)  # low = high: nothing to vary
    adjustments = {s.detail: s for s in swings if s.assumption == "adjustment"}
    assert len(adjustments) == 9
    dead = adjustments[("wellbeing", "deadweight")]
    assert (dead.low, dead.high) == pytest.approx((0.25 - ADJUSTMENT_STEP, 0.35))
    assert dead.at_low > social_return(COMPONENTS, 1000.0) > dead.at_high
    # Kept between 0 and 1: a displacement of 0 cannot go lower, so its low end is the value used.
    none = adjustments[("wellbeing", "displacement")]
    assert (none.low, none.high) == (0.0, pytest.approx(0.1))
    assert none.at_low == pytest.approx(social_return(COMPONENTS, 1000.0))
    vol = adjustments[("volunteering", "deadweight")]
    assert vol.low == 0.0
    wellbeing = swings[0]
    assert wellbeing.at_low == pytest.approx(social_return(COMPONENTS, 1000.0, ends={"wellbeing": "low"}))
    assert wellbeing.at_high - wellbeing.at_low == pytest.approx(2000 * 0.5625 / 1000)
