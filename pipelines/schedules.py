"""Regenerate the evaluation report every quarter, on the 15th day after the quarter ends (time for the
commissioning support unit's HES delivery to arrive): one run per programme, each a planned RunSpec, or a
skip saying why the run is not possible yet (e.g. no HES delivery covers the quarter)."""
from __future__ import annotations

import dagster as dg

from pipelines.jobs import quarterly_evaluation
from assets.partitions import partition_key
from assets.resources import EvaluationSettings
from speval.run.quarters import Quarter
from speval.run.spec import RunRefused, plan_run
from speval.run.vocabulary import PROGRAMMES


@dg.schedule(job=quarterly_evaluation, cron_schedule="0 6 15 1,4,7,10 *", execution_timezone="Europe/London",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def quarterly_report_schedule(context: dg.ScheduleEvaluationContext):
    """One run per programme for the quarter that has just ended."""
    day = context.scheduled_execution_time.date()
    quarter = Quarter.of(day).previous
    requests, skipped = [], []
    for programme in PROGRAMMES:
        settings = EvaluationSettings()  # data_dir etc.: defaults
        try:
            plan_run(settings.run_spec(quarter.key, programme.code), today=day)
        except RunRefused as refused:
            skipped.append(f"{programme.code}: {refused}")
            continue
        requests.append(dg.RunRequest(run_key=f"{programme.code}-{quarter}",
                                      partition_key=partition_key(quarter.key, programme.code)))
    if not requests:
        return dg.SkipReason("not run: " + "; ".join(skipped))
    if skipped:
        context.log.info("not run: " + "; ".join(skipped))
    return requests
