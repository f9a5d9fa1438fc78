"""Jobs: the whole evaluation for one quarter and programme."""
from __future__ import annotations

import dagster as dg

from assets.deliveries import delivery_assets

quarterly_evaluation = dg.define_asset_job(
    "quarterly_evaluation",
    selection=dg.AssetSelection.all(),
    description="Ingest the deliveries for a reporting quarter, validate, build cohorts and outcomes, and "
    "render the evaluation report. One run is one partition (its assets are partitioned by reporting quarter × "
    "programme).",
    executor_def=dg.in_process_executor,
)

observe_deliveries = dg.define_asset_job(
    "observe_deliveries",
    selection=dg.AssetSelection.assets(*(source.key for source in delivery_assets)),
    description="Record the sha256 of every delivery folder under the data folder as its data version (the "
    "assets deliveries/hes, deliveries/outcome_tool and deliveries/provider_returns).",
)
