"""Every asset says which code made it (`code_version`, a hash of its SQL or of the Python modules that decide
what it writes), so the UI's staleness means something and an auditor can tell materialisations apart."""
from __future__ import annotations

from pathlib import Path

from assets.versions import code_version


def test_every_asset_has_a_code_version():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    missing = sorted(k.to_user_string() for k in graph.materializable_asset_keys if graph.get(k).code_version is None)
    assert missing == []


def test_every_asset_is_in_the_warehouse_pool():
    """DuckDB has one writer per file: dagster.yaml runs two partitions (two files) at a time, one run per
    partition, and two warehouse steps at a time across runs (one per core)."""
    import yaml

    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    pools = {graph.get(k).pools and tuple(sorted(graph.get(k).pools)) for k in graph.materializable_asset_keys}
    assert pools == {("warehouse",)}
    instance = yaml.safe_load((Path(__file__).resolve().parent.parent / "dagster.yaml").read_text())
    # Two runs at a time (each partition its own DuckDB file), but never two of the same partition.
    assert instance["concurrency"] == {"runs": {"max_concurrent_runs": 2, "tag_concurrency_limits": [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]},
        "pools": {"default_limit": 2}}
    assert "run_coordinator" not in instance  # the legacy block, superseded by concurrency.runs


def test_a_code_version_changes_with_the_source_and_only_with_it(tmp_path):
    template = tmp_path / "section.html.j2"
    template.write_text("<p>{{ x }}</p>")
    before = code_version("speval.economics.scenarios", files=(template,))
    assert code_version("speval.economics.scenarios", files=(template,)) == before
    template.write_text("<p>{{ y }}</p>")
    assert code_version("speval.economics.scenarios", files=(template,)) != before
    assert code_version("speval.economics.value") != code_version("speval.economics.scenarios")


def test_every_asset_is_partitioned_by_quarter_and_programme():
    from assets.partitions import QUARTER_KEYS, evaluation_partitions
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    assert {graph.get(k).partitions_def for k in graph.materializable_asset_keys} == {evaluation_partitions}
    assert QUARTER_KEYS[0] == "2010Q1" and QUARTER_KEYS[-1] == "2035Q4" and len(QUARTER_KEYS) == 26 * 4
    assert "LTC|2013Q4" in evaluation_partitions.get_partition_keys()
    assert len(evaluation_partitions.get_partition_keys()) == 26 * 4 * 2


def test_a_run_takes_quarter_and_programme_from_its_partition_and_each_partition_has_its_own_warehouse():
    import dagster as dg
    import pytest

    from assets.partitions import partition_key, run_partition
    from speval.run.spec import partition_warehouse

    key = partition_key("2013Q4", "LTC")
    tags = {"dagster/partition": str(key), "dagster/partition/quarter": "2013Q4", "dagster/partition/programme": "LTC"}
    assert str(key) == "LTC|2013Q4" and run_partition(tags) == ("2013Q4", "LTC")
    with pytest.raises(dg.DagsterInvariantViolationError, match="pick a partition"):
        run_partition({})
    files = {partition_warehouse(q, p) for q in ("2013Q4", "2014Q1") for p in ("LTC", "MH")}
    assert len(files) == 4
    assert partition_warehouse("2013Q4", "LTC").parts[-3:] == ("warehouse", "LTC", "2013Q4.duckdb")


def test_the_graph_starts_at_the_deliveries_whose_data_versions_are_their_files_sha256(tmp_path):
    """Three observable sources (HES, outcome tool, provider returns), partitioned by delivery quarter; every raw
    table hangs off its source; a delivery's data version changes when one of its files' bytes change."""
    from assets.deliveries import delivery_partitions, delivery_versions
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    sources = sorted(k.to_user_string() for k in graph.get_all_asset_keys() if not graph.get(k).is_materializable)
    assert sources == ["deliveries/hes", "deliveries/outcome_tool", "deliveries/provider_returns"]
    assert all(graph.get(dg_key(s)).partitions_def == delivery_partitions for s in sources)
    for key in graph.materializable_asset_keys:
        if key.path[0] == "raw":
            assert any(p.path[0] == "deliveries" for p in graph.get(key).parent_keys), key

    folder = tmp_path / "hes" / "2013Q4"
    folder.mkdir(parents=True)
    (folder / "apc.csv").write_text("A\n1\n")
    (tmp_path / "hes" / "not_a_quarter").mkdir()
    first = delivery_versions(tmp_path, "hes")
    assert list(first) == ["2013Q4"] and len(first["2013Q4"]) == 64
    assert delivery_versions(tmp_path, "hes") == first
    (folder / "apc.csv").write_text("A\n2\n")  # same size, other bytes
    assert delivery_versions(tmp_path, "hes")["2013Q4"] != first["2013Q4"]


def test_observing_the_deliveries_records_each_delivery_s_version(tmp_path, monkeypatch):
    import dagster as dg

    from assets.deliveries import delivery_versions
    from builders import DataSet
    from pipelines.definitions import defs

    DataSet(tmp_path / "data" / "raw").write()  # HES and outcome-tool deliveries 2013Q4
    monkeypatch.chdir(tmp_path)  # the default data folder, data/raw, as the UI's runs read it
    with dg.DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("observe_deliveries").execute_in_process(instance=instance).success
        records = instance.fetch_observations(dg_key("deliveries/hes"), limit=10).records
        observed = {r.event_log_entry.asset_observation.partition:
                    r.event_log_entry.asset_observation.tags["dagster/data_version"] for r in records}
    assert observed == delivery_versions(tmp_path / "data" / "raw", "hes") and list(observed) == ["2013Q4"]


def dg_key(text: str):
    import dagster as dg

    return dg.AssetKey(text.split("/"))
