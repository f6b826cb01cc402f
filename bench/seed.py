"""Bulk seeding straight into the database (never through the API).

PostgreSQL: INSERT ... SELECT over generate_series, with foreign-key triggers off for
the seeding session (session_replication_role=replica) and asynchronous commit.
History lands in the day partitions it belongs to (created first, as the daily cleanup
creates them ahead). SQLite: INSERT ... SELECT over a recursive CTE.

Services are named ``bench-<i>``, alert_interval 5 minutes, threshold 1, all healthy
(deadline in the future) unless asked otherwise. History rows are UP heartbeats spaced
evenly over the requested days, older than ``now``.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta, timezone

import psycopg

from medic.store.engine import make_engine
from medic.store.migrate import upgrade

ALERT_INTERVAL_MINUTES = 5


def migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def _sqlite_time(dt: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format, naive UTC.
    return dt.astimezone(timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def seed_services(url: str, count: int, now: datetime, *, first: int = 0, deadline_offset: float | None = None) -> float:
    """Insert ``count`` services bench-<first>.. ; returns seconds taken.

    Every service last beat at ``now`` - 60 s; its deadline is ``now`` + the offset
    (default: a full window ahead, so a worker cycle finds nothing to do).
    """
    started = time.perf_counter()
    window = ALERT_INTERVAL_MINUTES * 60
    offset = window - 60 if deadline_offset is None else deadline_offset
    added = now - timedelta(days=31)
    last = now - timedelta(seconds=60)
    deadline = now.timestamp() + offset
    if _is_sqlite(url):
        with sqlite3.connect(sqlite_path(url)) as db:
            db.execute(
                """
                WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
                INSERT INTO services (heartbeat_name, service_name, active, alert_interval, threshold, team,
                    priority, muted, down, grace_period_seconds, date_added, date_modified,
                    last_heartbeat_at, last_status, deadline)
                SELECT 'bench-' || i, 'bench-service-' || (i % 100), 1, ?, 1, 'site-reliability',
                    'p3', 0, 0, 0, ?, ?, ?, 'UP', ?
                FROM seq
                """,
                (first, first + count - 1, ALERT_INTERVAL_MINUTES, _sqlite_time(added), _sqlite_time(added),
                 _sqlite_time(last), deadline),
            )
    else:
        with psycopg.connect(url) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.execute(
                """
                INSERT INTO services (heartbeat_name, service_name, active, alert_interval, threshold, team,
                    priority, muted, down, grace_period_seconds, date_added, date_modified,
                    last_heartbeat_at, last_status, deadline)
                SELECT 'bench-' || i, 'bench-service-' || (i %% 100), true, %(interval)s, 1, 'site-reliability',
                    'p3', false, false, 0, %(added)s, %(added)s, %(last)s, 'UP', %(deadline)s
                FROM generate_series(%(first)s::bigint, %(last_i)s::bigint) AS i
                """,
                {"interval": ALERT_INTERVAL_MINUTES, "added": added, "last": last, "deadline": deadline,
                 "first": first, "last_i": first + count - 1},
            )
            conn.execute("ANALYZE services")
    return time.perf_counter() - started


def seed_history(url: str, *, per_day: int, from_day: int, to_day: int, now: datetime) -> tuple[int, float]:
    """Add ``per_day`` UP heartbeats per service per day for days [from_day, to_day) before ``now``.

    Rows are written time-major (all services' beats of one instant together), like real
    ingest. Returns (rows inserted, seconds taken).
    """
    started = time.perf_counter()
    step = 86400 / per_day
    first_k = from_day * per_day
    last_k = to_day * per_day - 1
    end = now.timestamp() - 120  # newest history beat: two minutes before `now`
    if _is_sqlite(url):
        with sqlite3.connect(sqlite_path(url)) as db:
            db.execute("PRAGMA synchronous=OFF")
            indexes = _drop_indexes_sqlite(db)
            rows = db.execute(
                """
                WITH RECURSIVE k(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM k WHERE n < ?)
                INSERT INTO heartbeat_events (service_id, time, status)
                SELECT s.service_id,
                       strftime('%Y-%m-%d %H:%M:%S', ? - k.n * ? - (s.service_id % 60), 'unixepoch'),
                       'UP'
                FROM k CROSS JOIN services AS s
                """,
                (first_k, last_k, end, step),
            ).rowcount
            for ddl in indexes:
                db.execute(ddl)
            db.execute("ANALYZE")
    else:
        _ensure_partitions(url, now - timedelta(days=to_day), now)
        with psycopg.connect(url) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET session_replication_role = replica")  # skip per-row FK triggers while seeding
            conn.execute("SET maintenance_work_mem = '1GB'")
            indexes = _drop_indexes_pg(conn)
            rows = conn.execute(
                """
                INSERT INTO heartbeat_events (service_id, time, status)
                SELECT s.service_id,
                       to_timestamp(%(end)s - k * %(step)s - (s.service_id %% 60)),
                       'UP'
                FROM generate_series(%(first_k)s::bigint, %(last_k)s::bigint) AS k
                CROSS JOIN (SELECT service_id FROM services) AS s
                """,
                {"end": end, "step": step, "first_k": first_k, "last_k": last_k},
            ).rowcount
            for ddl in indexes:
                conn.execute(ddl)
            conn.commit()
        # VACUUM now rather than leave it to autovacuum, which a bulk load of millions of
        # rows wakes up: it would share the cores with whatever is measured next.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) heartbeat_events")
    return rows, time.perf_counter() - started


def _ensure_partitions(url: str, first: datetime, last: datetime) -> None:
    """The day partitions the history falls in, as the daily cleanup would have made them."""
    from medic.store import partitions

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            partitions.ensure_days(conn, first.date(), last.date(), last.date())
    finally:
        engine.dispose()


def _drop_indexes_pg(conn) -> list[str]:
    """Drop heartbeat_events' secondary indexes (rebuilt after the load: much faster); returns their DDL."""
    rows = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'heartbeat_events' AND indexname NOT LIKE 'pk_%%'"
    ).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [ddl for _, ddl in rows]


def _drop_indexes_sqlite(db) -> list[str]:
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'heartbeat_events' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in rows:
        db.execute(f'DROP INDEX "{name}"')
    return [ddl for _, ddl in rows]


def claim_cleanup_today(url: str, now: datetime) -> None:
    """Mark today's daily cleanup as done so `medic worker --once` times evaluation, not cleanup."""
    from medic.store import worker_state as ws

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            ws.claim_daily(conn, "cleanup_day", now.date().isoformat(), now)
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    if _is_sqlite(url):
        with sqlite3.connect(sqlite_path(url)) as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
