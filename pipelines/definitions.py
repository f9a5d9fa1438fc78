"""The one Definitions object: what `dagster dev` shows and what `speval run` executes."""
from __future__ import annotations

import dagster as dg

from assets.cohorts import attrition_steps_never_increase, cohort_assets, core_assets
from assets.deliveries import delivery_assets
from assets.economics import economics_assets, economics_checks
from assets.ingest import delivery_files, previous_raw_assets, raw_assets, run_parameters
from assets.matching import matching_assets, matching_checks
from assets.outcomes import hospital_use_matches_attrition, outcome_assets
from assets.report import report_assets, report_checks
from assets.validate import audit_assets, staged_assets
from assets.resources import EvaluationSettings, default_warehouse
from pipelines.schedules import quarterly_report_schedule
from pipelines.sensors import new_delivery_sensor
from pipelines.jobs import observe_deliveries, quarterly_evaluation

defs = dg.Definitions(
    assets=[*delivery_assets, run_parameters, delivery_files, *raw_assets, *previous_raw_assets, *staged_assets,
            *audit_assets, *core_assets, *cohort_assets,
            *outcome_assets, *matching_assets, *economics_assets, *report_assets],
    asset_checks=[attrition_steps_never_increase, hospital_use_matches_attrition, *matching_checks,
                  *economics_checks, *report_checks],
    jobs=[quarterly_evaluation, observe_deliveries],
    schedules=[quarterly_report_schedule],
    sensors=[new_delivery_sensor],
    resources={"settings": EvaluationSettings(), "warehouse": default_warehouse()},
    # DuckDB has one writer per file: a run's steps execute one at a time, in its own process; dagster.yaml
    # runs two partitions side by side and queues a second run of the same partition behind the first.
    executor=dg.in_process_executor,
)
