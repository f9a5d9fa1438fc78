"""Jobs: the whole evaluation for one quarter and programme."""
from __future__ import annotations

import dagster as dg

quarterly_evaluation = dg.define_asset_job(
    "quarterly_evaluation",
    selection=dg.AssetSelection.all(),
    description="Ingest the deliveries for a reporting quarter, validate, build cohorts and outcomes, and "
    "render the evaluation report. Set `settings.config.quarter` / `programme` in the Launchpad.",
    executor_def=dg.in_process_executor,
)
