"""Service registration, listing and updates."""

from __future__ import annotations

from flask import Blueprint

from medic.core.health import window_fits_retention
from medic.store import services as store
from medic.web.api import operation
from medic.web.context import runtime
from medic.web.envelope import ApiError, reply
from medic.web.schemas import ServiceCreate, ServiceOut, ServiceQuery, ServiceUpdate
from medic.web.serialize import service_out

bp = Blueprint("services", __name__)


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
    _check_window(body.alert_interval, body.grace_period_seconds)
    values = body.model_dump(exclude={"environment"})
    if body.environment:
        values["heartbeat_name"] = f"{body.environment}-{body.heartbeat_name}"
        if len(values["heartbeat_name"]) > 255:
            raise ApiError(400, "heartbeat_name: too long once prefixed with the environment (255 max)")
    with rt.engine.begin() as conn:
        row, created = store.create(conn, values, rt.now())
    if created:
        return reply(service_out(row), "service registered", 201)
    return reply(service_out(row), "heartbeat_name already registered; returning the existing service", 200)


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
    with runtime().engine.connect() as conn:
        rows = store.list_services(
            conn, service_name=query.service_name, active=query.active, limit=query.limit, offset=query.offset
        )
    return reply([service_out(row) for row in rows], f"{len(rows)} services")


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
    with runtime().engine.connect() as conn:
        row = store.get_by_name(conn, heartbeat_name)
    if row is None:
        raise ApiError(404, f"no service is registered as '{heartbeat_name}'")
    return reply([service_out(row)])


@operation(
    bp, "/service/<heartbeat_name>", "POST",
    summary="Update a service (partial)",
    tag="services",
    body=ServiceUpdate,
    result=ServiceOut,
    path_params=("heartbeat_name",),
    errors=(400, 404, 413, 503),
    description="Booleans accept true/false/0/1. Muting records date_muted; the mute lifts "
    "itself after AUTO_UNMUTE_HOURS. Deactivating closes an open alert and resolves its page.",
)
def update_service(heartbeat_name: str, body: ServiceUpdate):
    rt = runtime()
    changes = body.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None and name not in ("runbook", "max_duration_seconds")]
    if nulls:
        raise ApiError(400, f"invalid body: {', '.join(nulls)}: may not be null")
    with rt.engine.begin() as conn:
        row = store.get_by_name(conn, heartbeat_name)
        if row is None:
            raise ApiError(404, f"no service is registered as '{heartbeat_name}'")
        if changes:
            _check_window(
                changes.get("alert_interval", row.alert_interval),
                changes.get("grace_period_seconds", row.grace_period_seconds),
            )
            row = store.update_service(conn, row, changes, rt.now())
    return reply(service_out(row), "service updated" if changes else "nothing to change")
