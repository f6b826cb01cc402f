"""Daily cleanup: heartbeats, finished notifications, finished job runs, slots,
maintenance windows and recorded outages past the retention period.

On PostgreSQL heartbeats live in day partitions: cleanup first creates the days ahead,
then drops the days wholly past retention, and deletes row by row only what is left
(the part of the cutoff's day before the cutoff, the default partition).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from medic.clock import Clock, utcnow
from medic.config import Settings
from medic.metrics import process_metrics
from medic.store import cleanup as store
from medic.store import partitions
from medic.store import worker_state as ws

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.cleanup")

BATCH_SIZE = 5000


class CleanupIncomplete(RuntimeError):
    """Part of the cleanup could not run; the rest did. Tomorrow's run tries again."""


def run_cleanup(engine: "Engine", settings: Settings, *, clock: Clock = utcnow, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete in short transactions of ``batch_size`` rows; returns rows deleted per table.

    Raises CleanupIncomplete (after doing everything else, and without recording a
    successful cleanup) when a partition could not be created or dropped.
    """
    now = clock()
    cutoff = now - timedelta(days=settings.heartbeat_retention_days)
    deleted = {"heartbeat_events": 0, "notifications": 0, "job_runs": 0, "service_slots": 0, "maintenance_windows": 0,
               "outage_gaps": 0}
    problems: list[str] = []
    with engine.connect() as conn:
        partitioned = partitions.is_partitioned(conn)
    tables = [
        ("heartbeat_events", store.delete_heartbeats_batch),
        ("notifications", store.delete_notifications_batch),
        ("job_runs", store.delete_job_runs_batch),
        ("service_slots", store.delete_service_slots_batch),
        ("maintenance_windows", store.delete_maintenance_windows_batch),
        ("outage_gaps", store.delete_outage_gaps_batch),
    ]
    if partitioned:
        deleted["heartbeat_events"], problems, dropped = _maintain_partitions(engine, now, cutoff)
        if not dropped:
            # Deleting an undropped day row by row is the cost partitions exist to avoid.
            tables.pop(0)
    for table, delete_batch in tables:
        while True:
            with engine.begin() as conn:
                count = delete_batch(conn, cutoff, batch_size)
            deleted[table] += count
            process_metrics().cleanup_deleted.labels(table=table).inc(count)
            if count < batch_size:
                break
    if problems:
        raise CleanupIncomplete("; ".join(problems) + f" (deleted so far: {deleted})")
    with engine.begin() as conn:
        ws.put(conn, ws.LAST_CLEANUP, now.isoformat(), now)
    log.info("cleanup done: cutoff %s, %s", cutoff.isoformat(), deleted)
    return deleted


def _maintain_partitions(engine: "Engine", now: datetime, cutoff: datetime) -> tuple[int, list[str], bool]:
    """Create the partitions ahead, drop the expired ones.

    Returns the rows dropped, what could not be done (a lock not granted within
    partitions.LOCK_TIMEOUT: a long query on the table) and whether the drop was done.
    """
    problems = []
    today, last = partitions.days_ahead(now)
    try:
        with engine.begin() as conn:
            missing = partitions.missing_days(conn, today, last)
        for day in missing:
            # One transaction per day: each holds a lock on `services` until it commits.
            with engine.begin() as conn:
                partitions.create_day(conn, day, today)
    except DBAPIError as exc:
        problems.append(f"could not create the partitions ahead: {exc.orig or exc}")
    try:
        with engine.begin() as conn:
            rows, dropped = partitions.drop_expired(conn, cutoff)
    except DBAPIError as exc:
        problems.append(f"could not drop the expired partitions: {exc.orig or exc}")
        return 0, problems, False
    if dropped:
        process_metrics().cleanup_deleted.labels(table="heartbeat_events").inc(rows)
        log.info("dropped %s (%d heartbeats)", ", ".join(dropped), rows)
    return rows, problems, True
