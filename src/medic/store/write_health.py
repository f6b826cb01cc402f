"""Whether the database can take writes, for /health and /health/ready.

A read answering is not enough: a full SQLite disk, or a PostgreSQL server
turned read-only (a standby after a failover, `default_transaction_read_only`),
still answers reads while every heartbeat fails. Two signals, because neither
catches every case alone:

- a write probe: one committed upsert of a bookkeeping row (an update in place,
  so it can succeed on a full SQLite file that has no room for a new row);
- the last write failure this process saw on any path (heartbeats, API writes),
  counted for ``RECENT_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError

from medic.clock import Clock
from medic.store import worker_state as ws
from medic.store.errors import describe_db_error

PROBE_ROW = "health_write_probe"
RECENT_SECONDS = 30.0
# What a database that cannot write raises (disk full, read-only, gone); not
# constraint violations, which are answers about the data.
_WRITE_FAILURES = (OperationalError, InternalError, InterfaceError)
_WRITE_VERBS = ("insert", "update", "delete", "merge")


class WriteWatch:
    """The newest failed write in this process, recorded from the engine's errors."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[datetime, str] | None = None
        event.listen(engine, "handle_error", self._on_error)

    def _on_error(self, context) -> None:
        statement = (context.statement or "").lstrip().lower()
        is_write = not statement or statement.startswith(_WRITE_VERBS)  # no statement: a commit
        if is_write and isinstance(context.sqlalchemy_exception, _WRITE_FAILURES):
            with self._lock:
                self._last = (self._clock(), describe_db_error(context.sqlalchemy_exception))

    def recent_failure(self, now: datetime) -> tuple[datetime, str] | None:
        with self._lock:
            last = self._last
        if last is not None and now - last[0] <= timedelta(seconds=RECENT_SECONDS):
            return last
        return None


def probe_write(engine: Engine, now: datetime, timeout_seconds: float) -> float:
    """Commit one small write; returns its latency in seconds or raises."""
    started = time.perf_counter()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_seconds * 1000)}"))
        ws.put(conn, PROBE_ROW, now.isoformat(), now)
    return time.perf_counter() - started
