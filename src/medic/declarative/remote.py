"""A Medic server over its HTTP API, as the source of the current state and the
sink of a plan's calls. ``call(method, path, body)`` is the CLI's client: it answers
the decoded reply or raises an exception whose ``status`` is the HTTP status."""

from __future__ import annotations

from typing import Any, Callable

from medic.declarative.plan import Change, Plan, State

Call = Callable[..., dict[str, Any]]
PAGE = 10000  # GET /service's largest page


def read_services(call: Call) -> list[dict[str, Any]]:
    services: list[dict[str, Any]] = []
    while True:
        page = call("GET", f"/service?limit={PAGE}&offset={len(services)}")["results"]
        services.extend(page)
        if len(page) < PAGE:
            return services


def read_state(call: Call) -> State:
    services = read_services(call)
    routes = call("GET", "/v2/routes")["results"]
    try:
        maintenance = call("GET", "/v2/maintenance")["results"]
    except Exception as exc:
        if getattr(exc, "status", None) != 404:
            raise
        maintenance = None  # a server from before maintenance windows
    return State(services=services, routes=routes, maintenance=maintenance)


def execute(plan: Plan, call: Call, done: Callable[[Change], None]) -> None:
    """Make the plan's calls in order, ``done`` told of each change made; the first
    refusal stops it (the exception carries the server's message)."""
    for change in plan.pending:
        for step in change.calls:
            call(step.method, step.path, step.body)
        done(change)
