"""Key management used by `medic key ...` (and by tests): create, list, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from medic.auth import keys, scopes
from medic.store import api_keys as store

if TYPE_CHECKING:
    from sqlalchemy import Engine, Row


class KeyManagementError(Exception):
    """A management request that cannot be done; the message says why."""


@dataclass(frozen=True)
class Created:
    key: str  # the only time the full key exists outside the caller's hands
    row: "Row"

    def __repr__(self) -> str:
        return f"Created(public_id={self.row.public_id!r})"


def create_key(
    engine: "Engine", name: str, scope_names: str | Iterable[str], now: datetime, expires_at: datetime | None = None
) -> Created:
    name = name.strip()
    if not name or len(name) > 255:
        raise KeyManagementError("name must be 1 to 255 characters")
    try:
        granted = scopes.parse(scope_names)
    except ValueError as exc:
        raise KeyManagementError(str(exc)) from None
    if expires_at is not None and expires_at <= now:
        raise KeyManagementError("the expiry must be in the future")
    new = keys.generate()
    with engine.begin() as conn:
        row = store.create(
            conn,
            public_id=new.public_id,
            name=name,
            secret_hash=new.secret_hash,
            scopes=granted,
            now=now,
            expires_at=expires_at,
        )
    return Created(key=new.key, row=row)


def list_keys(engine: "Engine", include_revoked: bool = False) -> list["Row"]:
    with engine.connect() as conn:
        return store.list_keys(conn, include_revoked=include_revoked)


def revoke_key(engine: "Engine", ident: str, now: datetime) -> "Row":
    """Revoke by public id (or ``medic_<id>`` prefix, or a whole key), or by name when only one key has it."""
    ident = ident.strip()
    parsed = keys.parse(ident)
    if parsed:
        ident = parsed[0]
    elif ident.startswith(keys.PREFIX):
        ident = ident[len(keys.PREFIX):].split("_", 1)[0]
    with engine.begin() as conn:
        found = store.find(conn, ident)
        if not found:
            raise KeyManagementError(f"no active key with id or name {ident!r}")
        if len(found) > 1:
            ids = ", ".join(row.public_id for row in found)
            raise KeyManagementError(f"{len(found)} active keys are named {ident!r} ({ids}); revoke one by its id")
        store.revoke(conn, found[0].key_id, now)
        return store.get_by_public_id(conn, found[0].public_id)


def status(row: "Row", now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"
