"""Matching: a never-referred comparison group matched on pre-referral history, its balance, and the
difference-in-differences effects with 95% intervals (CONTRACT.md §2, ADR 0012)."""
from __future__ import annotations

import dagster as dg

from assets.sql_table import sql_table_asset
from pipelines.resources import EvaluationSettings, Warehouse
from speval.warehouse import replace_table

matching_sql_assets = [
    sql_table_asset("analysis.matching_population", "matching"),
    sql_table_asset("analysis.matching_covariates", "matching"),
]


def _primary(settings: EvaluationSettings):
    from speval.matching import MatchSettings

    return MatchSettings(caliper=settings.caliper, ratio=settings.ratio, replace=settings.with_replacement,
                         seed=settings.seed)


COVARIATES_KEY = dg.AssetKey(["analysis", "matching_covariates"])
BALANCE_KEY = dg.AssetKey(["analysis", "balance"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["analysis", "matched_sets"], deps=[COVARIATES_KEY], group_name="matching",
                     kinds={"duckdb", "python"},
                     description="Treated cohort members with their matched controls (propensity score, exact on "
                     "referral month, nearest neighbour within a caliper), for the configured settings (`primary`) "
                     "and the sensitivity grid; the treated left unmatched, with the reason, in "
                     "analysis.unmatched_treated."),
        dg.AssetSpec(BALANCE_KEY, deps=[COVARIATES_KEY], group_name="matching", kinds={"duckdb", "python"},
                     description="Standardised mean differences of every matching covariate before and after "
                     "matching (cobalt ATT), and variance ratios, measured as the sets are formed."),
    ],
)
def matched_sets(settings: EvaluationSettings, warehouse: Warehouse):
    from speval.comparison import all_settings
    from speval.comparison import matched_sets as build_sets

    with warehouse.connect() as con:
        covariates = con.sql("SELECT * FROM analysis.matching_covariates").pl()
        sets, unmatched, balance = build_sets(covariates, all_settings(_primary(settings)))
        replace_table(con, "analysis.matched_sets", sets)
        replace_table(con, "analysis.unmatched_treated", unmatched)
        replace_table(con, "analysis.balance", balance)
    primary = sets.filter(setting="primary")
    yield dg.MaterializeResult(asset_key=dg.AssetKey(["analysis", "matched_sets"]), metadata={
        "dagster/row_count": sets.height,
        "treated_matched": dg.MetadataValue.json(
            {c: primary.filter(cohort=c, role="treated").height for c in ("6m", "12m")}),
        "treated_unmatched": dg.MetadataValue.json(
            {f"{c} {r}": n for c, r, n in unmatched.filter(setting="primary").group_by("cohort", "reason")
             .len().sort("cohort", "reason").iter_rows()}),
    })
    yield dg.MaterializeResult(asset_key=BALANCE_KEY, metadata={"dagster/row_count": balance.height})


matched_outcomes = sql_table_asset("analysis.matched_outcomes", "matching")


@dg.asset_check(asset=BALANCE_KEY, name="balanced_after_matching")
def balanced_after_matching(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Flags any covariate with |SMD| >= 0.1 after matching (the usual threshold) under the primary settings."""
    with warehouse.connect() as con:
        bad = con.execute("SELECT cohort, covariate, smd_after FROM analysis.balance WHERE setting = 'primary' "
                          "AND abs(smd_after) >= 0.1 ORDER BY cohort, covariate").fetchall()
    return dg.AssetCheckResult(passed=not bad, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"imbalanced": dg.MetadataValue.json([[c, v, round(s, 3)] for c, v, s in bad])})


@dg.asset(key=dg.AssetKey(["analysis", "matched_effects"]), deps=[matched_outcomes.key],
          group_name="matching", kinds={"duckdb", "python"})
def matched_effects(settings: EvaluationSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    """Difference in differences (treated change minus matched-control change, per patient) with 95% cluster
    bootstrap intervals and rate ratios, per cohort and measure, for every matching setting."""
    from speval.comparison import all_settings, effects

    with warehouse.connect() as con:
        outcomes = con.sql("SELECT * FROM analysis.matched_outcomes").pl()
        table = effects(outcomes, [name for name, _ in all_settings(_primary(settings))],
                        n_boot=settings.bootstrap_replicates, seed=settings.seed)
        replace_table(con, "analysis.matched_effects", table)
    return dg.MaterializeResult(metadata={"dagster/row_count": table.height})


matching_assets = [*matching_sql_assets, matched_sets, matched_outcomes, matched_effects]
matching_checks = [balanced_after_matching]
