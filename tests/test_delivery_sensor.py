"""The sensor that reacts to new data: a delivery that appears or changes under the data folder requests the run
of every quarter and programme that uses it and is possible; an unchanged folder requests nothing."""
from __future__ import annotations

import dagster as dg

from builders import DataSet
from pipelines.definitions import defs
from pipelines.sensors import new_delivery_sensor


def tick(cursor: str | None = None):
    return new_delivery_sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor,
                                                                     repository_def=defs.get_repository_def()))


def partitions(result) -> list[tuple[str, str]]:
    return [(r.partition_key.keys_by_dimension["quarter"], r.partition_key.keys_by_dimension["programme"])
            for r in result.run_requests]


def delivery(tmp_path):
    ds = DataSet(tmp_path / "data" / "raw")  # HES and outcome-tool deliveries 2013Q4, cut-off 2013-12-31
    ds.person("P1")
    ds.referral("P1", "2013-03-15", PROGRAMME="LTC")
    ds.write()
    return tmp_path / "data" / "raw"


def test_a_new_delivery_requests_each_run_that_uses_it_and_then_nothing_until_it_changes(tmp_path, monkeypatch):
    data = delivery(tmp_path)
    monkeypatch.chdir(tmp_path)  # the sensor watches the default data folder, data/raw
    first = tick()
    # 2013Q4 uses its own deliveries; 2014Q1-2014Q3 use them too (cut-off within their four quarters); 2014Q4
    # does not. No MH referrals: no MH run.
    assert partitions(first) == [("2013Q4", "LTC"), ("2014Q1", "LTC"), ("2014Q2", "LTC"), ("2014Q3", "LTC")]
    assert first.run_requests[0].partition_key == "LTC|2013Q4"  # the partition the UI shows

    again = tick(first.cursor)
    assert not again.run_requests and again.skip_message == "no new or changed delivery"

    # The export is delivered again (same size, new modification time): noticed without reading any file.
    (data / "outcome_tool" / "2013Q4" / "referrals.csv").write_text(
        (data / "outcome_tool" / "2013Q4" / "referrals.csv").read_text(encoding="utf-8"), encoding="utf-8")
    changed = tick(first.cursor)
    assert partitions(changed) == [("2013Q4", "LTC"), ("2014Q1", "LTC"), ("2014Q2", "LTC"), ("2014Q3", "LTC")]
    assert {r.run_key for r in changed.run_requests}.isdisjoint({r.run_key for r in first.run_requests})


def test_a_delivery_no_possible_run_uses_is_skipped_with_the_reason(tmp_path, monkeypatch):
    ds = DataSet(tmp_path / "data" / "raw")
    ds.person("P1")
    ds.referral("P1", "2015-01-05")  # after every quarter the 2013Q4 deliveries can cover (to 2014Q3)
    ds.write()
    monkeypatch.chdir(tmp_path)
    result = tick()
    assert not result.run_requests
    assert "changed, but no run that uses it is possible yet" in result.skip_message


def test_the_sensor_is_in_the_definitions_and_off_by_default():
    sensor = defs.resolve_sensor_def("new_delivery_sensor")
    assert sensor.job_name == "quarterly_evaluation"
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
