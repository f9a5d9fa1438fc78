"""The schedule that regenerates reports: on the 15th after a quarter ends, one run per programme for it,
or a skip naming what is missing when a run is not possible."""
import datetime as dt

import dagster as dg

from builders import DataSet
from pipelines.definitions import defs
from pipelines.schedules import quarterly_report_schedule


def tick(day: dt.datetime):
    context = dg.build_schedule_context(scheduled_execution_time=day, repository_def=defs.get_repository_def())
    return quarterly_report_schedule.evaluate_tick(context)


def test_schedule_requests_the_quarter_just_ended_for_each_programme_with_referrals(tmp_path, monkeypatch):
    ds = DataSet(tmp_path / "data" / "raw")
    ds.person("P1")
    ds.referral("P1", "2013-03-15", PROGRAMME="LTC")
    ds.write()
    monkeypatch.chdir(tmp_path)  # the schedule's runs use the default data folder, data/raw
    result = tick(dt.datetime(2014, 1, 15, 6, tzinfo=dt.timezone.utc))
    assert [r.run_key for r in result.run_requests] == ["LTC-2013Q4"]  # no MH referrals: MH not run
    assert result.run_requests[0].partition_key == dg.MultiPartitionKey({"quarter": "2013Q4", "programme": "LTC"})
    assert result.run_requests[0].tags["dagster/partition/quarter"] == "2013Q4"
    assert quarterly_report_schedule.cron_schedule == "0 6 15 1,4,7,10 *"


def test_schedule_skips_a_quarter_no_delivery_covers(tmp_path, monkeypatch):
    ds = DataSet(tmp_path / "data" / "raw")
    ds.person("P1")
    ds.referral("P1", "2013-03-15")
    ds.write()
    monkeypatch.chdir(tmp_path)
    result = tick(dt.datetime(2016, 1, 15, 6, tzinfo=dt.timezone.utc))
    assert not result.run_requests
    assert "no HES delivery covers 2015Q4: the latest is 2013Q4, cut-off 2013-12-31" in result.skip_message


def test_schedule_targets_the_evaluation_job_in_the_definitions():
    assert defs.resolve_schedule_def("quarterly_report_schedule").job_name == "quarterly_evaluation"
