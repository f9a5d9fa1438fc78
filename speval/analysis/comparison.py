"""The matched comparison, table in → table out: matched sets, balance and effects per cohort.

Covariates and outcomes come from SQL (`sql/analysis/matching_covariates.sql`, `matched_outcomes.sql`);
the statistics are in `speval.analysis.matching`. Every run matches with the configured settings (`primary`) and
with the sensitivity grid, so the report can show how much the answer depends on the method.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from speval.analysis.matching import (Matcher, MatchSettings, balance_after, did_effect, propensity_logit,
                                     sensitivity_grid, smd, treated_sd)
from speval.run.vocabulary import COHORTS as COHORT_TERMS
from speval.run.vocabulary import MEASURE_CODES as MEASURES

COVARIATES = (
    "age", "female", "imd_decile", "ltc_count", "risk_score", "any_covariate_imputed",
    *(f"{m}_{w}m" for w in (12, 6, 3, 1) for m in ("emergency_admissions", "inpatient_admissions", "ae_attendances",
                                                 "outpatient_appointments")),
)
COHORTS = tuple(c.code for c in COHORT_TERMS)
PRIMARY = "primary"  # the setting named by the run's parameters

SETS_SCHEMA = {"setting": pl.String, "cohort": pl.String, "set_id": pl.Int64, "role": pl.String,
               "person_id": pl.String, "weight": pl.Float64, "index_date": pl.Date, "measured_on": pl.Date,
               "stratum_start": pl.Date, "logit": pl.Float64}
UNMATCHED_SCHEMA = {"setting": pl.String, "cohort": pl.String, "person_id": pl.String, "stratum_start": pl.Date,
                    "reason": pl.String}
BALANCE_SCHEMA = {"setting": pl.String, "cohort": pl.String, "covariate": pl.String, "smd_before": pl.Float64,
                  "smd_after": pl.Float64, "variance_ratio_after": pl.Float64}


def setting_name(s: MatchSettings) -> str:
    return f"caliper {s.caliper:g} SD, {s.ratio}:1, {'with' if s.replace else 'without'} replacement"


def all_settings(primary: MatchSettings) -> list[tuple[str, MatchSettings]]:
    return [(PRIMARY, primary)] + [(setting_name(s), s) for s in sensitivity_grid() if s != primary]


def settings_table(settings: list[tuple[str, MatchSettings]]) -> pl.DataFrame:
    """`analysis.matching_settings`: each setting's method as typed columns, so nothing parses a setting name."""
    return pl.DataFrame({
        "setting": [name for name, _ in settings],
        "setting_order": list(range(1, len(settings) + 1)),
        "caliper": [s.caliper for _, s in settings],
        "ratio": [s.ratio for _, s in settings],
        "with_replacement": [s.replace for _, s in settings],
        "is_primary": [name == PRIMARY for name, _ in settings],
    }, schema={"setting": pl.String, "setting_order": pl.Int64, "caliper": pl.Float64, "ratio": pl.Int64,
               "with_replacement": pl.Boolean, "is_primary": pl.Boolean})


#: What matching reads of a cohort's rows of analysis.matching_covariates, and in which order (strata in date
#: order, the treated first within a stratum, then by person): `matched_sets` relies on both.
MATCHING_COLUMNS = ("stratum_start", "role", "person_id", "index_date", *COVARIATES)
MATCHING_ORDER = "stratum_start, role DESC, person_id"


def covariate_matrix(rows: pl.DataFrame) -> np.ndarray:
    """The covariates as the float64 columns of one matrix stored column by column, for `propensity_logit`,
    filled one column at a time and leaving out each column that holds a single value. Such a column carries
    no information, and the model would leave it out by copying the whole matrix (1.5 GB for a ×10 cohort);
    without it the fit is the same to the bit."""
    kept = [c for c in COVARIATES if rows[c].min() != rows[c].max() or rows[c].null_count()]  # blanks: refused
    X = np.empty((rows.height, len(kept)), order="F")
    for j, column in enumerate(kept):
        X[:, j] = rows[column].to_numpy()
    return X


def matched_sets(cohort_rows: Callable[[str], pl.DataFrame], settings: list[tuple[str, MatchSettings]]
                 ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Match each cohort's treated to candidates under every setting: the matched sets (set ids number the
    matched treated within a setting and cohort; every member is measured again at the set's index date,
    `measured_on`) and the unmatched treated with reasons. `cohort_rows(cohort)` gives the cohort's rows
    (MATCHING_COLUMNS, in MATCHING_ORDER): one cohort's candidates are in memory at a time."""
    sets, unmatched = [], []
    for cohort in COHORTS:
        rows = cohort_rows(cohort)
        treated = (rows["role"] == "treated").to_numpy()
        if not treated.any():
            continue
        if treated.all():  # nobody to compare with: every treated person is unmatched
            for name, _ in settings:
                unmatched.append(pl.DataFrame({
                    "setting": name, "cohort": cohort, "person_id": rows["person_id"],
                    "stratum_start": rows["stratum_start"], "reason": "no candidates in stratum",
                }, schema=UNMATCHED_SCHEMA))
            continue
        X = covariate_matrix(rows)
        rows = rows.drop(COVARIATES)  # X holds them now: the frame's copy would double the memory
        stratum = rows["stratum_start"].rank("dense").to_numpy().astype(np.int64)
        person = rows["person_id"].rank("dense").to_numpy().astype(np.int64)
        logit = propensity_logit(X, treated)
        matcher = Matcher(logit, treated, stratum, person)
        for (name, _), result in zip(settings, matcher.match_all([s for _, s in settings])):
            # the matched treated in row order, and each control's set (its treated person's place among them)
            treated_rows, control_set = np.unique(result.treated_row.astype(np.int64), return_inverse=True)
            members = np.concatenate([treated_rows, result.control_row])
            index_date = rows["index_date"].gather(np.concatenate([treated_rows, result.treated_row]))
            sets.append(pl.DataFrame({
                "setting": name, "cohort": cohort,
                "set_id": np.concatenate([np.arange(len(treated_rows)), control_set.ravel()]).astype(np.int64),
                "role": ["treated"] * len(treated_rows) + ["control"] * len(result.control_row),
                "person_id": rows["person_id"].gather(members),
                "weight": np.concatenate([np.ones(len(treated_rows)), result.weight]),
                "index_date": index_date,
                "measured_on": index_date,
                "stratum_start": rows["stratum_start"].gather(members),
                "logit": logit[members],
            }, schema=SETS_SCHEMA))
            unmatched.append(pl.DataFrame({
                "setting": name, "cohort": cohort,
                "person_id": rows["person_id"].gather(result.unmatched_row),
                "stratum_start": rows["stratum_start"].gather(result.unmatched_row),
                "reason": result.unmatched_reason.astype(str),
            }, schema=UNMATCHED_SCHEMA))
    return (pl.concat(sets) if sets else pl.DataFrame(schema=SETS_SCHEMA),
            pl.concat(unmatched) if unmatched else pl.DataFrame(schema=UNMATCHED_SCHEMA))


def balance(cohort_rows: Callable[[str], pl.DataFrame], matched: pl.DataFrame, settings: list[str]) -> pl.DataFrame:
    """Standardised mean differences of every covariate, cobalt's ATT convention (`speval.analysis.matching.smd`):
    before matching, all treated against all candidate rows (`analysis.matching_covariates`); after, the matched
    treated against their controls with ATT weights, every member measured at the set's index date
    (`analysis.matched_covariates`), so "after" is the balance of the history the outcome comparison starts
    from. The denominator is the SD over all treated. Every setting, cohort and covariate has a row (blank
    where there is nothing to compare). `cohort_rows(cohort)` gives the cohort's rows of
    analysis.matching_covariates (role and COVARIATES at least): one cohort at a time in memory."""
    out = []
    for cohort in COHORTS:
        rows = cohort_rows(cohort)
        treated = rows.filter(pl.col("role") == "treated")
        candidates = rows.filter(pl.col("role") == "candidate")
        after = {}  # per setting: the matched treated, their controls and the controls' weights
        for name in settings:
            sets = matched.filter((pl.col("setting") == name) & (pl.col("cohort") == cohort))
            controls = sets.filter(pl.col("role") == "control")
            after[name] = sets.filter(pl.col("role") == "treated"), controls, controls["weight"].to_numpy()
        cells = {}
        # The all-treated SD and the balance before matching are the same for every setting: computed once.
        for c in COVARIATES if treated.height and candidates.height else ():
            x_treated = treated[c].to_numpy().astype(float)
            sd = treated_sd(x_treated)
            before = smd(x_treated, candidates[c].to_numpy().astype(float), None, sd)
            for name, (t_after, c_after, w_after) in after.items():
                cells[name, c] = {"smd_before": before, **balance_after(
                    sd, t_after[c].to_numpy().astype(float), c_after[c].to_numpy().astype(float), w_after)}
        out += [{"setting": name, "cohort": cohort, "covariate": c, **cells.get((name, c), {})}
                for name in settings for c in COVARIATES]
    return pl.DataFrame(out, schema=BALANCE_SCHEMA).with_columns(pl.col("smd_before", "smd_after").fill_nan(None))


EFFECT_SCHEMA = {"setting": pl.String, "cohort": pl.String, "measure": pl.String, "n_treated": pl.Int64,
                 "n_controls": pl.Int64, "treated_before": pl.Float64, "treated_after": pl.Float64,
                 "control_before": pl.Float64, "control_after": pl.Float64, "did": pl.Float64,
                 "did_ci_low": pl.Float64, "did_ci_high": pl.Float64, "rate_ratio": pl.Float64,
                 "rr_ci_low": pl.Float64, "rr_ci_high": pl.Float64, "did_adjusted": pl.Float64,
                 "did_adjusted_ci_low": pl.Float64, "did_adjusted_ci_high": pl.Float64,
                 "rate_ratio_adjusted": pl.Float64, "rr_adjusted_ci_low": pl.Float64,
                 "rr_adjusted_ci_high": pl.Float64, "e_value": pl.Float64, "e_value_ci": pl.Float64}
MEMBER_KEY = ("setting", "cohort", "set_id", "role", "person_id")
REPLICATES_SCHEMA = {"cohort": pl.String, "measure": pl.String, "replicate": pl.Int64, "did": pl.Float64}


def effects(outcomes: pl.DataFrame, settings: list[str], n_boot: int, seed: int,
            matched_covariates: pl.DataFrame | None = None, replicates: list[pl.DataFrame] | None = None
            ) -> pl.DataFrame:
    """Difference in differences per setting, cohort and measure with cluster-bootstrap intervals and the ratio
    of rate ratios, with the E-value of the rate ratio. For the primary setting, given `matched_covariates`
    (analysis.matched_covariates), also the doubly robust estimate: the same matched sets with the control
    change regressed on the covariates measured at the index date (ADR 0017). A cohort with no matched sets
    still gets its rows (n_treated 0, blank estimates). Given a list as `replicates`, appends the primary
    setting's DiD bootstrap replicates per cohort and measure to it (REPLICATES_SCHEMA; costed by the
    economics, ADR 0019)."""
    from speval.analysis.sensitivity import e_value, e_value_of_interval

    if matched_covariates is not None:
        outcomes = outcomes.join(matched_covariates.select(*MEMBER_KEY, *COVARIATES), on=MEMBER_KEY, how="left")
    out = []
    # Each setting, cohort and measure's rows, in the table's order (one pass instead of a filter for each).
    groups = outcomes.partition_by("setting", "cohort", "measure", as_dict=True, maintain_order=True)
    for name in settings:
        for cohort in COHORTS:
            for measure in MEASURES:
                rows = groups.get((name, cohort, measure), outcomes.clear())
                row = {"setting": name, "cohort": cohort, "measure": measure,
                       "n_treated": rows.filter(pl.col("role") == "treated")["person_id"].n_unique(),
                       "n_controls": rows.filter(pl.col("role") == "control")["person_id"].n_unique()}
                if row["n_treated"] and row["n_controls"]:
                    adjust = matched_covariates is not None and name == PRIMARY
                    e = did_effect(rows["set_id"].to_numpy(), (rows["role"] == "treated").to_numpy(),
                                   rows["weight"].to_numpy(), rows["before"].to_numpy().astype(float),
                                   rows["after"].to_numpy().astype(float), n_boot=n_boot, seed=seed,
                                   covariates=rows.select(COVARIATES).to_numpy().astype(float) if adjust else None)
                    row.update(treated_before=e.treated_before, treated_after=e.treated_after,
                               control_before=e.control_before, control_after=e.control_after, did=e.did,
                               did_ci_low=e.did_ci_low, did_ci_high=e.did_ci_high, rate_ratio=e.rate_ratio,
                               rr_ci_low=e.rr_ci_low, rr_ci_high=e.rr_ci_high, did_adjusted=e.did_adjusted,
                               did_adjusted_ci_low=e.did_adjusted_ci_low, did_adjusted_ci_high=e.did_adjusted_ci_high,
                               rate_ratio_adjusted=e.rate_ratio_adjusted, rr_adjusted_ci_low=e.rr_adjusted_ci_low,
                               rr_adjusted_ci_high=e.rr_adjusted_ci_high, e_value=e_value(e.rate_ratio),
                               e_value_ci=e_value_of_interval(e.rr_ci_low, e.rr_ci_high))
                    if replicates is not None and name == PRIMARY:
                        replicates.append(pl.DataFrame({
                            "cohort": cohort, "measure": measure, "replicate": np.arange(len(e.did_replicates)),
                            "did": e.did_replicates}, schema=REPLICATES_SCHEMA))
                out.append(row)
    return pl.DataFrame(out, schema=EFFECT_SCHEMA)
