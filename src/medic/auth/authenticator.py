"""Who is calling: a presented API key turned into a Principal.

The key cache and the database lookup live here, free of HTTP; the web layer
(``medic.web.auth``) reads the headers and turns ``Unauthenticated`` into a 401.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from medic.auth import keys, scopes
from medic.auth.scopes import HEARTBEAT
from medic.store import api_keys as store

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from medic.clock import Clock
    from medic.config import Settings

log = logging.getLogger("medic.auth")

# last_used_at is bookkeeping, not an audit log: at most one write per key per minute.
LAST_USED_GRANULARITY = timedelta(minutes=1)
CACHE_MAX_ENTRIES = 10_000
REFRESH_BATCH = 500  # keys read in one refresh query
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


class Unauthenticated(Exception):
    """No principal: the message says why. `invalid` when a key was presented and refused."""

    def __init__(self, message: str, invalid: bool = False):
        super().__init__(message)
        self.message = message
        self.invalid = invalid


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
    """Turns a presented key into a Principal, or raises Unauthenticated.

    Keys are read by public id and kept for MEDIC_AUTH_CACHE_SECONDS, so the heartbeat
    path does not pay a database read per request; a revocation therefore takes
    effect within that many seconds (0 disables the cache).
    """

    def __init__(self, settings: "Settings", engine: "Engine", clock: "Clock"):
        self.engine = engine
        self.clock = clock
        self.required = settings.auth != "disabled"
        self.anonymous_heartbeats = settings.anonymous_heartbeats
        self.ttl = timedelta(seconds=settings.auth_cache_seconds)
        admin = settings.admin_api_key
        self._admin_key = admin.get_secret_value() if admin is not None else None
        self._cache: dict[str, _Entry] = {}
        self._touched: dict[int, datetime] = {}  # key id -> when used, since the last refresh
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()

    def principal_for(self, scope: str, presented: str | None, what: str) -> Principal:
        """Who presents `presented` to an operation needing `scope` (`what`: "METHOD /path")."""
        if not self.required:
            return UNCHECKED
        if presented is None:
            if scope == HEARTBEAT and self.anonymous_heartbeats:
                return ANONYMOUS_HEARTBEAT
            raise Unauthenticated(f"{what} needs an API key with the '{scope}' scope: {HOW}")
        return self.authenticate(presented)

    def authenticate(self, presented: str) -> Principal:
        if self._admin_key is not None and keys.same_secret(presented, self._admin_key):
            return ADMIN
        parsed = keys.parse(presented)
        if parsed is None:
            raise Unauthenticated("invalid API key", invalid=True)
        public_id, secret = parsed
        now = self.clock()
        entry = self._lookup(public_id, now)
        if entry is None or not keys.verify(secret, entry.secret_hash):
            raise Unauthenticated("invalid API key", invalid=True)
        # Only a caller holding the secret learns why a real key is refused.
        if entry.revoked_at is not None:
            raise Unauthenticated(f"API key {public_id} has been revoked", invalid=True)
        if entry.expires_at is not None and entry.expires_at <= now:
            raise Unauthenticated(f"API key {public_id} expired at {entry.expires_at.isoformat()}", invalid=True)
        if entry.last_used_at is None or now - entry.last_used_at >= LAST_USED_GRANULARITY:
            self._touch(entry, now)
        return Principal("key", entry.scopes, public_id=public_id, name=entry.name)

    def _lookup(self, public_id: str, now: datetime) -> _Entry | None:
        entry = self._cache.get(public_id)
        if entry is not None and now - entry.fetched_at < self.ttl:
            return entry
        with self._refresh_lock:  # one refresh at a time: the others then find it done
            entry = self._cache.get(public_id)
            if entry is not None and now - entry.fetched_at < self.ttl:
                return entry
            return self._refresh(public_id, now).get(public_id)

    def _refresh(self, public_id: str, now: datetime) -> dict[str, _Entry]:
        """Read ``public_id`` and every cached key past half its time in one query, so
        a fleet's keys cost one read per half MEDIC_AUTH_CACHE_SECONDS, not one each;
        the last uses noted meanwhile are written in the same transaction."""
        ids = {public_id}
        if self.ttl:
            ids.update(pid for pid, e in list(self._cache.items()) if now - e.fetched_at >= self.ttl / 2)
        ids = sorted(ids)[:REFRESH_BATCH]
        with self._lock:
            touched, self._touched = self._touched, {}
        try:
            with self.engine.begin() as conn:
                if touched:
                    store.touch(conn, touched)
                rows = {row.public_id: row for row in store.get_by_public_ids(conn, ids)}
        except Exception:
            with self._lock:
                self._touched = {**touched, **self._touched}  # written with the next refresh
            raise
        fetched = {}
        for pid in ids:
            row = rows.get(pid)
            if row is None:
                self._cache.pop(pid, None)
                continue
            entry = fetched[pid] = _Entry(
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
                    if len(self._cache) >= CACHE_MAX_ENTRIES and pid not in self._cache:
                        self._cache.clear()
                    self._cache[pid] = entry
        return fetched

    def _touch(self, entry: _Entry, now: datetime) -> None:
        """Note the key's use; written with the next refresh (at once without the cache)."""
        entry.last_used_at = now
        if self.ttl:
            with self._lock:
                self._touched[entry.key_id] = now
            return
        try:
            with self.engine.begin() as conn:
                store.touch(conn, {entry.key_id: now})
        except Exception as exc:  # bookkeeping must never fail a request
            log.warning("could not record last use of key %s: %s", entry.public_id, type(exc).__name__)
