"""What every section shares: the measures and cohorts in report order, and table look-up."""

from __future__ import annotations

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
