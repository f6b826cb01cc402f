"""Routes: which targets a service's alerts go to (docs/routing.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from medic.core.routing import matching_routes
from medic.notify import channel_status
from medic.secretbox import SecretBox
from medic.store import jobs as services
from medic.store import routes as store
from medic.web.api import operation
from medic.web.context import runtime
from medic.web.envelope import ApiError, reply
from medic.web.route_schemas import RouteCreate, RouteUpdate

bp = Blueprint("routing", __name__)

SECRETS_HELP = (
    "a secret given as a value is stored encrypted with MEDIC_SECRET_KEY, which is not set on this server; "
    'set it, or name an environment variable of the worker instead: {"env": "NAME"}'
)


def _box() -> SecretBox:
    key = runtime().settings.secret_key
    return SecretBox(key.get_secret_value() if key and key.get_secret_value().strip() else None)


def _check_secrets(spec: dict[str, Any], box: SecretBox) -> None:
    if box.available:
        return
    for field in ("targets", "escalate_to"):
        for position, target in enumerate(spec.get(field) or ()):
            for name in store.SECRET_FIELDS[target["type"]]:
                if isinstance(target.get(name), str):
                    raise ApiError(400, f"{field}.{position}.{name}: {SECRETS_HELP}")


def _route_id(route_id: str) -> int:
    if not (route_id.isascii() and route_id.isdigit() and len(route_id) <= 18):
        raise ApiError(404, f"no route has id '{route_id}'")
    return int(route_id)


@operation(
    bp, "/v2/routes", "POST",
    summary="Create a route",
    tag="routes",
    body=RouteCreate,
    statuses=(201,),
    errors=(400, 409, 413, 415, 503),
    scope="admin",
    description="A route matches services by team, priority and labels and sends their alerts to its "
    "targets; the most specific matching routes win (docs/routing.md). Secrets are never returned.",
)
def create_route(body: RouteCreate):
    return reply(add_route(body), "route created", 201)


def add_route(body: RouteCreate) -> dict[str, Any]:
    """Store a new route and answer it as the API shows it (the API's and the
    dashboard's way in); refusals are ApiErrors."""
    rt = runtime()
    spec = body.model_dump(exclude_none=True)
    box = _box()
    _check_secrets(spec, box)
    try:
        with rt.engine.begin() as conn:
            route_id = store.create(conn, spec, box, rt.now())
            return store.get(conn, route_id)
    except store.DuplicateName:
        raise ApiError(409, f"name: a route named '{body.name}' already exists") from None


@operation(bp, "/v2/routes", "GET", summary="List routes", tag="routes", errors=(503,))
def list_routes():
    with runtime().engine.connect() as conn:
        found = store.list_routes(conn)
    return reply(found, f"{len(found)} routes")


@operation(
    bp, "/v2/routes/<route_id>", "GET",
    summary="One route", tag="routes", path_params=("route_id",), errors=(404, 503),
)
def get_route(route_id: str):
    with runtime().engine.connect() as conn:
        route = store.get(conn, _route_id(route_id))
    if route is None:
        raise ApiError(404, f"no route has id '{route_id}'")
    return reply(route, "route")


@operation(
    bp, "/v2/routes/<route_id>", "PATCH",
    summary="Change a route",
    tag="routes",
    body=RouteUpdate,
    path_params=("route_id",),
    errors=(400, 404, 409, 413, 415, 503),
    scope="admin",
    description="Fields given replace the route's (`match`, `targets` and `escalate_to` as a whole). "
    "Alerts already open resolve on the targets their trigger went to.",
)
def update_route(route_id: str, body: RouteUpdate):
    rt = runtime()
    ident = _route_id(route_id)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if not changes:
        raise ApiError(400, "request body changes nothing: give name, match, targets, escalate_after_minutes or escalate_to")
    spec = body.model_dump(include=set(changes), exclude_none=False)
    if "match" in spec and spec["match"] is not None:
        spec["match"] = {k: v for k, v in spec["match"].items() if v is not None}
    for field in ("targets", "escalate_to"):
        if spec.get(field):
            spec[field] = [{k: v for k, v in t.items() if v is not None} for t in spec[field]]
    box = _box()
    _check_secrets(spec, box)
    try:
        with rt.engine.begin() as conn:
            current = store.get(conn, ident)
            if current is None:
                raise ApiError(404, f"no route has id '{route_id}'")
            minutes = spec.get("escalate_after_minutes", current["escalate_after_minutes"])
            escalation = spec.get("escalate_to", current["escalate_to"]) or None
            if (minutes is None) != (escalation is None):
                raise ApiError(400, "escalate_after_minutes: escalate_after_minutes and escalate_to go together: give both or neither")
            store.update_route(conn, ident, spec, box, rt.now())
            route = store.get(conn, ident)
    except store.DuplicateName:
        raise ApiError(409, f"name: a route named '{body.name}' already exists") from None
    return reply(route, "route updated")


@operation(
    bp, "/v2/routes/<route_id>", "DELETE",
    summary="Delete a route",
    tag="routes",
    path_params=("route_id",),
    errors=(404, 503),
    scope="admin",
    description="New alerts stop matching it at once; alerts already open still resolve on its targets.",
)
def delete_route(route_id: str):
    remove_route(route_id)
    return reply({"id": int(route_id)}, "route deleted")


def remove_route(route_id: str) -> None:
    rt = runtime()
    with rt.engine.begin() as conn:
        done = store.delete(conn, _route_id(route_id), rt.now())
    if not done:
        raise ApiError(404, f"no route has id '{route_id}'")


@operation(
    bp, "/v2/services/<service>/routes", "GET",
    summary="Who gets paged for this service",
    tag="routes",
    path_params=("service",),
    errors=(404, 503),
    description="The targets a trigger for this service would go to now, and why: which routes "
    "matched (most specific wins), or the default route (the channels configured by environment).",
)
def service_routes(service: str):
    rt = runtime()
    with rt.engine.connect() as conn:
        row = services.resolve(conn, service)
        if row is None:
            raise ApiError(404, f"no service is registered as '{service}' (heartbeat_name or service_id)")
        results = who_gets_paged(conn, row, rt.settings)
    if results["default_route"]:
        return reply(results, f"no route matches; {len(results['targets'])} default channel(s)")
    return reply(results, f"{len(results['routes'])} route(s) match; {len(results['targets'])} target(s)")


def who_gets_paged(conn, row, settings) -> dict[str, Any]:
    """The targets a trigger for the service ``row`` would go to now, and why
    (also shown on the dashboard's service page)."""
    fired = matching_routes(store.live_routes(conn), row.team, row.priority, row.labels)
    service_info = {"heartbeat_name": row.heartbeat_name, "team": row.team, "priority": row.priority,
                    "labels": row.labels or {}}
    if not fired:
        channels = [name for name, configured in channel_status(settings).items() if configured]
        return {
            "service": service_info,
            "default_route": True,
            "routes": [],
            "targets": [{"type": name, "route": "default", "why": "no route matches this service; "
                         "the channels configured by environment variables"} for name in channels],
        }
    described = {r["id"]: r for r in store.list_routes(conn)}
    targets, seen = [], set()
    for route in fired:
        why = f"route '{route.name}' matches ({route.match.describe()})"
        for target in described[route.route_id]["targets"]:
            if target["id"] in seen:
                continue
            seen.add(target["id"])
            targets.append({**target, "route_id": route.route_id, "route": route.name, "why": why})
    return {
        "service": service_info,
        "default_route": False,
        "routes": [
            {"id": r.route_id, "name": r.name, "specificity": r.match.specificity, "why": r.match.describe(),
             "escalate_after_minutes": r.escalate_after_minutes,
             "escalate_to": described[r.route_id]["escalate_to"]}
            for r in fired
        ],
        "targets": targets,
    }
