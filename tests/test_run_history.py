"""The run history kept with open connections (pipelines/run_history.py, ADR 0023): it writes the files Dagster's
own `storage: sqlite:` writes, each reads the other's history, and a run no longer opens a connection per event."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as db
import yaml
from dagster._core.instance import DagsterInstance

from pipelines.run_history import KEPT_SHARDS, KeptOpenEventLogStorage

def KEPT(base_dir: Path) -> dict:
    return {"custom": {"module": "pipelines.run_history", "class": "RunHistoryStorage",
                       "config": {"base_dir": str(base_dir)}}}


def DAGSTERS(base_dir: Path) -> dict:
    return {"sqlite": {"base_dir": str(base_dir)}}


def instance(folder: Path, storage, base_dir: Path) -> DagsterInstance:
    """An instance configured as a dagster.yaml in `folder` says: the `storage` block for `base_dir`."""
    storage = storage(base_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text(yaml.safe_dump({"telemetry": {"enabled": False}, "storage": storage}))
    return DagsterInstance.from_config(str(folder))


@dg.asset
def referrals() -> int:
    return 3


@dg.asset
def referrals_seen(referrals: int) -> int:
    return referrals + 1


@dg.asset_check(asset=referrals)
def some_referrals() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def run_once(inst: DagsterInstance) -> str:
    result = dg.materialize([referrals, referrals_seen, some_referrals], instance=inst)
    assert result.success
    return result.run_id


def history(inst: DagsterInstance) -> list:
    """What the UI shows of every run: status, each event's type and message, the latest materialization."""
    runs = inst.get_runs()
    return [(run.status, [(e.dagster_event_type, e.user_message) for e in inst.all_logs(run.run_id)],
             inst.get_latest_materialization_event(dg.AssetKey("referrals_seen")).run_id) for run in runs]


@pytest.mark.parametrize("writer, reader", [(KEPT, DAGSTERS), (DAGSTERS, KEPT)],
                         ids=["kept-open written, Dagster's read", "Dagster's written, kept-open read"])
def test_each_storage_reads_the_others_history(tmp_path, writer, reader):
    base = tmp_path / "history"
    with instance(tmp_path / "writer", writer, base) as written:
        run_once(written)
        run_once(written)
        expected = history(written)
    with instance(tmp_path / "reader", reader, base) as read:
        assert history(read) == expected
        assert len(expected) == 2 and len(expected[0][1]) > 20
        run_once(read)  # and it goes on writing to the same files
        assert len(read.get_runs()) == 3


def test_a_run_opens_a_handful_of_connections_not_one_per_event(tmp_path):
    opened = []

    def count(*_):
        opened.append(1)

    db.event.listen(db.pool.Pool, "connect", count)  # every connection SQLAlchemy opens, in any engine
    try:
        with instance(tmp_path / "home", KEPT, tmp_path / "history") as inst:
            run_once(inst)  # creates the databases
            opened.clear()
            run_id = run_once(inst)
            events = len(inst.all_logs(run_id))
    finally:
        db.event.remove(db.pool.Pool, "connect", count)
    assert events > 20
    # two: the new run's own database is created (Dagster's storage opens about three per event)
    assert len(opened) <= 2, f"{len(opened)} connections opened for a run of {events} events"


def test_only_the_most_recently_used_run_databases_stay_open(tmp_path):
    storage = KeptOpenEventLogStorage(str(tmp_path))
    runs = [f"run-{i:02d}" for i in range(KEPT_SHARDS + 4)]
    for run_id in runs:
        with storage.run_connection(run_id) as conn:
            conn.execute(db.text("SELECT 1"))
    with storage.index_connection() as conn:
        conn.execute(db.text("SELECT 1"))
    assert list(storage._engines) == [*runs[-(KEPT_SHARDS - 1):], "index"]
    storage.dispose()
    assert not storage._engines


def test_wiping_the_history_starts_again_on_new_files(tmp_path):
    with instance(tmp_path / "home", KEPT, tmp_path / "history") as inst:
        first = run_once(inst)
        inst.wipe()
        assert not (tmp_path / "history" / "history" / "runs" / f"{first}.db").exists()
        assert inst.get_runs() == []
        second = run_once(inst)
        assert [run.run_id for run in inst.get_runs()] == [second]
        assert inst.get_latest_materialization_event(dg.AssetKey("referrals")).run_id == second


def test_the_run_storage_serves_many_threads_at_once(tmp_path):
    """The webserver reads the history from many threads: each gets its own pooled connection."""
    with instance(tmp_path / "home", KEPT, tmp_path / "history") as inst:
        run_id = run_once(inst)
        with ThreadPoolExecutor(max_workers=12) as pool:
            found = list(pool.map(lambda _: inst.get_run_by_id(run_id).status, range(200)))
    assert set(found) == {dg.DagsterRunStatus.SUCCESS}


def test_the_repository_instance_uses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEVAL_DAGSTER_STORAGE", str(tmp_path / "history"))
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_bytes((Path(__file__).resolve().parents[1] / "dagster.yaml").read_bytes())
    with DagsterInstance.from_config(str(home)) as inst:
        assert type(inst.event_log_storage).__name__ == "KeptOpenEventLogStorage"
        assert type(inst.run_storage).__name__ == "KeptOpenRunStorage"
        run_once(inst)
    assert (tmp_path / "history" / "history" / "runs.db").is_file()
