"""API keys on every protected route.

Each ``@operation`` carries the scope it needs (see ``medic.auth.scopes``). Two hooks
bracket the rate limiter: ``identify`` works out who is calling without failing yet,
so the limiter can count a caller by key (or by address when anonymous or refused,
which also slows down key guessing); ``enforce`` then answers 401 or 403.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import Flask, current_app, g, request

from medic.auth import keys, scopes
from medic.auth.scopes import HEARTBEAT, OPEN
from medic.store import api_keys as store
from medic.web.api import Operation
from medic.web.envelope import ApiError

if TYPE_CHECKING:
    from medic.web.context import Runtime

log = logging.getLogger("medic.auth")

# last_used_at is bookkeeping, not an audit log: at most one write per key per minute.
LAST_USED_GRANULARITY = timedelta(minutes=1)
CACHE_MAX_ENTRIES = 10_000
REALM = 'Bearer realm="medic"'
HOW = "send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


@dataclass(frozen=True)
class Principal:
    kind: str  # "key", "admin" (MEDIC_ADMIN_API_KEY), "anonymous"
    scopes: frozenset[str]
    public_id: str | None = None
    name: str | None = None

    @property
    def rate_key(self) -> str | None:
        """What the rate limiter counts against; None means the client address."""
        if self.kind == "key":
            return f"key:{self.public_id}"
        return "admin" if self.kind == "admin" else None

    def describe(self) -> str:
        return f"key {self.public_id} ({self.name})" if self.kind == "key" else self.kind


ADMIN = Principal("admin", scopes.effective([scopes.ADMIN]), name="MEDIC_ADMIN_API_KEY")
UNCHECKED = Principal("anonymous", scopes.effective(scopes.SCOPES))  # MEDIC_AUTH=disabled
ANONYMOUS_HEARTBEAT = Principal("anonymous", scopes.effective([HEARTBEAT]))


@dataclass
class _Entry:
    key_id: int
    public_id: str
    name: str
    secret_hash: str
    scopes: frozenset[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    fetched_at: datetime


class Authenticator:
    """Turns a presented key into a Principal, or raises a 401 ApiError.

    Keys are read by public id and kept for MEDIC_AUTH_CACHE_SECONDS, so the heartbeat
    path does not pay a database read per request; a revocation therefore takes
    effect within that many seconds (0 disables the cache).
    """

    def __init__(self, rt: "Runtime"):
        self.rt = rt
        self.ttl = timedelta(seconds=rt.settings.auth_cache_seconds)
        admin = rt.settings.admin_api_key
        self._admin_key = admin.get_secret_value() if admin is not None else None
        self._cache: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def authenticate(self, presented: str) -> Principal:
        if self._admin_key is not None and keys.same_secret(presented, self._admin_key):
            return ADMIN
        parsed = keys.parse(presented)
        if parsed is None:
            raise unauthorized("invalid API key", invalid=True)
        public_id, secret = parsed
        now = self.rt.now()
        entry, fresh = self._lookup(public_id, now)
        if entry is None or not keys.verify(secret, entry.secret_hash):
            raise unauthorized("invalid API key", invalid=True)
        # Only a caller holding the secret learns why a real key is refused.
        if entry.revoked_at is not None:
            raise unauthorized(f"API key {public_id} has been revoked", invalid=True)
        if entry.expires_at is not None and entry.expires_at <= now:
            raise unauthorized(f"API key {public_id} expired at {entry.expires_at.isoformat()}", invalid=True)
        if fresh and (entry.last_used_at is None or now - entry.last_used_at >= LAST_USED_GRANULARITY):
            self._touch(entry, now)
        return Principal("key", entry.scopes, public_id=public_id, name=entry.name)

    def _lookup(self, public_id: str, now: datetime) -> tuple[_Entry | None, bool]:
        entry = self._cache.get(public_id)
        if entry is not None and now - entry.fetched_at < self.ttl:
            return entry, False
        with self.rt.engine.connect() as conn:
            row = store.get_by_public_id(conn, public_id)
        if row is None:
            self._cache.pop(public_id, None)
            return None, True
        entry = _Entry(
            key_id=row.key_id,
            public_id=row.public_id,
            name=row.name,
            secret_hash=row.secret_hash,
            scopes=scopes.effective(row.scopes.split()),
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
            fetched_at=now,
        )
        if self.ttl:
            with self._lock:
                if len(self._cache) >= CACHE_MAX_ENTRIES:
                    self._cache.clear()
                self._cache[public_id] = entry
        return entry, True

    def _touch(self, entry: _Entry, now: datetime) -> None:
        try:
            with self.rt.engine.begin() as conn:
                store.touch(conn, entry.key_id, now)
            entry.last_used_at = now
        except Exception as exc:  # bookkeeping must never fail a request
            log.warning("could not record last use of key %s: %s", entry.public_id, type(exc).__name__)


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


def principal_for(rt: "Runtime", authenticator: Authenticator, scope: str, presented: str | None, what: str) -> Principal:
    """Who presents `presented` to an operation needing `scope` (`what`: "METHOD /path"); ApiError(401) if nobody."""
    if rt.settings.auth == "disabled":
        return UNCHECKED
    if presented is None:
        if scope == HEARTBEAT and rt.settings.anonymous_heartbeats:
            return ANONYMOUS_HEARTBEAT
        raise unauthorized(f"{what} needs an API key with the '{scope}' scope: {HOW}")
    return authenticator.authenticate(presented)


def identify(rt: "Runtime", authenticator: Authenticator) -> None:
    g.principal = None
    g.auth_failure = None
    op = current_operation()
    if op is None or op.scope == OPEN:
        return
    presented = presented_key(request.headers.get("Authorization"), request.headers.get("X-API-Key"))
    try:
        g.principal = principal_for(rt, authenticator, op.scope, presented, f"{request.method} {request.path}")
    except ApiError as exc:
        g.auth_failure = exc


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


def install_identify(app: Flask, rt: "Runtime") -> None:
    app.before_request(lambda: identify(rt, rt.authenticator))


def install_enforce(app: Flask) -> None:
    app.before_request(enforce)
