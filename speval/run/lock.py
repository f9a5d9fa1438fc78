"""One run per warehouse at a time (ADR 0013).

A run holds an exclusive OS file lock (`fcntl.flock`, never blocking) on `<warehouse>.lock` from its start
to its end. The kernel drops the lock when the holder's file is closed or its process dies (even by
SIGKILL), so a killed run never leaves the warehouse locked; the lock file itself stays (removing it would
let two runs lock two different files of the same name). The descriptor is not inherited by child
processes (a browser rendering the PDF cannot keep the warehouse locked after the run).

Plain module (no Dagster): `speval run` takes the lock before launching the job and hands it to the
Warehouse resource, which takes it itself when the run comes from the Dagster UI or a schedule.
"""
from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

# The one sentence a user sees when the warehouse is in use (by another run, or by any process holding
# DuckDB's own lock on the file).
BUSY = "another speval run is using this warehouse ({warehouse}); wait for it to finish or use --warehouse"
DUCKDB_LOCK_ERROR = "Could not set lock on file"


class WarehouseBusy(RuntimeError):
    """The warehouse is held by another run."""

    def __init__(self, warehouse: str | Path):
        super().__init__(busy_message(warehouse))
        self.warehouse = str(warehouse)


def busy_message(warehouse: str | Path) -> str:
    return BUSY.format(warehouse=warehouse)


def is_busy_error(text: str) -> bool:
    """True for this module's refusal and for DuckDB's own "Could not set lock on file" error."""
    return DUCKDB_LOCK_ERROR in text or BUSY.split("(")[0] in text


def lock_path(warehouse: str | Path) -> Path:
    warehouse = Path(warehouse).resolve()
    return warehouse.with_name(warehouse.name + ".lock")


class RunLock:
    """Exclusive, non-blocking lock on `<warehouse>.lock`. Two RunLock objects on the same warehouse
    exclude each other even within one process (flock locks belong to the open file, not the process)."""

    def __init__(self, warehouse: str | Path):
        self.warehouse = str(warehouse)
        self.path = lock_path(warehouse)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: bool = False) -> RunLock:
        """Take the lock now or raise WarehouseBusy; with `wait`, block until the holder releases it."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WarehouseBusy(self.warehouse) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def is_free(warehouse: str | Path) -> bool:
    """Whether no run holds the warehouse right now (takes and drops the lock)."""
    try:
        with RunLock(warehouse):
            return True
    except WarehouseBusy:
        return False


# A lock `speval run` took before launching the job, keyed by the lock file: the Warehouse resource of
# that run adopts it instead of locking again (which would fail: it is held by another open file).
_handed_over: dict[Path, RunLock] = {}
_handed_over_guard = threading.Lock()


class hand_over:
    """`with hand_over(lock):` lets the run launched inside the block adopt `lock` (see `adopt`)."""

    def __init__(self, lock: RunLock):
        if not lock.held:
            raise ValueError("only a held lock can be handed over")
        self.lock = lock

    def __enter__(self) -> RunLock:
        with _handed_over_guard:
            _handed_over[self.lock.path] = self.lock
        return self.lock

    def __exit__(self, *exc) -> None:
        with _handed_over_guard:
            if _handed_over.get(self.lock.path) is self.lock:
                del _handed_over[self.lock.path]


def adopt(warehouse: str | Path) -> RunLock | None:
    """The held lock handed over for this warehouse by the code launching the run, if any."""
    with _handed_over_guard:
        lock = _handed_over.get(lock_path(warehouse))
    return lock if lock is not None and lock.held else None
