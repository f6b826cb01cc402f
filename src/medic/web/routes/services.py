"""Service registration, listing and updates."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from flask import Blueprint

from medic.core import schedule, transitions
from medic.core.dependencies import DependencyError
from medic.core.health import window_fits_retention
from medic.core.maintenance import window_over
from medic.store import dependencies as dependency_store
from medic.store import maintenance as maintenance_store
from medic.store import schedules as slot_store
from medic.store import services as store
from medic.store import windows as window_store
from medic.web.api import operation
from medic.web.context import runtime
from medic.web.envelope import ApiError, reply
from medic.web.schemas import (
    ScheduleIn, SchedulePreviewIn, SchedulePreviewOut, ServiceCreate, ServiceOut, ServiceQuery, ServiceUpdate,
    SlotOut, SlotsQuery, parse_label_filter,
)
from medic.web.serialize import service_out, slot_times

bp = Blueprint("services", __name__)


_NO_END = datetime(9999, 1, 1, tzinfo=schedule.UTC)
_INTERVAL_COLUMNS = {"cron": None, "timezone": None, "start_margin_seconds": None, "min_runtime_seconds": None}


def _parse_cron(expression: Any, zone: Any, where: str = "schedule.") -> schedule.Cron:
    try:
        return schedule.parse(expression, zone)
    except schedule.ScheduleError as exc:
        raise ApiError(400, f"invalid body: {where}{exc}", [{"field": f"{where}{exc.field}", "problem": str(exc)}]) from None


def _schedule_columns(given: ScheduleIn, current: Mapping[str, Any] | None) -> dict[str, Any]:
    """The services columns a schedule sets; ``current`` is the stored row on an update
    (what the schedule leaves out is kept: a new zone keeps the expression)."""
    fields = given.model_fields_set
    columns: dict[str, Any] = {}
    if "grace" in fields and given.grace is not None:
        columns["grace_period_seconds"] = given.grace
    if "max_runtime" in fields:
        columns["max_duration_seconds"] = given.max_runtime
    is_cron = given.kind == "cron" or (given.kind is None and (
        given.cron is not None or given.timezone is not None or bool(current and current.get("cron"))
    ))
    if not is_cron:
        if fields & {"start_margin", "min_runtime"}:
            raise ApiError(400, "invalid body: schedule: start_margin and min_runtime need a cron schedule")
        return {**columns, **_INTERVAL_COLUMNS}
    expression = given.cron if given.cron is not None else (current or {}).get("cron")
    if expression is None:
        raise ApiError(400, "invalid body: schedule.cron: a cron schedule needs an expression, for example \"0 3 * * *\"",
                       [{"field": "schedule.cron", "problem": "required for a cron schedule"}])
    zone = given.timezone if given.timezone is not None else (
        (current or {}).get("timezone") if current and current.get("cron") else None
    )
    cron = _parse_cron(expression, zone)
    columns.update(cron=cron.expression, timezone=cron.timezone)
    if "start_margin" in fields:
        columns["start_margin_seconds"] = given.start_margin
    if "min_runtime" in fields:
        columns["min_runtime_seconds"] = given.min_runtime
    return columns


def _depends_on(store_it, *args) -> None:
    """Check or store a service's dependencies; a 400 naming the problem (the caller's
    transaction then rolls back, so nothing changes)."""
    try:
        store_it(*args)
    except DependencyError as exc:
        raise ApiError(400, f"invalid body: depends_on: {exc}", [{"field": "depends_on", "problem": str(exc)}]) from None


def _out(conn, row, now: datetime, ratios=None) -> dict[str, Any]:
    return service_out(row, now, ratios, depends_on=dependency_store.depends_on_names(conn, [row.service_id])[row.service_id])


def _check_window(alert_interval: int, grace_period_seconds: int) -> None:
    retention = runtime().settings.heartbeat_retention_days
    if not window_fits_retention(alert_interval, grace_period_seconds, retention):
        raise ApiError(
            400,
            f"alert_interval: the window (alert_interval plus grace_period_seconds) is longer than the "
            f"{retention}-day heartbeat retention; raise HEARTBEAT_RETENTION_DAYS to allow it",
        )


@operation(
    bp, "/service", "POST",
    summary="Register a service's heartbeat",
    tag="services",
    body=ServiceCreate,
    result=ServiceOut,
    statuses=(200, 201),
    errors=(400, 413, 503),
    description="201 when created; 200 with the existing record when the heartbeat_name "
    "(case-insensitive, after the optional environment prefix) is already registered.",
)
def create_service(body: ServiceCreate):
    rt = runtime()
    values = body.model_dump(exclude={"environment", "schedule", "depends_on"})
    if body.schedule is not None:
        values.update(_schedule_columns(body.schedule, None))
    if values.get("cron"):
        if values["alert_interval"] is None:
            # Clients that read alert_interval see the gap between the next two slots.
            values["alert_interval"] = schedule.typical_gap_minutes(slot_store.cron_of(values), rt.now())
    else:
        if values["alert_interval"] is None:
            raise ApiError(400, "invalid body: alert_interval: Field required (or give a cron schedule)",
                           [{"field": "alert_interval", "problem": "Field required"}])
        _check_window(values["alert_interval"], values["grace_period_seconds"])
    if body.environment:
        values["heartbeat_name"] = f"{body.environment}-{body.heartbeat_name}"
        if len(values["heartbeat_name"]) > 255:
            raise ApiError(400, "heartbeat_name: too long once prefixed with the environment (255 max)")
    with rt.engine.begin() as conn:
        if body.depends_on:  # checked first: a refused list must not leave the service registered
            _depends_on(dependency_store.parents_named, conn, body.depends_on)
        row, created = store.create(conn, values, rt.now())
        if created and body.depends_on:
            _depends_on(dependency_store.set_depends_on, conn, row.service_id, row.heartbeat_name, body.depends_on)
        out = _out(conn, row, rt.now())
    if created:
        return reply(out, "service registered", 201)
    return reply(out, "heartbeat_name already registered; returning the existing service", 200)


@operation(
    bp, "/service", "GET",
    summary="List services",
    tag="services",
    query=ServiceQuery,
    result=ServiceOut,
    result_is_list=True,
    errors=(400, 503),
)
def list_services(query: ServiceQuery):
    rt = runtime()
    with rt.reads.connect() as conn:
        rows = store.list_services(
            conn, service_name=query.service_name, active=query.active, limit=query.limit, offset=query.offset,
            labels=parse_label_filter(query.label) if query.label else None,
        )
        depends_on = dependency_store.depends_on_names(conn, [row.service_id for row in rows])
    now = rt.now()
    return reply([service_out(row, now, depends_on=depends_on[row.service_id]) for row in rows], f"{len(rows)} services")


@operation(
    bp, "/service/<heartbeat_name>", "GET",
    summary="One service, with its state and last heartbeat",
    tag="services",
    result=ServiceOut,
    result_is_list=True,
    path_params=("heartbeat_name",),
    errors=(404, 503),
    description="`results` is a one-element list, as the original Medic answered (its CLI reads "
    "`results[0]`); an unknown name is a 404.",
)
def get_service(heartbeat_name: str):
    rt = runtime()
    now = rt.now()
    with rt.reads.connect() as conn:
        row = store.get_by_name(conn, heartbeat_name)
        if row is None:
            raise ApiError(404, f"no service is registered as '{heartbeat_name}'")
        if row.cron:
            ratios = {f"on_time_ratio_{days}d": slot_store.on_time_ratio(conn, row.service_id, now, days)
                      for days in window_store.RATIO_DAYS}
        else:  # interval windows, derived from the heartbeats (docs/schedules.md)
            ratios = window_store.on_time_ratios(conn, row._mapping, now, rt.settings.heartbeat_retention_days)
        out = _out(conn, row, now, ratios)
    return reply([out])


def _resolve_mute(changes: dict[str, Any], now: datetime) -> None:
    """muted_until or mute_for in ``changes`` as a resolved muted_until, with muted set."""
    given = [name for name in ("muted_until", "mute_for") if name in changes]
    if not given:
        return
    if len(given) == 2:
        raise ApiError(400, "invalid body: muted_until, mute_for: give one or the other, not both")
    if changes.get("muted") is False:
        raise ApiError(400, f"invalid body: {given[0]}: only with a mute, not with muted false")
    mute_for = changes.pop("mute_for", None)
    until = transitions.mute_end(now, 0, muted_until=changes.get("muted_until"),
                                 mute_for=transitions.parse_mute_for(mute_for) if mute_for else None)
    if until <= now:
        raise ApiError(400, "invalid body: muted_until: must be in the future")
    changes.update(muted=True, muted_until=until)


@operation(
    bp, "/service/<heartbeat_name>", "POST",
    summary="Update a service (partial)",
    tag="services",
    body=ServiceUpdate,
    result=ServiceOut,
    path_params=("heartbeat_name",),
    errors=(400, 404, 413, 503),
    description="Booleans accept true/false/0/1. Muting records date_muted; the mute lifts "
    "itself at `muted_until` (ISO 8601, in the future) or after `mute_for` (\"30m\", \"2h\", \"1d\"), "
    "either of which implies muted, else after AUTO_UNMUTE_HOURS; the reply shows `muted_until`. "
    "Deactivating closes an open alert and resolves its page.",
)
def update_service(heartbeat_name: str, body: ServiceUpdate):
    rt = runtime()
    changes = body.model_dump(exclude_unset=True, exclude={"schedule", "depends_on"})
    if "labels" in changes:
        changes["labels"] = changes["labels"] or None
    nulls = [name for name, value in changes.items() if value is None and name not in ("runbook", "max_duration_seconds", "labels")]
    if nulls:
        raise ApiError(400, f"invalid body: {', '.join(nulls)}: may not be null")
    _resolve_mute(changes, rt.now())
    with rt.engine.begin() as conn:
        row = store.get_by_name(conn, heartbeat_name)
        if row is None:
            raise ApiError(404, f"no service is registered as '{heartbeat_name}'")
        if "schedule" in body.model_fields_set:
            # null, like {"kind": "interval"}, is back to the interval schedule.
            changes.update(_schedule_columns(body.schedule or ScheduleIn(kind="interval"), row._mapping))
        if changes:
            if not changes.get("cron", row.cron):
                _check_window(
                    changes.get("alert_interval", row.alert_interval),
                    changes.get("grace_period_seconds", row.grace_period_seconds),
                )
            row = store.update_service(conn, row, changes, rt.now(), auto_unmute_hours=rt.settings.auto_unmute_hours)
        if "depends_on" in body.model_fields_set:
            _depends_on(dependency_store.set_depends_on, conn, row.service_id, row.heartbeat_name, body.depends_on or [])
        out = _out(conn, row, rt.now())
    changed = changes or "depends_on" in body.model_fields_set
    return reply(out, "service updated" if changed else "nothing to change")


@operation(
    bp, "/v2/schedules/preview", "POST",
    summary="The next slots of a cron expression in a time zone",
    tag="services",
    body=SchedulePreviewIn,
    result=SchedulePreviewOut,
    errors=(400, 413),
    scope="read",
    description="Check an expression before saving it: `results.slots` lists the next `count` "
    "slots after `from` (default now), each in UTC and in the zone's local time. Stores nothing.",
)
def preview_schedule(body: SchedulePreviewIn):
    cron = _parse_cron(body.cron, body.timezone, where="")
    start = body.from_ or runtime().now()
    if start.tzinfo is None:
        start = start.replace(tzinfo=schedule.UTC)
    slots = schedule.slots_after(cron, start, body.count)
    return reply(
        {"cron": cron.expression, "timezone": cron.timezone, "description": schedule.describe(cron),
         "slots": slot_times(cron, slots)},
        f"next {len(slots)} slots",
    )


@operation(
    bp, "/v2/services/<heartbeat_name>/slots", "GET",
    summary="A service's slots and their outcomes",
    tag="services",
    query=SlotsQuery,
    result=SlotOut,
    result_is_list=True,
    path_params=("heartbeat_name",),
    errors=(400, 404, 503),
    description="One row per slot with an outcome in [from, to) (default: from 7 days ago, no end), oldest first: "
    "on_time, late (met within grace), missed, failed, too_long, too_fast or unknown. An interval service's "
    "rows are its ended windows of alert_interval minutes (slot_at the window's start, local and signal_at null), "
    "derived from its heartbeats.",
)
def list_slots(heartbeat_name: str, query: SlotsQuery):
    rt = runtime()
    now = rt.now()
    start = query.from_ or (query.to or now) - timedelta(days=7)
    end = query.to or _NO_END  # a slot met early is listed before its time
    start, end = (value if value.tzinfo else value.replace(tzinfo=schedule.UTC) for value in (start, end))
    if start >= end:
        raise ApiError(400, "invalid query: from: must be before to")
    with rt.reads.connect() as conn:
        row = store.get_by_name(conn, heartbeat_name)
        if row is None:
            raise ApiError(404, f"no service is registered as '{heartbeat_name}'")
        cron = slot_store.cron_of(row._mapping)
        if cron is None:  # interval windows, derived from the heartbeats
            judged = window_store.interval_windows(conn, row._mapping, start, end, now=now, limit=query.limit,
                                                   retention_days=rt.settings.heartbeat_retention_days)
            held = maintenance_store.windows_since(conn, judged[0].start) if judged else []
            out = [SlotOut(slot_at=w.start, local=None, outcome=w.outcome.value, signal_at=None,
                           maintenance_id=window_over(held, row.service_id, row.team, row.labels, w.start, w.end))
                   .model_dump(mode="json") for w in judged]
            return reply(out, f"{len(out)} windows")
        rows = slot_store.list_slots(conn, row.service_id, start, end, query.limit)
    out = [
        SlotOut(slot_at=r.slot_at, local=r.slot_at.astimezone(cron.zone) if cron else None, outcome=r.outcome,
                signal_at=r.signal_at, maintenance_id=r.maintenance_id).model_dump(mode="json")
        for r in rows
    ]
    return reply(out, f"{len(out)} slots")
