"""What every section shares: the measures and cohorts in report order, table look-up, and the interval of a
mean paired change."""

from __future__ import annotations

import math
from collections.abc import Mapping

import polars as pl

from speval.run import vocabulary

#: Hospital use measures in report order, with their row labels (speval/run/vocabulary.py).
MEASURES = [(m.code, m.label) for m in vocabulary.MEASURES]
#: Cohorts in report order, longest follow-up first: (key, label, months before and after referral).
COHORTS = [(c.code, c.label, c.months) for c in sorted(vocabulary.COHORTS, key=lambda c: -c.months)]
COHORT_LABELS = {k: label for k, label, _ in COHORTS}


def cohort_order(cohort: str) -> tuple[int, str]:
    """Sort key: 12 then 6 months, then any other cohort by name."""
    order = {k: i for i, (k, _, _) in enumerate(COHORTS)}
    return (order.get(cohort, 9), cohort)


def table(tables: Mapping[str, pl.DataFrame], name: str) -> pl.DataFrame | None:
    """A contract table, or None when the run did not provide it."""
    df = tables.get(name)
    return df if isinstance(df, pl.DataFrame) else None


def change_interval(n: int, mean: float, sd: float | None, level: float = 0.95) -> tuple[float | None, float | None]:
    """The t-interval of a mean paired change over ``n`` people with standard deviation ``sd`` (``level``
    two-sided, n - 1 degrees of freedom); (None, None) when it cannot be worked out (fewer than 2 people, or no
    mean or standard deviation). Unrounded: the report publishes each end like the mean it belongs to, and
    tables/wellbeing_paired_change.csv writes it as is."""
    from scipy.stats import t

    if n < 2 or sd is None or mean is None or math.isnan(sd) or math.isnan(mean):
        return None, None
    half = t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half
