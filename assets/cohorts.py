"""Cohorts: core HES and outcome-tool tables, index dates, the 6- and 12-month cohorts and attrition."""
from __future__ import annotations

import dagster as dg

from assets.versions import code_version
from assets.sql_table import sql_table_asset
from assets.partitions import evaluation_partitions
from assets.resources import WAREHOUSE_POOL, Warehouse
from speval.warehouse import one

CORE_TABLES = (
    "core.persons",
    "core.inpatient_admissions",
    "core.emergency_admissions",
    "core.ae_attendances",
    "core.outpatient_appointments",
    "core.hospital_events",
    "core.referrals",
    "core.onward_referrals",
    "core.assessments",
)
COHORT_TABLES = (
    "analysis.referred_persons",
    "analysis.cohort_steps",
    "analysis.attrition",
    "analysis.cohort_members",
)

REFERENCE_TABLES = ("analysis.cohort_windows", "analysis.measures", "analysis.wellbeing_measures",
                    "analysis.attrition_steps", "analysis.groups", "analysis.progress_thresholds",
                    "analysis.sroi_components", "analysis.mh_pathway_steps")


@dg.multi_asset(pool=WAREHOUSE_POOL, partitions_def=evaluation_partitions, specs=[
    dg.AssetSpec(name.split("."), group_name="cohorts", kinds={"duckdb", "python"},
                 code_version=code_version("speval.run.vocabulary", "speval.warehouse"),
                 description="Written from the vocabulary (speval/run/vocabulary.py): codes in reporting order, "
                 "for the SQL rules to join to.")
    for name in REFERENCE_TABLES])
def reference_lists(warehouse: Warehouse):
    """The cohorts, measures, well-being measures, attrition steps, groups, well-being progress thresholds, SROI
    components and mental-health pathway steps, one table each."""
    from speval.warehouse import write_reference_tables

    with warehouse.connect() as con:
        written = write_reference_tables(con)
    for name in REFERENCE_TABLES:
        yield dg.MaterializeResult(asset_key=dg.AssetKey(name.split(".")), metadata={"dagster/row_count": written[name]})


core_assets = [sql_table_asset(name, "core") for name in CORE_TABLES]
cohort_assets = [reference_lists, *(sql_table_asset(name, "cohorts") for name in COHORT_TABLES)]


@dg.asset_check(asset=dg.AssetKey(["analysis", "attrition"]), name="steps_never_increase", blocking=True)
def attrition_steps_never_increase(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Each attrition step keeps a subset of the one before, and 'referred' is the same for both cohorts."""
    with warehouse.connect() as con:
        bad = con.execute(
            """
            SELECT cohort, step, n, lag(n) OVER (PARTITION BY cohort ORDER BY step_order) AS previous
            FROM analysis.attrition QUALIFY n > previous
            """
        ).fetchall()
        referred = one(con, "SELECT count(DISTINCT n) FROM analysis.attrition WHERE step = 'referred'")[0]
    return dg.AssetCheckResult(
        passed=not bad and referred == 1,
        metadata={"increasing_steps": dg.MetadataValue.json([list(map(str, b)) for b in bad])},
    )
