"""Jobs: the whole evaluation for one quarter and programme."""
from __future__ import annotations

import dagster as dg

quarterly_evaluation = dg.define_asset_job(
    "quarterly_evaluation",
    selection=dg.AssetSelection.all(),
    description="Ingest the deliveries for a reporting quarter, validate, build cohorts and outcomes, and "
    "render the evaluation report. One run is one partition (its assets are partitioned by reporting quarter × "
    "programme).",
    executor_def=dg.in_process_executor,
)
