"""Matching: a never-referred comparison group matched on pre-referral history, its balance, and the
difference-in-differences effects with 95% intervals (docs/contract/rules.md, ADR 0012)."""
from __future__ import annotations

import dagster as dg
import polars as pl

from assets.sql_table import sql_table_asset
from assets.versions import code_version
from assets.partitions import evaluation_partitions
from assets.resources import EvaluationSettings, WAREHOUSE_POOL, Warehouse
from speval.analysis.comparison import PRIMARY
from speval.run.vocabulary import COHORTS, SMD_THRESHOLD
from speval.warehouse import one, replace_table

matching_sql_assets = [
    sql_table_asset("analysis.matching_population", "matching"),
    sql_table_asset("analysis.matching_covariates", "matching"),
]


def _primary(settings: EvaluationSettings):
    from speval.analysis.matching import MatchSettings

    parameters = settings.spec.parameters
    method = parameters.matching
    return MatchSettings(caliper=method.caliper, ratio=method.ratio, replace=method.with_replacement,
                         seed=parameters.seed)


COVARIATES_KEY = dg.AssetKey(["analysis", "matching_covariates"])
MATCHING_CODE_VERSION = code_version("assets.matching", "speval.analysis.matching", "speval.analysis.comparison")
EFFECTS_CODE_VERSION = code_version("assets.matching", "speval.analysis.matching", "speval.analysis.comparison",
                                    "speval.analysis.sensitivity")
SETTINGS_KEY = dg.AssetKey(["analysis", "matching_settings"])
UNMATCHED_KEY = dg.AssetKey(["analysis", "unmatched_treated"])


@dg.multi_asset(
    pool=WAREHOUSE_POOL,
    partitions_def=evaluation_partitions,
    specs=[
        dg.AssetSpec(["analysis", "matched_sets"], deps=[COVARIATES_KEY], group_name="matching",
                     code_version=MATCHING_CODE_VERSION,
                     kinds={"duckdb", "python"},
                     description="Treated cohort members with their matched controls (propensity score, exact on "
                     "referral week within the quarter, nearest neighbour within a caliper), for the configured "
                     "settings (`primary`) and the sensitivity grid; the treated left unmatched, with the reason, "
                     "in analysis.unmatched_treated."),
        dg.AssetSpec(SETTINGS_KEY, group_name="matching", kinds={"duckdb", "python"}, code_version=MATCHING_CODE_VERSION,
                     description="Each matching setting (the run's own, `primary`, and the sensitivity grid) "
                     "with its caliper, ratio and replacement as typed columns."),
        dg.AssetSpec(UNMATCHED_KEY, group_name="matching", kinds={"duckdb", "python"},
                     code_version=MATCHING_CODE_VERSION,
                     description="The treated left unmatched under each setting, with the reason."),
    ],
)
def matched_sets(settings: EvaluationSettings, warehouse: Warehouse):
    from speval.analysis.comparison import MATCHING_COLUMNS, MATCHING_ORDER, all_settings, settings_table
    from speval.analysis.comparison import matched_sets as build_sets
    from speval.report.charts import warm_up_in_background

    grid = all_settings(_primary(settings))
    with warehouse.connect() as con:
        def cohort_rows(cohort: str):
            return con.sql(f"SELECT {', '.join(MATCHING_COLUMNS)} FROM analysis.matching_covariates "
                           f"WHERE cohort = $cohort ORDER BY {MATCHING_ORDER}", params={"cohort": cohort}).pl()

        sets, unmatched = build_sets(cohort_rows, grid)
        # The run's largest step is behind it: Chromium for the report's charts (about 430 MB) starts now, on the
        # idle core, rather than at the start of the run, where it added to every step's memory.
        warm_up_in_background()
        replace_table(con, "analysis.matching_settings", settings_table(grid))
        replace_table(con, "analysis.matched_sets", sets)
        replace_table(con, "analysis.unmatched_treated", unmatched)
    primary = sets.filter(setting=PRIMARY)
    yield dg.MaterializeResult(asset_key=dg.AssetKey(["analysis", "matched_sets"]), metadata={
        "dagster/row_count": sets.height,
        "treated_matched": dg.MetadataValue.json(
            {c.code: primary.filter(cohort=c.code, role="treated").height for c in COHORTS}),
        "treated_unmatched": dg.MetadataValue.json(
            {f"{c} {r}": n for c, r, n in unmatched.filter(setting=PRIMARY).group_by("cohort", "reason")
             .len().sort("cohort", "reason").iter_rows()}),
    })
    yield dg.MaterializeResult(asset_key=SETTINGS_KEY, metadata={"dagster/row_count": len(grid)})
    yield dg.MaterializeResult(asset_key=UNMATCHED_KEY, metadata={"dagster/row_count": unmatched.height})


matched_covariates = sql_table_asset("analysis.matched_covariates", "matching")
matched_outcomes = sql_table_asset("analysis.matched_outcomes", "matching")


@dg.asset(pool=WAREHOUSE_POOL, partitions_def=evaluation_partitions, key=dg.AssetKey(["analysis", "balance"]),
          deps=[COVARIATES_KEY, matched_covariates.key],
          code_version=MATCHING_CODE_VERSION,
          group_name="matching", kinds={"duckdb", "python"})
def balance(warehouse: Warehouse) -> dg.MaterializeResult:
    """Standardised mean differences of every matching covariate before matching and after it, with the
    matched controls measured at the index date they take (cobalt's ATT convention), and variance ratios."""
    from speval.analysis.comparison import balance as balance_table

    from speval.analysis.comparison import COVARIATES

    with warehouse.connect() as con:
        def cohort_rows(cohort: str):  # in the table's own order, as the sums before matching always were
            return con.sql(f"SELECT role, {', '.join(COVARIATES)} FROM analysis.matching_covariates "
                           "WHERE cohort = $cohort", params={"cohort": cohort}).pl()

        matched = con.sql("SELECT * FROM analysis.matched_covariates").pl()
        names = [r[0] for r in con.execute("SELECT setting FROM analysis.matching_settings ORDER BY setting_order")
                 .fetchall()]
        table = balance_table(cohort_rows, matched, names)
        replace_table(con, "analysis.balance", table)
    return dg.MaterializeResult(metadata={"dagster/row_count": table.height})


@dg.asset_check(asset=balance, name="balanced_after_matching")
def balanced_after_matching(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Flags any covariate with |SMD| >= 0.1 after matching (the usual threshold) under the primary settings."""
    with warehouse.connect() as con:
        bad = con.execute("SELECT cohort, covariate, smd_after FROM analysis.balance WHERE setting = ? "
                          "AND abs(smd_after) >= ? ORDER BY cohort, covariate", [PRIMARY, SMD_THRESHOLD]).fetchall()
        largest = one(con, "SELECT max(abs(smd_after)) FROM analysis.balance WHERE setting = ?", [PRIMARY])[0]
    metadata = {"imbalanced": dg.MetadataValue.json([[c, v, round(s, 3)] for c, v, s in bad])}
    if largest is not None:  # a number, so the UI plots it over runs (absent when nothing was matched)
        metadata["max_abs_smd_after"] = dg.MetadataValue.float(round(largest, 4))
    return dg.AssetCheckResult(passed=not bad, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


@dg.multi_asset(pool=WAREHOUSE_POOL, partitions_def=evaluation_partitions, specs=[
    dg.AssetSpec(["analysis", "matched_effects"], deps=[matched_outcomes.key, matched_covariates.key],
                 code_version=EFFECTS_CODE_VERSION,
                 group_name="matching", kinds={"duckdb", "python"},
                 description="Difference in differences per setting, cohort and measure with 95% intervals, rate "
                 "ratios, the doubly robust estimate and E-values (ADR 0017)."),
    dg.AssetSpec(["analysis", "effect_replicates"], group_name="matching", kinds={"duckdb", "python"},
                 code_version=EFFECTS_CODE_VERSION,
                 description="The primary setting's DiD bootstrap replicates per cohort and measure, which the "
                 "economics cost (ADR 0019)."),
])
def matched_effects(settings: EvaluationSettings, warehouse: Warehouse):
    """Difference in differences (treated change minus matched-control change, per patient) with 95% cluster
    bootstrap intervals and rate ratios, per cohort and measure, for every matching setting; for the primary
    setting also the doubly robust estimate (regression-adjusted on the covariates at the index date) and the
    E-values (ADR 0017)."""
    from speval.analysis.comparison import REPLICATES_SCHEMA, all_settings, effects

    with warehouse.connect() as con:
        outcomes = con.sql("SELECT * FROM analysis.matched_outcomes").pl()
        covariates = con.sql("SELECT * FROM analysis.matched_covariates").pl()
        parameters = settings.spec.parameters
        replicates: list[pl.DataFrame] = []
        table = effects(outcomes, [name for name, _ in all_settings(_primary(settings))],
                        n_boot=parameters.bootstrap_replicates, seed=parameters.seed, matched_covariates=covariates,
                        replicates=replicates)
        replace_table(con, "analysis.matched_effects", table)
        replace_table(con, "analysis.effect_replicates",
                      pl.concat(replicates) if replicates else pl.DataFrame(schema=REPLICATES_SCHEMA))
    yield dg.MaterializeResult(asset_key=dg.AssetKey(["analysis", "matched_effects"]),
                               metadata={"dagster/row_count": table.height})
    yield dg.MaterializeResult(asset_key=dg.AssetKey(["analysis", "effect_replicates"]),
                               metadata={"dagster/row_count": sum(r.height for r in replicates)})


matching_assets = [*matching_sql_assets, matched_sets, matched_covariates, balance, matched_outcomes, matched_effects]
matching_checks = [balanced_after_matching]
