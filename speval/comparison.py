"""The matched comparison, table in → table out: matched sets, balance and effects per cohort.

Covariates and outcomes come from SQL (`sql/analysis/matching_covariates.sql`, `matched_outcomes.sql`);
the statistics are in `speval.matching`. Every run matches with the configured settings (`primary`) and
with the sensitivity grid, so the report can show how much the answer depends on the method.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from speval.matching import (MatchSettings, did_effect, match, propensity_logit, sensitivity_grid, smd,
                             treated_sd)

COVARIATES = (
    "age", "female", "imd_decile", "ltc_count", "risk_score",
    "emergency_admissions_12m", "inpatient_admissions_12m", "ae_attendances_12m", "outpatient_appointments_12m",
    "emergency_admissions_6m", "inpatient_admissions_6m", "ae_attendances_6m", "outpatient_appointments_6m",
)
MEASURES = ("inpatient_admissions", "emergency_admissions", "ae_attendances", "outpatient_appointments")
COHORTS = ("6m", "12m")

SETS_SCHEMA = {"setting": pl.String, "cohort": pl.String, "set_id": pl.Int64, "role": pl.String,
               "person_id": pl.String, "weight": pl.Float64, "index_date": pl.Date, "stratum_month": pl.Date,
               "logit": pl.Float64}
UNMATCHED_SCHEMA = {"setting": pl.String, "cohort": pl.String, "person_id": pl.String, "stratum_month": pl.Date,
                    "reason": pl.String}


def setting_name(s: MatchSettings) -> str:
    return f"caliper {s.caliper:g} SD, {s.ratio}:1, {'with' if s.replace else 'without'} replacement"


def all_settings(primary: MatchSettings) -> list[tuple[str, MatchSettings]]:
    return [("primary", primary)] + [(setting_name(s), s) for s in sensitivity_grid() if s != primary]


def matched_sets(covariates: pl.DataFrame, settings: list[tuple[str, MatchSettings]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Match each cohort's treated to candidates under every setting. Set ids number the matched treated
    within a (setting, cohort)."""
    sets, unmatched = [], []
    for cohort in COHORTS:
        rows = covariates.filter(pl.col("cohort") == cohort).sort("stratum_month", "role", "person_id",
                                                                  descending=[False, True, False])
        treated = (rows["role"] == "treated").to_numpy()
        if not treated.any():
            continue
        if treated.all():  # nobody to compare with: every treated person is unmatched
            for name, _ in settings:
                unmatched.append(pl.DataFrame({
                    "setting": name, "cohort": cohort, "person_id": rows["person_id"],
                    "stratum_month": rows["stratum_month"], "reason": "no candidates in stratum",
                }, schema=UNMATCHED_SCHEMA))
            continue
        X = rows.select(COVARIATES).to_numpy().astype(float)
        stratum = rows["stratum_month"].rank("dense").to_numpy().astype(np.int64)
        person = rows["person_id"].rank("dense").to_numpy().astype(np.int64)
        logit = propensity_logit(X, treated)
        for name, s in settings:
            result = match(logit, treated, stratum, person, s)
            set_of = {int(t): i for i, t in enumerate(np.unique(result.treated_row))}
            treated_rows = np.array(sorted(set_of), dtype=np.int64)
            index_date = rows["index_date"]
            sets.append(pl.DataFrame({
                "setting": name, "cohort": cohort,
                "set_id": np.concatenate([np.arange(len(treated_rows)),
                                          [set_of[int(t)] for t in result.treated_row]]).astype(np.int64),
                "role": ["treated"] * len(treated_rows) + ["control"] * len(result.control_row),
                "person_id": rows["person_id"].gather(np.concatenate([treated_rows, result.control_row])),
                "weight": np.concatenate([np.ones(len(treated_rows)), result.weight]),
                "index_date": index_date.gather(np.concatenate([treated_rows, result.treated_row])),
                "stratum_month": rows["stratum_month"].gather(np.concatenate([treated_rows, result.control_row])),
                "logit": logit[np.concatenate([treated_rows, result.control_row])],
            }, schema=SETS_SCHEMA))
            unmatched.append(pl.DataFrame({
                "setting": name, "cohort": cohort,
                "person_id": rows["person_id"].gather(result.unmatched_row),
                "stratum_month": rows["stratum_month"].gather(result.unmatched_row),
                "reason": result.unmatched_reason.astype(str),
            }, schema=UNMATCHED_SCHEMA))
    return (pl.concat(sets) if sets else pl.DataFrame(schema=SETS_SCHEMA),
            pl.concat(unmatched) if unmatched else pl.DataFrame(schema=UNMATCHED_SCHEMA))


def balance(covariates: pl.DataFrame, sets: pl.DataFrame, settings: list[str]) -> pl.DataFrame:
    """Standardised mean differences per covariate before matching (treated vs every candidate row) and after
    (treated vs matched controls, ATT-weighted), on the matching covariates; cobalt's ATT convention. Every
    setting, cohort and covariate gets a row; blank where there is nothing to compare."""
    out = []
    for name in settings:
        for cohort in COHORTS:
            rows = covariates.filter(pl.col("cohort") == cohort)
            treated_all = rows.filter(pl.col("role") == "treated")
            candidates = rows.filter(pl.col("role") == "candidate")
            members = sets.filter((pl.col("setting") == name) & (pl.col("cohort") == cohort)).with_columns(
                covariate_role=pl.when(pl.col("role") == "control").then(pl.lit("candidate")).otherwise(pl.col("role"))
            ).join(rows.rename({"role": "covariate_role"}),
                   on=["cohort", "stratum_month", "person_id", "covariate_role"], how="left")
            treated_after = members.filter(pl.col("role") == "treated")
            controls_after = members.filter(pl.col("role") == "control")
            for covariate in COVARIATES:
                t = treated_all[covariate].to_numpy().astype(float)
                sd = treated_sd(t) if len(t) > 1 else 0.0
                c = candidates[covariate].to_numpy().astype(float)
                ta = treated_after[covariate].to_numpy().astype(float)
                ca = controls_after[covariate].to_numpy().astype(float)
                wa = controls_after["weight"].to_numpy()
                out.append({
                    "setting": name, "cohort": cohort, "covariate": covariate,
                    "smd_before": smd(t, c, None, sd) if len(t) and len(c) else None,
                    "smd_after": smd(ta, ca, wa, sd) if len(ta) and len(ca) else None,
                    "variance_ratio_after": _variance_ratio(ta, ca, wa),
                })
    return pl.DataFrame(out, schema={"setting": pl.String, "cohort": pl.String, "covariate": pl.String,
                                     "smd_before": pl.Float64, "smd_after": pl.Float64,
                                     "variance_ratio_after": pl.Float64}).with_columns(
        pl.col("smd_before", "smd_after").fill_nan(None))


def _variance_ratio(t: np.ndarray, c: np.ndarray, w: np.ndarray) -> float | None:
    if len(t) < 2 or len(c) < 2 or w.sum() <= 0:
        return None
    mean = np.average(c, weights=w)
    vc = np.average((c - mean) ** 2, weights=w)
    vt = float(np.var(t, ddof=1))
    return vt / vc if vc > 0 else None


EFFECT_SCHEMA = {"setting": pl.String, "cohort": pl.String, "measure": pl.String, "n_treated": pl.Int64,
                 "n_controls": pl.Int64, "treated_before": pl.Float64, "treated_after": pl.Float64,
                 "control_before": pl.Float64, "control_after": pl.Float64, "did": pl.Float64,
                 "did_ci_low": pl.Float64, "did_ci_high": pl.Float64, "rate_ratio": pl.Float64,
                 "rr_ci_low": pl.Float64, "rr_ci_high": pl.Float64}


def effects(outcomes: pl.DataFrame, settings: list[str], n_boot: int, seed: int) -> pl.DataFrame:
    """Difference in differences per setting, cohort and measure with cluster-bootstrap intervals. A cohort
    with no matched sets still gets its rows (n_treated 0, blank estimates)."""
    out = []
    for name in settings:
        for cohort in COHORTS:
            for measure in MEASURES:
                rows = outcomes.filter((pl.col("setting") == name) & (pl.col("cohort") == cohort)
                                       & (pl.col("measure") == measure))
                row = {"setting": name, "cohort": cohort, "measure": measure,
                       "n_treated": rows.filter(pl.col("role") == "treated")["person_id"].n_unique(),
                       "n_controls": rows.filter(pl.col("role") == "control")["person_id"].n_unique()}
                if row["n_treated"] and row["n_controls"]:
                    e = did_effect(rows["set_id"].to_numpy(), (rows["role"] == "treated").to_numpy(),
                                   rows["weight"].to_numpy(), rows["before"].to_numpy().astype(float),
                                   rows["after"].to_numpy().astype(float), n_boot=n_boot, seed=seed)
                    row.update(treated_before=e.treated_before, treated_after=e.treated_after,
                               control_before=e.control_before, control_after=e.control_after, did=e.did,
                               did_ci_low=e.did_ci_low, did_ci_high=e.did_ci_high, rate_ratio=e.rate_ratio,
                               rr_ci_low=e.rr_ci_low, rr_ci_high=e.rr_ci_high)
                out.append(row)
    return pl.DataFrame(out, schema=EFFECT_SCHEMA)
