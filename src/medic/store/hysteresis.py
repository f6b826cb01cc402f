"""The newest signals hysteresis counts (core/hysteresis.py), read for one service
whose failures_to_open or successes_to_close is above 1: a few index range scans
bounded by those settings, never the whole history."""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import Connection, select, true

from medic.core import hysteresis, schedule
from medic.core.jobs import RunState
from medic.core.model import JOB_FAILED, JOB_TOO_FAST, Status
from medic.core.schedule import MET_OUTCOMES, SlotOutcome
from medic.store.schedules import cron_of
from medic.store.tables import alerts, heartbeat_events, job_runs, service_slots

# Slots a cron service's success may leave behind: met, or completed past max_runtime.
_SUCCESS_OUTCOMES = sorted({*MET_OUTCOMES, SlotOutcome.TOO_LONG})
_FAILED_OUTCOMES = sorted({SlotOutcome.FAILED, SlotOutcome.TOO_FAST})


def signals(conn: Connection, service: Mapping[str, Any], newest_status: str | None) -> dict[str, Any]:
    """The hysteresis fields of deadline.Signals for ``service`` (a row, with any changes
    applied and its last_status as the signal leaves it); {} without hysteresis."""
    n = service.get("failures_to_open") or hysteresis.DEFAULT
    m = service.get("successes_to_close") or hysteresis.DEFAULT
    if not hysteresis.applies(n, m):
        return {}
    service_id = service["service_id"]
    cron = cron_of(service)
    found: dict[str, Any] = {}
    if n > 1 and cron is not None:
        found["failed_slot"] = _failed_slot(conn, service, cron, newest_status)
    elif n > 1:
        found["downs_in_a_row"] = hysteresis.downs_in_a_row(_newest_statuses(conn, service_id, n))
        if service.get("last_status") == JOB_FAILED:
            found["failed_runs_in_a_row"] = hysteresis.leading(
                _newest_run_states(conn, service_id, n), lambda state: state == RunState.FAILED)
    if m > 1 and service.get("down"):
        opened = conn.execute(
            select(alerts.c.created_date).where(alerts.c.service_id == service_id, alerts.c.active == true())
        ).scalar()
        found["down"] = opened is not None
        if opened is not None:
            found["successes_since_open"] = _successes_since(conn, service_id, cron, opened, m)
    return found


def _newest_statuses(conn: Connection, service_id: int, limit: int, since=None) -> list[str]:
    query = (select(heartbeat_events.c.status).where(heartbeat_events.c.service_id == service_id)
             .order_by(heartbeat_events.c.time.desc(), heartbeat_events.c.heartbeat_id.desc()).limit(limit))
    if since is not None:
        query = query.where(heartbeat_events.c.time >= since)
    return list(conn.scalars(query))


def _newest_run_states(conn: Connection, service_id: int, limit: int, since=None) -> list[str]:
    query = (select(job_runs.c.state)
             .where(job_runs.c.service_id == service_id, job_runs.c.finished_at.is_not(None))
             .order_by(job_runs.c.finished_at.desc(), job_runs.c.job_run_id.desc()).limit(limit))
    if since is not None:
        query = query.where(job_runs.c.finished_at >= since)
    return list(conn.scalars(query))


def _failed_slot(conn: Connection, service: Mapping[str, Any], cron: schedule.Cron, newest_status: str | None):
    """The slot the newest failure concerns: a DOWN heartbeat's, else the newest failed run's."""
    if newest_status == Status.DOWN and service.get("last_heartbeat_at") is not None:
        return schedule.slot_met_by(cron, service["last_heartbeat_at"], service["grace_period_seconds"])
    if service.get("last_status") in (JOB_FAILED, JOB_TOO_FAST):
        return conn.execute(
            select(service_slots.c.slot_at)
            .where(service_slots.c.service_id == service["service_id"], service_slots.c.outcome.in_(_FAILED_OUTCOMES))
            .order_by(service_slots.c.slot_at.desc()).limit(1)
        ).scalar()
    return None


def _successes_since(conn: Connection, service_id: int, cron: schedule.Cron | None, opened, limit: int) -> int:
    """Successes in a row since the alert opened: met slots (cron), else completed runs
    when the service ran jobs since, else UP/DEGRADED heartbeats."""
    if cron is not None:
        rows = conn.execute(
            select(service_slots.c.slot_at, service_slots.c.outcome)
            .where(service_slots.c.service_id == service_id, service_slots.c.signal_at >= opened)
            .order_by(service_slots.c.slot_at.desc()).limit(limit)
        ).all()
        met = [row.slot_at for row in rows[:hysteresis.leading(rows, lambda row: row.outcome in _SUCCESS_OUTCOMES)]]
        return hysteresis.slots_in_a_row(cron, [slot.astimezone(schedule.UTC) for slot in met])
    runs = _newest_run_states(conn, service_id, limit, since=opened)
    if runs:  # a job's start is a heartbeat too: count its completed runs instead
        return hysteresis.leading(runs, lambda state: state == RunState.SUCCEEDED)
    return hysteresis.goods_in_a_row(_newest_statuses(conn, service_id, limit, since=opened))
