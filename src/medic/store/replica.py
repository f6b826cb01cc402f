"""Reads from a PostgreSQL standby while it is close enough behind the primary.

The read-only routes take their connection from ``ReadRouter.connect()``: the
replica's while its last check found it streaming and at most ``max_lag_seconds``
behind, the primary's otherwise (no replica configured, replica down, lagging, or cut
off from its primary). A check runs at most once per ``check_seconds``, so what a
read may miss is bounded by max_lag_seconds + check_seconds. Writes and the worker
never come here.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import text

from medic.store.errors import DATABASE_ERROR, describe_db_error

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = logging.getLogger("medic.replica")

# Seconds of replay lag, 0 when everything received is replayed, NULL when the standby
# is not streaming from a primary (its data could be arbitrarily old). A primary (a
# prefer-standby URL that found no standby) is never behind.
LAG_SQL = text(
    """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0.0
        WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN NULL
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
        ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float
    END
    """
)


class ReadRouter:
    def __init__(self, primary: "Engine", replica: "Engine | None", *, max_lag_seconds: float = 5.0,
                 check_seconds: float = 1.0):
        self.primary = primary
        self.replica = replica
        self.max_lag_seconds = max_lag_seconds
        self.check_seconds = check_seconds
        self.status = "none" if replica is None else "unknown"  # up | lagging | down | none
        self.lag_seconds: float | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def engine(self) -> "Engine":
        if self.replica is None:
            return self.primary
        if time.monotonic() - self._checked_at >= self.check_seconds and self._lock.acquire(blocking=False):
            try:
                self._check()
            finally:
                self._lock.release()
        return self.replica if self.status == "up" else self.primary

    @contextmanager
    def connect(self) -> Iterator["Connection"]:
        engine = self.engine()
        if engine is self.primary:
            with self.primary.connect() as conn:
                yield conn
            return
        try:
            conn = self.replica.connect()
        except DATABASE_ERROR as exc:  # died since the last check: this read goes to the primary
            self._mark("down", None, exc)
            with self.primary.connect() as conn:
                yield conn
            return
        try:
            yield conn
        except DATABASE_ERROR as exc:
            self._mark("down", None, exc)  # the next reads go to the primary
            raise
        finally:
            conn.close()

    def _check(self) -> None:
        self._checked_at = time.monotonic()
        try:
            with self.replica.connect() as conn:
                conn.execute(text("SET LOCAL statement_timeout = 1000"))
                lag = conn.execute(LAG_SQL).scalar()
                conn.rollback()
        except DATABASE_ERROR as exc:
            self._mark("down", None, exc)
            return
        if lag is None:
            self._mark("lagging", None, None)
        else:
            self._mark("up" if lag <= self.max_lag_seconds else "lagging", float(lag), None)

    def _mark(self, status: str, lag: float | None, exc: BaseException | None) -> None:
        if status != self.status:
            if status == "up":
                log.info("read replica in use again (lag %.1f s)", lag or 0.0)
            elif exc is not None:
                log.warning("read replica unreachable, reads go to the primary: %s", describe_db_error(exc))
            else:
                log.warning("read replica %s behind (limit %.0f s), reads go to the primary",
                            f"{lag:.1f} s" if lag is not None else "not streaming, so an unknown time",
                            self.max_lag_seconds)
        self.status, self.lag_seconds = status, lag

    def describe(self) -> dict:
        return {"status": self.status, "lag_seconds": self.lag_seconds, "max_lag_seconds": self.max_lag_seconds}
