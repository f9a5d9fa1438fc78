"""Every asset says which code made it (`code_version`, a hash of its SQL or of the Python modules that decide
what it writes), so the UI's staleness means something and an auditor can tell materialisations apart."""
from __future__ import annotations

from pathlib import Path

from assets.versions import code_version


def test_every_asset_has_a_code_version():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    missing = sorted(k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).code_version is None)
    assert missing == []


def test_every_asset_is_in_the_warehouse_pool():
    """DuckDB has one writer: dagster.yaml lets one step of the pool run at a time across runs."""
    import yaml

    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    pools = {graph.get(k).pools and tuple(sorted(graph.get(k).pools)) for k in graph.get_all_asset_keys()}
    assert pools == {("warehouse",)}
    instance = yaml.safe_load((Path(__file__).resolve().parent.parent / "dagster.yaml").read_text())
    assert instance["concurrency"] == {"runs": {"max_concurrent_runs": 1}, "pools": {"default_limit": 1}}
    assert "run_coordinator" not in instance  # the legacy block, superseded by concurrency.runs


def test_a_code_version_changes_with_the_source_and_only_with_it(tmp_path):
    template = tmp_path / "section.html.j2"
    template.write_text("<p>{{ x }}</p>")
    before = code_version("speval.economics.scenarios", files=(template,))
    assert code_version("speval.economics.scenarios", files=(template,)) == before
    template.write_text("<p>{{ y }}</p>")
    assert code_version("speval.economics.scenarios", files=(template,)) != before
    assert code_version("speval.economics.value") != code_version("speval.economics.scenarios")
