"""Regenerate the evaluation report every quarter, on the 15th day after the quarter ends (time for the
commissioning support unit's HES delivery to arrive)."""
from __future__ import annotations

import dagster as dg

from pipelines.jobs import quarterly_evaluation
from speval.quarters import previous_quarter, quarter_of


def run_config_for(quarter: str, programme: str = "LTC") -> dict:
    return {"resources": {"settings": {"config": {"quarter": quarter, "programme": programme}}}}


@dg.schedule(job=quarterly_evaluation, cron_schedule="0 6 15 1,4,7,10 *", execution_timezone="Europe/London",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def quarterly_report_schedule(context: dg.ScheduleEvaluationContext):
    """One run per programme for the quarter that has just ended."""
    quarter = previous_quarter(quarter_of(context.scheduled_execution_time.date()))
    for programme in ("LTC", "MH"):
        yield dg.RunRequest(run_key=f"{programme}-{quarter}", run_config=run_config_for(quarter, programme),
                            tags={"quarter": quarter, "programme": programme})
