"""The schedule that regenerates reports: on the 15th after a quarter ends, one run per programme for it."""
import datetime as dt

import dagster as dg

from pipelines.definitions import defs
from pipelines.schedules import quarterly_report_schedule


def test_schedule_requests_the_quarter_just_ended_for_both_programmes():
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2014, 1, 15, 6, tzinfo=dt.timezone.utc))
    requests = list(quarterly_report_schedule.evaluate_tick(context).run_requests)
    assert [r.run_key for r in requests] == ["LTC-2013Q4", "MH-2013Q4"]
    assert requests[1].run_config == {"resources": {"settings": {"config": {"quarter": "2013Q4", "programme": "MH"}}}}
    assert quarterly_report_schedule.cron_schedule == "0 6 15 1,4,7,10 *"


def test_schedule_targets_the_evaluation_job_in_the_definitions():
    assert defs.resolve_schedule_def("quarterly_report_schedule").job_name == "quarterly_evaluation"
