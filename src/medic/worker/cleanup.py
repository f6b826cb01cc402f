"""Daily cleanup: heartbeats and finished notifications past the retention period."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from medic.clock import Clock, utcnow
from medic.config import Settings
from medic.metrics import process_metrics
from medic.store import cleanup as store
from medic.store import worker_state as ws

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.cleanup")

BATCH_SIZE = 5000


def run_cleanup(engine: "Engine", settings: Settings, *, clock: Clock = utcnow, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete in short transactions of ``batch_size`` rows; returns rows deleted per table."""
    now = clock()
    cutoff = now - timedelta(days=settings.heartbeat_retention_days)
    deleted = {"heartbeat_events": 0, "notifications": 0, "job_runs": 0}
    for table, delete_batch in (
        ("heartbeat_events", store.delete_heartbeats_batch),
        ("notifications", store.delete_notifications_batch),
        ("job_runs", store.delete_job_runs_batch),
    ):
        while True:
            with engine.begin() as conn:
                count = delete_batch(conn, cutoff, batch_size)
            deleted[table] += count
            process_metrics().cleanup_deleted.labels(table=table).inc(count)
            if count < batch_size:
                break
    with engine.begin() as conn:
        ws.put(conn, ws.LAST_CLEANUP, now.isoformat(), now)
    log.info("cleanup done: cutoff %s, %s", cutoff.isoformat(), deleted)
    return deleted
