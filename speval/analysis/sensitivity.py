"""Sensitivity to unmeasured confounding: the E-value (VanderWeele & Ding, Annals of Internal Medicine 2017).

The E-value of a rate ratio is the minimum strength of association, on the risk-ratio scale, that an unmeasured
confounder would need with both referral and the outcome, over and above the matching covariates, to explain
the estimate away. For RR < 1 it is computed on 1/RR. The E-value of the interval is that of the confidence
limit nearer to 1, and 1 when the interval includes 1 (no confounding is needed to move it to the null).
Rate ratios of counts are used directly (VanderWeele & Ding's rule for rate ratios of rare or count outcomes).
"""
from __future__ import annotations

import math


def e_value(rate_ratio: float | None) -> float | None:
    """RR + sqrt(RR × (RR − 1)) for RR ≥ 1, the same on 1/RR below 1; None for a missing or non-positive RR."""
    if rate_ratio is None or not math.isfinite(rate_ratio) or rate_ratio <= 0:
        return None
    rr = rate_ratio if rate_ratio >= 1 else 1.0 / rate_ratio
    return rr + math.sqrt(rr * (rr - 1.0))


def e_value_of_interval(low: float | None, high: float | None) -> float | None:
    """E-value of the confidence limit nearer to 1; 1 when the interval contains 1; None when undefined."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    if low <= 1.0 <= high:
        return 1.0
    return e_value(high if high < 1.0 else low)
