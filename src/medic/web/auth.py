"""API keys on every protected route: the Flask side.

Each ``@operation`` carries the scope it needs (see ``medic.auth.scopes``); who the
caller is comes from ``medic.auth.authenticator`` (key cache, database lookup); this
module reads the headers and answers in HTTP. Two hooks bracket the rate limiter:
``identify`` works out who is calling without failing yet, so the limiter can count a
caller by key (or by address when anonymous or refused, which also slows down key
guessing); ``enforce`` then answers 401 or 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app, g, request

from medic.auth import scopes
from medic.auth.authenticator import Principal, Unauthenticated
from medic.auth.scopes import OPEN
from medic.web.api import Operation
from medic.web.envelope import ApiError

if TYPE_CHECKING:
    from medic.auth.authenticator import Authenticator
    from medic.web.context import Runtime

REALM = 'Bearer realm="medic"'


def unauthorized(message: str, invalid: bool = False) -> ApiError:
    challenge = f'{REALM}, error="invalid_token"' if invalid else REALM
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


def forbidden(op_scope: str, principal: Principal) -> ApiError:
    held = ", ".join(s for s in scopes.SCOPES if s in principal.scopes) or "none"
    return ApiError(
        403,
        f"{request.method} {request.path} needs the '{op_scope}' scope; {principal.describe()} has: {held}",
        headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{op_scope}"'},
    )


def current_operation() -> Operation | None:
    """The operation the request is routed to; None for 404/405 and automatic OPTIONS."""
    if "medic_operation" not in g:
        g.medic_operation = _find_operation()
    return g.medic_operation


def _find_operation() -> Operation | None:
    if request.endpoint is None or request.method == "OPTIONS":
        return None
    view = current_app.view_functions.get(request.endpoint)
    op = getattr(view, "operation", None)
    if op is None and view is not None:
        # A view registered without @operation still needs a key: never open by accident.
        return Operation(rule=request.url_rule.rule, method=request.method, summary="", tag="",
                         scope=scopes.default_for(request.method))
    return op


def presented_key(authorization: str | None, api_key: str | None) -> str | None:
    """The key from `Authorization: Bearer <key>`, else from `X-API-Key`."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return (api_key or "").strip() or None


def principal_for(rt: "Runtime", authenticator: "Authenticator", scope: str, presented: str | None, what: str) -> Principal:
    """Who presents `presented` to an operation needing `scope` (`what`: "METHOD /path"); ApiError(401) if nobody.

    `rt` is not read: the signature is the heartbeat fast path's call."""
    try:
        return authenticator.principal_for(scope, presented, what)
    except Unauthenticated as exc:
        raise unauthorized(exc.message, invalid=exc.invalid) from None


def identify(authenticator: "Authenticator") -> None:
    g.principal = None
    g.auth_failure = None
    op = current_operation()
    if op is None or op.scope == OPEN:
        return
    presented = presented_key(request.headers.get("Authorization"), request.headers.get("X-API-Key"))
    try:
        g.principal = authenticator.principal_for(op.scope, presented, f"{request.method} {request.path}")
    except Unauthenticated as exc:
        g.auth_failure = unauthorized(exc.message, invalid=exc.invalid)


def enforce() -> None:
    failure = g.get("auth_failure")
    if failure is not None:
        raise failure
    principal = g.get("principal")
    op = current_operation()
    if op is None or op.scope == OPEN or principal is None:
        return
    if not scopes.grants(principal.scopes, op.scope):
        raise forbidden(op.scope, principal)


def install_identify(app: Flask, authenticator: "Authenticator") -> None:
    app.before_request(lambda: identify(authenticator))


def install_enforce(app: Flask) -> None:
    app.before_request(enforce)
