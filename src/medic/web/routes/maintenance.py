"""Maintenance windows: /v2/maintenance (docs/maintenance.md; the rules are core/maintenance.py's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from flask import Blueprint

from medic.core import schedule
from medic.core.maintenance import MaintenanceError, check_scope, check_times
from medic.store import maintenance as store
from medic.web.api import operation
from medic.web.context import runtime
from medic.web.envelope import ApiError, reply
from medic.web.maintenance_schemas import MaintenanceCreate, MaintenanceOut, MaintenanceUpdate

bp = Blueprint("maintenance", __name__)

SCOPE_FIELDS = ("services", "team", "labels")
ONE_OFF_FIELDS = ("start", "end")
RECURRING_FIELDS = ("cron", "timezone", "duration_minutes")


def _window_id(window_id: str) -> int:
    if not (window_id.isascii() and window_id.isdigit() and len(window_id) <= 18):
        raise ApiError(404, f"no maintenance window has id '{window_id}'")
    return int(window_id)


def _bad(field: str, problem: str) -> ApiError:
    return ApiError(400, f"invalid body: {field}: {problem}", [{"field": field, "problem": problem}])


def _columns(conn, spec: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The stored columns of a window given in the API's shape, checked by
    core/maintenance.py's rules (a 400 naming the field); unknown services are a 400."""
    try:
        check_scope(services=spec.get("services"), team=spec.get("team"), labels=spec.get("labels"))
        cron = check_times(start=spec.get("start"), end=spec.get("end"), cron=spec.get("cron"),
                           timezone=spec.get("timezone"), duration_minutes=spec.get("duration_minutes"), now=now)
    except MaintenanceError as exc:
        raise _bad(exc.field, str(exc).split(": ", 1)[1]) from None
    service_ids = None
    if spec.get("services"):
        found = store.service_ids_by_name(conn, spec["services"])
        unknown = [name for name in spec["services"] if name not in found]
        if unknown:
            raise _bad("services", "no service is registered as " + ", ".join(f"'{name}'" for name in unknown))
        service_ids = sorted(set(found.values()))
    return {
        "reason": spec["reason"],
        "service_ids": service_ids,
        "team": spec.get("team") or None,
        "labels": spec.get("labels") or None,
        "starts_at": None if cron else (spec.get("start") or now),
        "ends_at": None if cron else spec.get("end"),
        "cron": cron.expression if cron else None,
        "timezone": cron.timezone if cron else None,
        "duration_minutes": spec.get("duration_minutes") if cron else None,
    }


def describe(row, names: Mapping[int, str], now: datetime) -> dict[str, Any]:
    """A window as the API shows it (also the dashboard's)."""
    window = store.window_of(row)
    span = window.span_at(now)
    out = MaintenanceOut(
        id=row.window_id, reason=row.reason, kind="recurring" if row.cron else "one_off",
        services=[names.get(sid, f"#{sid}") for sid in row.service_ids] if row.service_ids else None,
        team=row.team, labels=row.labels or None, start=row.starts_at, end=row.ends_at, cron=row.cron,
        timezone=row.timezone, duration_minutes=row.duration_minutes,
        description=schedule.describe(window.cron) if window.cron else None,
        active=span is not None, active_until=span[1] if span else None,
        next_start=window.next_start(now), created_at=row.created_at, updated_at=row.updated_at, ended_at=row.ended_at,
    )
    return out.model_dump(mode="json")


def _described(conn, rows, now: datetime) -> list[dict[str, Any]]:
    names = store.names_of(conn, sorted({sid for row in rows for sid in (row.service_ids or ())}))
    return [describe(row, names, now) for row in rows]


def _spec_of(row) -> dict[str, Any]:
    """A stored window in the API's request shape, for merging a PATCH."""
    return {"services": row.service_ids, "team": row.team, "labels": row.labels, "start": row.starts_at,
            "end": row.ends_at, "cron": row.cron, "timezone": row.timezone,
            "duration_minutes": row.duration_minutes, "reason": row.reason}


@operation(
    bp, "/v2/maintenance", "POST",
    summary="Create a maintenance window",
    tag="maintenance",
    body=MaintenanceCreate,
    result=MaintenanceOut,
    statuses=(201,),
    errors=(400, 413, 415, 503),
    description="One scope: `services` (heartbeat names), `team` or `labels` (all must match). One-off: "
    "`start` (default now) and `end`; recurring: `cron`, `timezone` (default UTC) and `duration_minutes`. "
    "While a window is in force, services in scope send no trigger and no reminder; one still unhealthy "
    "when it ends pages then. Alerts already open stay open and still resolve.",
)
def create_window(body: MaintenanceCreate):
    rt = runtime()
    now = rt.now()
    with rt.engine.begin() as conn:
        window_id = store.create(conn, _columns(conn, body.model_dump(), now), now)
        [out] = _described(conn, [store.get_row(conn, window_id)], now)
    return reply(out, "maintenance window created", 201)


@operation(
    bp, "/v2/maintenance", "GET",
    summary="Maintenance windows in force or upcoming",
    tag="maintenance",
    result=MaintenanceOut,
    result_is_list=True,
    errors=(503,),
)
def list_windows():
    rt = runtime()
    now = rt.now()
    with rt.reads.connect() as conn:
        found = _described(conn, store.list_rows(conn, now), now)
    active = sum(1 for window in found if window["active"])
    return reply(found, f"{len(found)} maintenance windows, {active} in force")


@operation(
    bp, "/v2/maintenance/<window_id>", "GET",
    summary="One maintenance window", tag="maintenance", result=MaintenanceOut,
    path_params=("window_id",), errors=(404, 503),
    description="Windows that are over are still shown (slots name them by id).",
)
def get_window(window_id: str):
    rt = runtime()
    now = rt.now()
    with rt.reads.connect() as conn:
        row = store.get_row(conn, _window_id(window_id))
        if row is None:
            raise ApiError(404, f"no maintenance window has id '{window_id}'")
        [out] = _described(conn, [row], now)
    return reply(out, "maintenance window")


@operation(
    bp, "/v2/maintenance/<window_id>", "PATCH",
    summary="Change a maintenance window",
    tag="maintenance",
    body=MaintenanceUpdate,
    result=MaintenanceOut,
    path_params=("window_id",),
    errors=(400, 404, 409, 413, 415, 503),
    description="Fields given replace the window's: a scope field (`services`, `team`, `labels`) the whole "
    "scope, and a time field of the other kind the window's times (a one-off becomes recurring or back). "
    "The result is checked as a new window would be. A window that is over is a 409.",
)
def update_window(window_id: str, body: MaintenanceUpdate):
    rt = runtime()
    now = rt.now()
    ident = _window_id(window_id)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if not changes:
        raise ApiError(400, "request body changes nothing: give services, team, labels, start, end, cron, "
                            "timezone, duration_minutes or reason")
    if changes.get("reason", "") is None:
        raise _bad("reason", "may not be null")
    with rt.engine.begin() as conn:
        row = store.get_row(conn, ident)
        if row is None:
            raise ApiError(404, f"no maintenance window has id '{window_id}'")
        if store.window_of(row).is_over(now):
            raise ApiError(409, f"maintenance window {ident} is over; create a new one")
        spec = _spec_of(row)
        if changes.keys() & set(SCOPE_FIELDS):
            spec.update(dict.fromkeys(SCOPE_FIELDS))
        other = ONE_OFF_FIELDS if row.cron else RECURRING_FIELDS
        if changes.keys() & set(other):
            spec.update(dict.fromkeys(RECURRING_FIELDS if row.cron else ONE_OFF_FIELDS))
        if spec.get("services"):  # stored as ids: back to names for the check
            names = store.names_of(conn, spec["services"])
            spec["services"] = [names[sid] for sid in spec["services"] if sid in names]
        spec.update(changes)
        store.replace(conn, ident, _columns(conn, spec, now), now)
        [out] = _described(conn, [store.get_row(conn, ident)], now)
    return reply(out, "maintenance window updated")


@operation(
    bp, "/v2/maintenance/<window_id>", "DELETE",
    summary="End a maintenance window now",
    tag="maintenance",
    result=MaintenanceOut,
    path_params=("window_id",),
    errors=(404, 409, 503),
    description="Ends the window in force now, or cancels one not yet started (a recurring window has no "
    "more occurrences). Services it held that are still unhealthy page on the next worker cycle. The window "
    "stays readable by id. A window already over is a 409.",
)
def end_window(window_id: str):
    rt = runtime()
    now = rt.now()
    ident = _window_id(window_id)
    with rt.engine.begin() as conn:
        row = store.get_row(conn, ident)
        if row is None:
            raise ApiError(404, f"no maintenance window has id '{window_id}'")
        if not store.end(conn, ident, now):
            raise ApiError(409, f"maintenance window {ident} is already over")
        [out] = _described(conn, [store.get_row(conn, ident)], now)
    return reply(out, "maintenance window ended")
