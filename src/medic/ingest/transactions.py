"""Where every heartbeat transaction begins and ends, and what is tried again.

The statements are medic.store.heartbeats'; they run on the connection they are
given. This module decides the transactions around them:

- PostgreSQL (``write_autocommit``): the batch statement on a connection in
  AUTOCOMMIT is its own transaction, one round trip instead of BEGIN, statement,
  COMMIT (bench/RESULTS.md). Services whose deadline needs their history
  (deadline.needs_recount) are then recounted in a transaction of their own, under
  their row locks; the statement left those deadlines as they were, so between the
  two the service looks as if its heartbeat had not arrived yet, never healthier
  than it is. SQLAlchemy resets the isolation level when the connection goes back
  to the pool.
- Otherwise (SQLite): BEGIN, the statements, COMMIT.
- A deadlock or serialization failure retries the whole batch (``DEADLOCK_RETRIES``)
  or the recount (``RECOUNT_RETRIES``); a connection found stale before anything
  was committed is replaced once. A batch whose connection was lost is never sent
  again: lost after the commit, it would be stored twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from sqlalchemy.exc import DBAPIError

from medic.clock import Clock
from medic.store import heartbeats
from medic.store.errors import DATABASE_UNAVAILABLE, is_transient_conflict
from medic.store.heartbeats import Beat, Stored

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = logging.getLogger("medic.ingest")

DEADLOCK_RETRIES = 3
RECOUNT_RETRIES = 3

Result = Stored | str | Exception


def commit_once(engine: "Engine", beats: Sequence[Beat], now: datetime) -> list[Stored | str]:
    """One transaction on a connection from the pool."""
    with engine.begin() as conn:
        return heartbeats.record(conn, beats, now)


def write_autocommit(conn: "Connection", beats: Sequence[Beat], now: datetime) -> list[Result]:
    """PostgreSQL, on a connection in AUTOCOMMIT: the batch statement as its own transaction,
    then the recount of the services that need it in one more.

    Raises only when the statement fails. Nothing is committed then, unless the
    connection was lost after the commit: a batch that failed with a lost connection
    must not be sent again. What fails after the statement comes back as the result of
    the heartbeats it concerns (stored, but not to be answered 201 nor written again).
    """
    if not beats:
        return []
    stored = heartbeats.store_autocommit(conn, beats, now)
    try:
        results, recount = heartbeats.outcomes(conn, beats, stored, now)
    except Exception as exc:
        return [exc] * len(beats)
    if recount:
        try:
            _recount_in_own_transaction(conn, sorted(recount), heartbeats.successes(results), now)
        except Exception as exc:
            return [exc if isinstance(r, Stored) and r.service_id in recount else r for r in results]
    return results


def _recount_in_own_transaction(
    conn: "Connection", service_ids: list[int], successes: set[int], now: datetime
) -> None:
    # On the same (autocommit) connection: BEGIN and COMMIT go on the psycopg connection,
    # so the writer never waits for a second connection from the pool.
    for attempt in range(RECOUNT_RETRIES + 1):
        try:
            with heartbeats.driver_transaction(conn):
                heartbeats.recount_locked(conn, service_ids, successes, now)
            return
        except DBAPIError as exc:
            if not (is_transient_conflict(exc) and attempt < RECOUNT_RETRIES):
                raise


class BatchCommitter:
    """The group-commit writer's own connection (no pool checkout per batch), and how
    each batch is committed on it."""

    def __init__(self, engine: "Engine", clock: Clock):
        self.engine = engine
        self.clock = clock
        self.autocommit = engine.dialect.name == "postgresql"
        self._conn: "Connection | None" = None

    def commit(self, beats: Sequence[Beat]) -> list[Result]:
        """Store a batch and commit it: one result per beat (an Exception for a beat that
        was stored but whose deadline could not be recounted). Raises what fails the
        whole batch, after retrying one that lost a deadlock."""
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                return self._commit(beats)
            except DATABASE_UNAVAILABLE as exc:
                if is_transient_conflict(exc) and attempt < DEADLOCK_RETRIES:
                    continue  # the batch is fine: it lost a race, try again
                raise
        raise AssertionError("unreachable")

    def _commit(self, beats: Sequence[Beat]) -> list[Result]:
        if self.autocommit:
            if self._conn is None:
                self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                results = write_autocommit(self._conn, beats, self.clock())
            except BaseException:
                # Never sent again from here: a connection lost after the commit would
                # store the batch twice. The requests get their 503; clients retry.
                self.close()
                raise
            if any(isinstance(result, Exception) for result in results):
                self.close()  # failed after the commit: start the next batch afresh
            return results
        for attempt in range(2):
            if self._conn is None:
                self._conn = self.engine.connect()
            transaction = self._conn.begin()
            try:
                results = heartbeats.record(self._conn, beats, self.clock())
            except BaseException as exc:
                self.close()
                if attempt == 0 and getattr(exc, "connection_invalidated", False):
                    continue  # a stale connection; nothing was committed: once more on a fresh one
                raise
            try:
                transaction.commit()
            except BaseException:
                self.close()
                raise
            return results
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Let go of the connection (rolling back whatever is open); the next batch opens another."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing a broken ingest connection failed", exc_info=True)
