"""The example Kubernetes instance config (deploy/dagster.kubernetes.yaml) and the repository's dagster.yaml pass
Dagster's own instance-config loading (docs/scaling.md).

What is checked with the installed dagster alone:
- the whole file against Dagster's instance schema (`dagster_instance_config`, as `DagsterInstance` loads a
  dagster.yaml): unknown or misspelt keys, the Postgres storage fields (their schema is Dagster's own), the
  `concurrency` block and its conflicts with run-coordinator limits;
- the instance reference built from it (`InstanceRef.from_dir`): which storage, run coordinator and run
  launcher classes a deployment would load;
- the run coordinator rehydrated with its own config schema (QueuedRunCoordinator is part of dagster), and
  the run queue Dagster derives from it and `concurrency` (`ConcurrencyConfig.from_concurrency_settings`):
  one run per partition, as in the repository's dagster.yaml (ADR 0021);
- the Postgres settings resolved from environment variables, and refused when one is missing.

What needs packages that are not installed here, and is skipped (with the reason) until they are: the
K8sRunLauncher's own config schema (dagster-k8s) and the Postgres storage class (dagster-postgres). Nothing
contacts a cluster or a database.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import ConcurrencyConfig, dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._core.run_coordinator.base import RunCoordinator
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.storage.config import pg_config

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy" / "dagster.kubernetes.yaml"
LOCAL = REPO / "dagster.yaml"
PG_ENV = {"DAGSTER_PG_HOST": "db.example", "DAGSTER_PG_DB": "dagster", "DAGSTER_PG_USERNAME": "dagster",
          "DAGSTER_PG_PASSWORD": "not-a-real-password"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def validate(config: dict, tmp_path: Path) -> tuple[dict, InstanceRef]:
    """Validate an instance config as Dagster does when it loads a dagster.yaml; return the validated values
    and the instance reference (class names and their config, nothing instantiated)."""
    folder = tmp_path / "instance"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    values, custom_instance_class = dagster_instance_config(str(folder))
    assert custom_instance_class is None
    return dict(values), InstanceRef.from_dir(str(tmp_path / "home"), config_dir=str(folder))


def run_queue(ref: InstanceRef) -> ConcurrencyConfig:
    """The run coordinator, built with its own config schema, and the concurrency Dagster derives from it."""
    coordinator = ref.run_coordinator_data.rehydrate(as_type=RunCoordinator)
    assert isinstance(coordinator, QueuedRunCoordinator), "runs must wait in a queue (the tag limits need it)"
    return ConcurrencyConfig.from_concurrency_settings(ref.settings.get("concurrency", {}),
                                                      coordinator.get_run_queue_config())


# ---------------------------------------------------------------------------------------------------------
# Both files pass Dagster's instance schema


@pytest.mark.parametrize("path", [LOCAL, DEPLOY], ids=["repo dagster.yaml", "deploy/dagster.kubernetes.yaml"])
def test_instance_config_is_valid(path, tmp_path):
    values, ref = validate(load(path), tmp_path)
    assert values["telemetry"] == {"enabled": False}
    queue = run_queue(ref).run_queue_config
    assert queue is not None
    assert queue.tag_concurrency_limits == [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]


def test_repo_dagster_yaml_runs_two_partitions_at_a_time(tmp_path):
    _, ref = validate(load(LOCAL), tmp_path)
    concurrency = run_queue(ref)
    assert concurrency.run_queue_config.max_concurrent_runs == 2
    assert concurrency.pool_config.default_pool_limit == 2
    # Dagster's SQLite files, with the connections kept open (pipelines/run_history.py, ADR 0023)
    assert (ref.storage_data.module_name, ref.storage_data.class_name) == ("pipelines.run_history",
                                                                           "RunHistoryStorage")


def test_deployment_keeps_the_repo_run_rules(tmp_path):
    """One run per partition, as on one machine; the warehouse pool never holds runs back below the run limit
    (each run pod has its own cores)."""
    _, local_ref = validate(load(LOCAL), tmp_path / "local")
    _, deploy_ref = validate(load(DEPLOY), tmp_path / "deploy")
    local, deploy = run_queue(local_ref), run_queue(deploy_ref)
    assert deploy.run_queue_config.tag_concurrency_limits == local.run_queue_config.tag_concurrency_limits
    assert deploy.run_queue_config.max_concurrent_runs >= local.run_queue_config.max_concurrent_runs
    assert deploy.pool_config.default_pool_limit >= deploy.run_queue_config.max_concurrent_runs


def test_deployment_names_postgres_and_the_k8s_run_launcher(tmp_path):
    _, ref = validate(load(DEPLOY), tmp_path)
    assert (ref.storage_data.module_name, ref.storage_data.class_name) == ("dagster_postgres",
                                                                           "DagsterPostgresStorage")
    assert (ref.run_launcher_data.module_name, ref.run_launcher_data.class_name) == ("dagster_k8s",
                                                                                     "K8sRunLauncher")


def test_deployment_secrets_come_from_the_environment(monkeypatch):
    """No credential is written in the file: the Postgres fields are `{env: …}` references, resolved with
    Dagster's own Postgres schema, and a missing variable is an error, not an empty value."""
    postgres = load(DEPLOY)["storage"]["postgres"]
    assert "postgres_url" not in postgres  # a URL would carry the password
    db = postgres["postgres_db"]
    for field in ("hostname", "db_name", "username", "password"):
        assert set(db[field]) == {"env"}, f"{field} must be an environment variable reference"
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    resolved = process_config(resolve_to_config_type(pg_config()), postgres)
    assert resolved.success, resolved.errors
    assert resolved.value["postgres_db"]["password"] == PG_ENV["DAGSTER_PG_PASSWORD"]
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    missing = process_config(resolve_to_config_type(pg_config()), postgres)
    assert not missing.success
    assert "DAGSTER_PG_PASSWORD" in " ".join(error.message for error in missing.errors)


def test_run_pods_get_the_folders_speval_reads():
    """The run launcher sets exactly the folder variables speval reads (speval/run/spec.py)."""
    read = set(re.findall(r'os\.environ\.get\("(SPEVAL_\w+)"', (REPO / "speval/run/spec.py").read_text()))
    assert read == {"SPEVAL_DATA_DIR", "SPEVAL_OUT_DIR", "SPEVAL_WAREHOUSE_DIR"}
    env_vars = load(DEPLOY)["run_launcher"]["config"]["env_vars"]
    assert {entry.split("=", 1)[0] for entry in env_vars} == read


# ---------------------------------------------------------------------------------------------------------
# The validation can fail: broken copies are refused


def broken(path: Path, change) -> dict:
    config = copy.deepcopy(load(path))
    change(config)
    return config


@pytest.mark.parametrize("change", [
    pytest.param(lambda c: c.update(concurency=c.pop("concurrency")), id="misspelt top-level key"),
    pytest.param(lambda c: c["concurrency"]["runs"].update(max_concurent_runs=c["concurrency"]["runs"]
                                                           .pop("max_concurrent_runs")),
                 id="misspelt key in concurrency.runs"),
    pytest.param(lambda c: c["concurrency"]["runs"]["tag_concurrency_limits"][0].pop("limit"),
                 id="tag limit without its limit"),
    pytest.param(lambda c: c["storage"]["postgres"]["postgres_db"].update(
        hostnme=c["storage"]["postgres"]["postgres_db"].pop("hostname")), id="misspelt postgres key"),
    pytest.param(lambda c: c["storage"].update(sqlite={"base_dir": "/tmp"}), id="two storages"),
    pytest.param(lambda c: c["run_coordinator"]["config"].update(max_concurrent_runs=4),
                 id="run limits in run_coordinator and in concurrency"),
    pytest.param(lambda c: c["run_launcher"].pop("class"), id="run launcher without a class"),
])
def test_broken_deployment_config_is_refused(change, tmp_path):
    with pytest.raises(DagsterInvalidConfigError):
        validate(broken(DEPLOY, change), tmp_path)


def test_broken_repo_dagster_yaml_is_refused(tmp_path):
    config = broken(LOCAL, lambda c: c["concurrency"]["pools"].update(default_limt=2))
    with pytest.raises(DagsterInvalidConfigError):
        validate(config, tmp_path)


def test_misspelt_run_coordinator_config_is_refused_when_the_coordinator_is_built(tmp_path):
    """A class's `config` is free-form in the instance schema; the class's own schema refuses the typo when the
    class is built (for QueuedRunCoordinator, part of dagster, that can be checked here)."""
    config = broken(DEPLOY, lambda c: c["run_coordinator"]["config"].update(dequeue_interval_secs=5))
    _, ref = validate(config, tmp_path)  # passes the instance schema
    with pytest.raises(DagsterInvalidConfigError):
        ref.run_coordinator_data.rehydrate(as_type=RunCoordinator)


def test_misspelt_run_coordinator_class_is_refused_when_the_coordinator_is_built(tmp_path):
    """The instance schema takes any module and class name; building the coordinator finds the typo."""
    config = broken(DEPLOY, lambda c: c["run_coordinator"].update({"class": "QueuedRunCoordinater"}))
    _, ref = validate(config, tmp_path)
    with pytest.raises(Exception, match="QueuedRunCoordinater"):
        ref.run_coordinator_data.rehydrate(as_type=RunCoordinator)


# ---------------------------------------------------------------------------------------------------------
# Class-specific checks that need packages not installed in this repository's environment


def test_k8s_run_launcher_config_matches_its_schema(monkeypatch):
    dagster_k8s = pytest.importorskip(
        "dagster_k8s", reason="dagster-k8s is not installed: the K8sRunLauncher's own config schema cannot be "
        "checked (install the release matching dagster to check it)")
    monkeypatch.setenv("SPEVAL_K8S_NAMESPACE", "speval")
    monkeypatch.setenv("SPEVAL_IMAGE", "speval:test")
    config = load(DEPLOY)["run_launcher"]["config"]
    result = process_config(resolve_to_config_type(dagster_k8s.K8sRunLauncher.config_type()), config)
    assert result.success, result.errors
    typo = {**config, "job_namspace": config["job_namespace"]}
    assert not process_config(resolve_to_config_type(dagster_k8s.K8sRunLauncher.config_type()), typo).success


def test_postgres_storage_config_matches_its_schema(monkeypatch):
    dagster_postgres = pytest.importorskip(
        "dagster_postgres", reason="dagster-postgres is not installed: the DagsterPostgresStorage class's own "
        "config schema cannot be checked (its fields are checked above with dagster's pg_config)")
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    config = load(DEPLOY)["storage"]["postgres"]
    result = process_config(resolve_to_config_type(dagster_postgres.DagsterPostgresStorage.config_type()),
                            config)
    assert result.success, result.errors
