"""Heartbeat statements: storing a batch, recounting deadlines, listing.

Every function here runs on the connection it is given, in whatever transaction the
caller holds; where transactions begin and end, and what is retried, is
medic.ingest.transactions' business.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime
from typing import Iterable, Iterator, Mapping, Sequence

from sqlalchemy import (
    BigInteger,
    Connection,
    Row,
    String,
    bindparam,
    column,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.exc import DBAPIError

from medic.core import deadline, schedule
from medic.core.model import GOOD_STATUSES, JOB_FAILED, JOB_RUNNING, Status
from medic.store import schedules
from medic.store import services as service_queries
from medic.store.instrument import timed
from medic.store.tables import heartbeat_events, services


@dataclass(frozen=True)
class Beat:
    heartbeat_name: str
    status: str  # already normalised to a Status value


@dataclass(frozen=True)
class Stored:
    heartbeat_id: int
    service_id: int
    heartbeat_name: str
    service_name: str
    team: str
    priority: str
    time: datetime
    status: str


# Why a heartbeat was not stored.
UNKNOWN = "unknown"
INACTIVE = "inactive"


_RETURNED = (
    services.c.service_id,
    services.c.heartbeat_name,
    services.c.service_name,
    services.c.team,
    services.c.priority,
    services.c.threshold,
    services.c.alert_interval,
    services.c.grace_period_seconds,
    services.c.date_added,
    services.c.date_modified,
    services.c.max_duration_seconds,
    services.c.last_status,
    services.c.cron,
    services.c.timezone,
    services.c.failures_to_open,
    services.c.successes_to_close,
)



def _batch_set(source: str) -> str:
    """The SET clause of both batch statements, ``source`` naming the rows that hold each
    service's batch status. The CASEs are core/deadline.py's rule for the cases it can
    settle without the history (tests/store/test_deadline_sql.py holds them equal to
    it); the others keep their deadline and are recounted by the caller
    (``needs_recount``)."""
    good = ", ".join(f"'{status}'" for status in sorted(GOOD_STATUSES))  # fixed words, not input
    return f"""SET last_heartbeat_at = :at,
            last_success_at = CASE WHEN services.cron IS NOT NULL AND {source}.status IN ({good}) THEN :at
                                   ELSE services.last_success_at END,
            last_status = CASE WHEN services.last_status = :failed THEN services.last_status
                               WHEN services.last_status = :running AND {source}.status <> :down
                                   THEN services.last_status
                               ELSE {source}.status END,
            deadline = CASE WHEN services.failures_to_open > 1 OR services.successes_to_close > 1
                                THEN services.deadline  -- hysteresis (core/hysteresis.py): recounted by the caller
                            WHEN {source}.status = :down OR services.last_status = :failed THEN :unhealthy
                            WHEN services.threshold > 1 OR services.max_duration_seconds IS NOT NULL
                                OR services.cron IS NOT NULL
                                THEN services.deadline  -- recounted by the caller
                            ELSE :at_epoch + services.alert_interval * 60 + services.grace_period_seconds END
"""


# PostgreSQL: a whole batch in one statement and one round trip, whatever its size
# (arrays keep the text constant, so psycopg prepares it once per connection; the
# statement is kept small because PostgreSQL plans it afresh on every execution).
# - Services are locked in service_id order, so concurrent batches touching the same
#   services queue behind each other instead of deadlocking.
# - A name sent twice moves its service once, with its last status (deduplicated by
#   the caller): the same end state as applying the beats one by one. Every beat still
#   gets its own row, inserted in submission order.
_STORE_BATCH_PG = text(
    f"""
    WITH locked AS MATERIALIZED (
        SELECT s.service_id, v.name_lower, v.status, s.last_status AS prev_status, s.last_success_at AS prev_success
        FROM unnest(CAST(:names AS text[]), CAST(:last_statuses AS text[])) AS v(name_lower, status)
        JOIN services AS s ON lower(s.heartbeat_name) = v.name_lower
        WHERE s.active
        ORDER BY s.service_id
        FOR UPDATE OF s
    ), touched AS (
        UPDATE services
        {_batch_set("locked")}        FROM locked
        WHERE services.service_id = locked.service_id
        RETURNING locked.name_lower, services.service_id, services.heartbeat_name, services.service_name,
            services.team, services.priority, services.threshold, services.alert_interval,
            services.grace_period_seconds, services.date_added, services.date_modified, services.max_duration_seconds,
            services.last_status, services.cron, services.timezone, services.failures_to_open,
            services.successes_to_close, locked.prev_status, locked.prev_success
    ), inserted AS (
        INSERT INTO heartbeat_events (service_id, time, status)
        SELECT touched.service_id, :at, b.status
        FROM unnest(CAST(:beat_names AS text[]), CAST(:beat_statuses AS text[])) WITH ORDINALITY AS b(name_lower, status, ord)
        JOIN touched USING (name_lower)
        ORDER BY b.ord
        RETURNING heartbeat_id, service_id
    )
    SELECT inserted.heartbeat_id, touched.*
    FROM inserted JOIN touched USING (service_id)
    """
).columns(column("heartbeat_id", BigInteger), column("name_lower", String), *_RETURNED,
           column("prev_status", String), column("prev_success", services.c.last_success_at.type))


# The same statement as psycopg takes it, for the group-commit writer's autocommit path.
_STORE_BATCH_PG_SQL = str(_STORE_BATCH_PG.compile(dialect=postgresql_psycopg.dialect()))


def _batch_params(beats: Sequence[Beat], now: datetime) -> tuple[list[str], dict]:
    names = [beat.heartbeat_name.lower() for beat in beats]
    last = dict(zip(names, (beat.status for beat in beats)))  # a later beat of a name wins
    return names, {
        "names": list(last),
        "last_statuses": list(last.values()),
        "beat_names": names,
        "beat_statuses": [beat.status for beat in beats],
        "at": now,
        "at_epoch": now.timestamp(),
        "down": Status.DOWN.value,
        "failed": JOB_FAILED,
        "running": JOB_RUNNING,
        "unhealthy": deadline.UNHEALTHY,
    }


def _pair(names: list[str], rows: Iterable[Mapping]) -> dict[int, tuple[int, Mapping]]:
    # Ids come from the sequence in ``ord`` order, so a name's ids, sorted, pair with its
    # beats in submission order (the assumption SQLAlchemy's insertmanyvalues makes too).
    by_name: dict[str, list] = {}
    for row in rows:
        by_name.setdefault(row["name_lower"], []).append(row)
    for found in by_name.values():
        found.sort(key=lambda row: row["heartbeat_id"])
    stored = {}
    for index, name in enumerate(names):
        found = by_name.get(name)
        if found:
            row = found.pop(0)
            stored[index] = (row["heartbeat_id"], row)
    return stored


def _store_postgresql(conn: Connection, beats: Sequence[Beat], now: datetime) -> dict[int, tuple[int, Mapping]]:
    names, params = _batch_params(beats, now)
    return _pair(names, conn.execute(_STORE_BATCH_PG, params).mappings())


@lru_cache(maxsize=256)
def _sqlite_batch(size: int):
    """SQLite: a batch's services moved in one UPDATE, not one statement per heartbeat
    (a statement costs the writer thread far more in Python than in SQLite, and each
    one hands the GIL back to the request threads; bench/RESULTS.md)."""
    rows = ", ".join(f"(:n{i}, :s{i})" for i in range(size))
    returned = ", ".join(f"services.{c.name}" for c in _RETURNED)
    return text(
        f"""
        WITH batch(name_lower, status) AS (VALUES {rows})
        UPDATE services
        {_batch_set("batch")}
        FROM batch
        WHERE lower(services.heartbeat_name) = batch.name_lower AND services.active
        RETURNING {returned}
        """
    ).bindparams(bindparam("at", type_=services.c.last_heartbeat_at.type)).columns(*_RETURNED)


@lru_cache(maxsize=256)
def _sqlite_insert(size: int):
    """The batch's heartbeat rows in one INSERT. SQLite hands out rowids in VALUES order,
    so the ids, sorted, pair with the rows as sent, whatever order RETURNING lists them
    in (SQLAlchemy's own batch insert would send one statement per row here)."""
    rows = ", ".join(f"(:id{i}, :at, :s{i})" for i in range(size))
    return text(f"INSERT INTO heartbeat_events (service_id, time, status) VALUES {rows} RETURNING heartbeat_id") \
        .bindparams(bindparam("at", type_=heartbeat_events.c.time.type))


def _store_sqlite(conn: Connection, beats: Sequence[Beat], now: datetime) -> dict[int, tuple[int, Mapping]]:
    # One writer and no round trips: the batch UPDATE (a name sent twice moves its service
    # once, with its last status, as on PostgreSQL), then the heartbeats' rows in order.
    names, params = _batch_params(beats, now)
    last = dict(zip(params["names"], params["last_statuses"]))
    values = {key: params[key] for key in ("at", "at_epoch", "down", "failed", "running", "unhealthy")}
    for i, (name, status) in enumerate(last.items()):
        values[f"n{i}"], values[f"s{i}"] = name, status
    touched = {row.heartbeat_name.lower(): row for row in conn.execute(_sqlite_batch(len(last)), values)}
    matched = [(index, touched[name]) for index, name in enumerate(names) if name in touched]
    if not matched:
        return {}
    rows = {"at": now}
    for i, (index, row) in enumerate(matched):
        rows[f"id{i}"], rows[f"s{i}"] = row.service_id, beats[index].status
    ids = sorted(conn.execute(_sqlite_insert(len(matched)), rows).scalars())
    return {index: (heartbeat_id, row._mapping) for (index, row), heartbeat_id in zip(matched, ids)}


def _refused(conn: Connection, names: set[str]) -> dict[str, str]:
    """Why named heartbeats matched no active service: INACTIVE or UNKNOWN."""
    lower_name = func.lower(services.c.heartbeat_name)
    existing = set(conn.execute(select(lower_name).where(lower_name.in_(sorted(names)))).scalars())
    return {name: INACTIVE if name in existing else UNKNOWN for name in names}


def record(conn: Connection, beats: Sequence[Beat], now: datetime) -> list[Stored | str]:
    """Store heartbeats in the caller's transaction; one result per beat, in order.

    A result is a ``Stored`` or the reason it was refused (``UNKNOWN``/``INACTIVE``).
    On PostgreSQL any number of beats costs one statement (plus one when some are
    refused), so a batch of concurrent requests shares one transaction and commit.
    """
    if not beats:
        return []
    store = _store_postgresql if conn.dialect.name == "postgresql" else _store_sqlite
    results, recount = outcomes(conn, beats, store(conn, beats, now), now)
    if recount:
        _set_recounted_deadlines(conn, recount, successes(results), now)
    return results


def store_autocommit(conn: Connection, beats: Sequence[Beat], now: datetime) -> dict[int, tuple[int, Mapping]]:
    """PostgreSQL, on a connection in AUTOCOMMIT: the batch statement, sent on the psycopg
    connection itself (one round trip; the statement is its own transaction). What it
    stored, by beat index, for ``outcomes``. Errors are raised as SQLAlchemy's, and a
    connection the failure closed is invalidated. medic.ingest.transactions decides
    when this runs (the group-commit writer's hot path, bench/RESULTS.md).
    """
    # Imported here, not at the top: psycopg picks its wait function when first imported,
    # and `medic serve`'s master imports this module before gunicorn's gevent worker
    # patches the process; imported there, psycopg would block the worker while it waits.
    from psycopg.rows import dict_row

    if not beats:
        return {}
    names, params = _batch_params(beats, now)
    driver = conn.connection.driver_connection
    with driver_errors(conn, _STORE_BATCH_PG_SQL, params):
        with timed(conn.engine, "with"), driver.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(_STORE_BATCH_PG_SQL, params).fetchall()
    return _pair(names, rows)


@contextmanager
def driver_errors(conn: Connection, statement: str, params: dict | None = None) -> Iterator[None]:
    """Work done on the psycopg connection raises what SQLAlchemy would have raised:
    callers tell outages (503) and deadlocks by it. A connection the failure closed is
    invalidated, so the pool does not hand it out again."""
    import psycopg  # see store_autocommit

    driver = conn.connection.driver_connection
    try:
        yield
    except psycopg.Error as exc:
        if driver.closed:
            conn.invalidate()
        raise DBAPIError.instance(statement, params, exc, psycopg.Error, connection_invalidated=driver.closed) from exc


@contextmanager
def driver_transaction(conn: Connection) -> Iterator[None]:
    """BEGIN ... COMMIT on an AUTOCOMMIT connection's psycopg connection (SQLAlchemy's
    begin() sends nothing there), with psycopg's errors raised as SQLAlchemy's."""
    with driver_errors(conn, "transaction"), conn.connection.driver_connection.transaction():
        yield


def outcomes(
    conn: Connection, beats: Sequence[Beat], stored: dict[int, tuple[int, Mapping]], now: datetime
) -> tuple[list[Stored | str], dict[int, Mapping]]:
    """Per-beat results, and the services whose deadline must be recounted (deadline.needs_recount)."""
    missing = {beat.heartbeat_name.lower() for index, beat in enumerate(beats) if index not in stored}
    refused = _refused(conn, missing) if missing else {}
    results: list[Stored | str] = []
    recount: dict[int, Mapping] = {}
    for index, beat in enumerate(beats):
        if index not in stored:
            results.append(refused[beat.heartbeat_name.lower()])
            continue
        heartbeat_id, row = stored[index]
        results.append(
            Stored(
                heartbeat_id=heartbeat_id,
                service_id=row["service_id"],
                heartbeat_name=row["heartbeat_name"],
                service_name=row["service_name"],
                team=row["team"],
                priority=row["priority"],
                time=now,
                status=beat.status,
            )
        )
        if deadline.needs_recount(row["threshold"], row["max_duration_seconds"], row["cron"],
                                  row["failures_to_open"], row["successes_to_close"]) \
                and not _success_moves_nothing(row, beat.status, now):
            # The statement kept the deadline; count the newest signals instead
            # (after the insert, once per service however often it is in the batch).
            recount[row["service_id"]] = row
    return results, recount


def _success_moves_nothing(row: Mapping, status: str, now: datetime) -> bool:
    # PostgreSQL's batch statement hands back the status and success before it (SQLite's
    # does not: its services are recounted as before).
    if "prev_status" not in row or row["cron"] is None:
        return False
    cron = schedule.Cron(row["cron"], row["timezone"] or schedule.DEFAULT_TIMEZONE)
    return deadline.cron_success_moves_nothing(
        cron, row["grace_period_seconds"], status=status, at=now, previous_status=row["prev_status"],
        previous_success=row["prev_success"], changed=row["date_modified"],
        max_duration_seconds=row["max_duration_seconds"], failures_to_open=row["failures_to_open"],
        successes_to_close=row["successes_to_close"])


def successes(results: Sequence[Stored | str | Exception]) -> set[int]:
    """Services that got an UP or DEGRADED heartbeat in the batch (a cron slot's success)."""
    return {r.service_id for r in results if isinstance(r, Stored) and r.status in GOOD_STATUSES}


def _set_recounted_deadlines(
    conn: Connection, service_ids: Iterable[int], successes: set[int] = frozenset(), now: datetime | None = None,
    *, lock: bool = False,
) -> None:
    """Recount the services' deadlines from their whole rows, read in one statement with
    their newest heartbeat's status (under row locks when ``lock``), and record the
    successes of the cron services among them (docs/schedules.md): a few statements
    per batch, not per service."""
    query = service_queries.rows_with_newest_status(service_ids)
    if lock:
        query = query.with_for_update(of=services)
    rows = [dict(row) for row in conn.execute(query).mappings()]
    if now is not None:
        met = [row for row in rows if row["cron"] is not None and row["service_id"] in successes]
        schedules.record_successes(conn, met, now)
        for row in met:
            row["last_success_at"] = now
    due = [(row["service_id"], service_queries.compute_deadline(conn, row)) for row in rows]
    # Most of a batch's cron services met a slot already met: their deadline stands.
    changed = [(sid, at) for (sid, at), row in zip(due, rows) if at != row["deadline"]]
    service_queries.set_deadlines(conn, changed)


def recount_locked(
    conn: Connection, service_ids: Sequence[int], successes: set[int] = frozenset(), now: datetime | None = None
) -> None:
    """Recount the deadlines of services a batch stored heartbeats for, in the caller's
    transaction (medic.ingest.transactions gives it one of its own). ``successes``: the
    services the batch brought an UP or DEGRADED heartbeat at ``now`` (cron slots).

    Row locks first, in id order: a concurrent batch's recount waits, then counts this
    one's heartbeats too. The settings are read under the lock, not taken from the batch
    statement: a change to the service committed in between (threshold, interval) is
    counted with, never overwritten.
    """
    _set_recounted_deadlines(conn, service_ids, successes, now, lock=True)


def list_recent(
    conn: Connection,
    *,
    heartbeat_name: str | None = None,
    service_name: str | None = None,
    limit: int = 250,
) -> list[Row]:
    query = (
        select(
            heartbeat_events.c.heartbeat_id,
            services.c.heartbeat_name,
            services.c.service_name,
            heartbeat_events.c.time,
            heartbeat_events.c.status,
            services.c.team,
            services.c.priority,
        )
        .join(services, services.c.service_id == heartbeat_events.c.service_id)
        .order_by(heartbeat_events.c.time.desc(), heartbeat_events.c.heartbeat_id.desc())
        .limit(limit)
    )
    if heartbeat_name is not None:
        query = query.where(func.lower(services.c.heartbeat_name) == heartbeat_name.lower())
    if service_name is not None:
        query = query.where(services.c.service_name == service_name)
    return list(conn.execute(query))
