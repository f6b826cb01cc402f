"""Batched deletes, so cleanup never holds a long lock against ingest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, delete, or_, select, tuple_

from medic.core.model import FINISHED_STATES
from medic.store.tables import (
    alerts, heartbeat_events, job_runs, maintenance_windows, notifications, outage_gaps, service_slots,
)



def delete_heartbeats_batch(conn: Connection, cutoff: datetime, batch_size: int) -> int:
    doomed = (
        select(heartbeat_events.c.heartbeat_id)
        .where(heartbeat_events.c.time < cutoff)
        .limit(batch_size)
        .scalar_subquery()
    )
    # The time bound again so PostgreSQL looks only in partitions that can hold such rows.
    return conn.execute(
        delete(heartbeat_events).where(heartbeat_events.c.time < cutoff, heartbeat_events.c.heartbeat_id.in_(doomed))
    ).rowcount


def delete_notifications_batch(conn: Connection, cutoff: datetime, batch_size: int) -> int:
    doomed = (
        select(notifications.c.notification_id)
        .where(
            notifications.c.state.in_(FINISHED_STATES),
            notifications.c.finished_at < cutoff,
            # An open alert's trigger holds the Slack thread its resolve replies in.
            ~notifications.c.alert_id.in_(select(alerts.c.alert_id).where(alerts.c.active)),
        )
        .limit(batch_size)
        .scalar_subquery()
    )
    return conn.execute(delete(notifications).where(notifications.c.notification_id.in_(doomed))).rowcount


def delete_service_slots_batch(conn: Connection, cutoff: datetime, batch_size: int) -> int:
    """Slot outcomes older than retention (docs/schedules.md)."""
    doomed = (
        select(service_slots.c.service_id, service_slots.c.slot_at)
        .where(service_slots.c.slot_at < cutoff)
        .limit(batch_size)
    )
    return conn.execute(
        delete(service_slots).where(tuple_(service_slots.c.service_id, service_slots.c.slot_at).in_(doomed))
    ).rowcount


def delete_job_runs_batch(conn: Connection, cutoff: datetime, batch_size: int) -> int:
    """Finished runs only: an open run still decides whether its job is overdue."""
    doomed = (
        select(job_runs.c.job_run_id)
        .where(job_runs.c.finished_at.is_not(None), job_runs.c.finished_at < cutoff)
        .limit(batch_size)
        .scalar_subquery()
    )
    return conn.execute(delete(job_runs).where(job_runs.c.job_run_id.in_(doomed))).rowcount


def delete_maintenance_windows_batch(conn: Connection, cutoff: datetime, batch_size: int) -> int:
    """Maintenance windows over before ``cutoff`` (docs/maintenance.md): ended early, or
    one-off and past their end. The slots that named them are gone by then too."""
    w = maintenance_windows.c
    doomed = (
        select(w.window_id)
        .where(or_(w.ended_at < cutoff, and_(w.cron.is_(None), w.ends_at < cutoff)))
        .limit(batch_size)
        .scalar_subquery()
    )
    return conn.execute(delete(maintenance_windows).where(w.window_id.in_(doomed))).rowcount


def delete_outage_gaps_batch(conn: Connection, cutoff: datetime, batch_size: int) -> int:
    """Medic's own outages that ended before ``cutoff``: no slot or heartbeat they could
    explain is kept any longer."""
    g = outage_gaps.c
    doomed = select(g.gap_id).where(g.ended_at < cutoff).limit(batch_size).scalar_subquery()
    return conn.execute(delete(outage_gaps).where(g.gap_id.in_(doomed))).rowcount
