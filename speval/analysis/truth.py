"""The generator's planted truth, as the estimand the matched comparison targets.

`truth_patients.csv` (written by `speval demo-data`) gives each referred person's expected post-window
count with the effect of referral and without it. The true effect for a cohort is the mean difference over
the matched treated (the ATT the matched difference-in-differences estimates). Used by the planted-truth
test and bench/truth_coverage.py; never by the pipeline itself.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from speval.run.vocabulary import MEASURE_CODES as MEASURES


def true_effects(truth_csv: Path, treated: pl.DataFrame) -> dict[tuple[str, str], float]:
    """{(cohort, measure): mean(expected - counterfactual) over `treated` (columns cohort, person_id)}."""
    truth = pl.read_csv(truth_csv, infer_schema_length=None)
    joined = treated.join(truth, left_on="person_id", right_on="TOKEN_PERSON_ID", how="inner")
    effects = {}
    for cohort in treated["cohort"].unique().sort():
        rows = joined.filter(pl.col("cohort") == cohort)
        for m in MEASURES:
            w = cohort.removesuffix("m")
            diff = rows[f"{m}_after_{w}m_expected"] - rows[f"{m}_after_{w}m_counterfactual"]
            effects[(cohort, m)] = float(diff.mean()) if rows.height else float("nan")
    return effects
