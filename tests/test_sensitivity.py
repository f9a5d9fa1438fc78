"""E-values (speval.analysis.sensitivity; VanderWeele & Ding 2017), hand-computed."""
from __future__ import annotations

import math

import pytest

from speval.analysis.sensitivity import e_value, e_value_of_interval


@pytest.mark.parametrize("rr, expected", [
    (1.0, 1.0),
    (2.0, 2.0 + math.sqrt(2.0)),  # 3.414
    (0.5, 2.0 + math.sqrt(2.0)),  # a protective ratio is taken as its inverse
    (0.8, 1.25 + math.sqrt(1.25 * 0.25)),  # 1.809
    (3.9, 3.9 + math.sqrt(3.9 * 2.9)),  # VanderWeele & Ding's worked example: 7.26
])
def test_e_value_of_a_rate_ratio(rr, expected):
    assert e_value(rr) == pytest.approx(expected)


@pytest.mark.parametrize("rr", [None, 0.0, -1.0, math.nan, math.inf])
def test_no_e_value_without_a_positive_rate_ratio(rr):
    assert e_value(rr) is None


def test_e_value_of_an_interval_is_that_of_the_limit_nearer_one():
    assert e_value_of_interval(0.5, 0.9) == pytest.approx(e_value(0.9))
    assert e_value_of_interval(1.2, 2.5) == pytest.approx(e_value(1.2))
    assert e_value_of_interval(0.7, 1.1) == 1.0  # contains no effect
    assert e_value_of_interval(1.0, 1.3) == 1.0
    assert e_value_of_interval(None, 1.3) is None
    assert round(e_value(3.9), 2) == 7.26 and round(e_value_of_interval(1.8, 8.5), 2) == 3.0
