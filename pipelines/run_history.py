"""Dagster's run history in SQLite, with each database's connection kept open (ADR 0023).

Dagster's own SQLite storage creates a database engine and opens a new connection for every read and write of
the run history, and closes it afterwards; in WAL mode, closing the last connection also checkpoints the file.
A run writes a few thousand events, so a `speval run` with the history on disk spent 6.5-7 s of a 33 s demo run
on engines and connections. These classes keep one engine per database file, and its pooled connection open,
for the life of the process. The tables, the files and where they live are Dagster's own (the same as
`storage: sqlite:`), so a history written by either can be read by the other. Used through the `storage:
custom:` block of dagster.yaml; a deployment keeps the history in Postgres instead (docs/scaling.md).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (DagsterSqliteStorage, _event_logs_directory, _runs_directory,
                                                  _schedule_directory)

#: Event-log databases (one per run, plus the index) whose engine a process keeps: a run process uses two; the
#: webserver and the daemon read many runs, so the least recently used beyond this are closed.
KEPT_SHARDS = 8


def _engine(conn_string: str) -> db.Engine:
    """An engine whose pool keeps its connections open between uses. A connection is only ever used by one
    thread at a time (the pool checks it out), so it may move between threads."""
    return db.create_engine(conn_string, poolclass=db.pool.QueuePool, pool_size=1, max_overflow=-1,
                            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})


class KeptOpenEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (one database per run, and an index), with the engines kept."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()  # before super(): it may connect
        self._tables_seen: set[str] = set()
        super().__init__(base_dir, inst_data)

    def has_table(self, table_name: str) -> bool:
        """Dagster asks this for every asset event, each time with a new engine and connection (it may be
        asked while the index is in use, so not through the kept one). A table once there stays there."""
        if table_name not in self._tables_seen and super().has_table(table_name):
            self._tables_seen.add(table_name)
        return table_name in self._tables_seen

    def _shard_engine(self, shard: str) -> db.Engine:
        engine = self._engines.pop(shard, None) or _engine(self.conn_string_for_shard(shard))
        self._engines[shard] = engine  # now the most recently used
        while len(self._engines) > KEPT_SHARDS:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        with self._db_lock:  # as Dagster's: one use of the event log at a time in a process
            engine = self._shard_engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_engines()  # the run databases' files are deleted
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._close_engines()


class KeptOpenRunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage (runs.db), with its engine kept."""

    def __init__(self, conn_string: str, inst_data=None):
        super().__init__(conn_string, inst_data)
        self._kept_engine = _engine(conn_string)

    @contextmanager
    def connect(self) -> Iterator[db.Connection]:
        with self._kept_engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._kept_engine.dispose()


class RunHistoryStorage(DagsterSqliteStorage):
    """`storage: sqlite:` with the connections kept open: the same folders and files under `base_dir`."""

    def __init__(self, base_dir: str, inst_data=None):
        self.base_dir = base_dir
        self._run_storage = KeptOpenRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = KeptOpenEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> RunHistoryStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
