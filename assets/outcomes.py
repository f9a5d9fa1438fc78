"""Outcomes: hospital use before and after referral (Table 1), well-being (Table 2) and the mental-health
pathway."""
from __future__ import annotations

import dagster as dg

from assets.sql_table import sql_table_asset
from assets.resources import Warehouse

OUTCOME_TABLES = (
    "analysis.hospital_use_by_patient",
    "analysis.hospital_use",
    "analysis.wellbeing_pairs",
    "analysis.wellbeing",
    "analysis.mh_pathway",
)

outcome_assets = [sql_table_asset(name, "outcomes") for name in OUTCOME_TABLES]


@dg.asset_check(asset=dg.AssetKey(["analysis", "hospital_use"]), name="matches_attrition", blocking=True)
def hospital_use_matches_attrition(warehouse: Warehouse) -> dg.AssetCheckResult:
    """docs/contract/outputs.md: the last attrition step's n equals the n_patients of that cohort's `all` rows."""
    with warehouse.connect() as con:
        bad = con.execute(
            """
            SELECT h.cohort, h.measure, h.n_patients, a.n
            FROM analysis.hospital_use h
            JOIN analysis.attrition a ON a.cohort = h.cohort AND a.step = 'registered'
            WHERE h."group" = 'all' AND h.n_patients <> a.n
            """
        ).fetchall()
    return dg.AssetCheckResult(passed=not bad, metadata={"mismatches": dg.MetadataValue.json([list(map(str, b)) for b in bad])})
