"""Queries on the api_keys table. Secrets never reach this module: only their digests."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import Connection, Row, bindparam, insert, or_, select, update

from medic.store.tables import api_keys


def create(
    conn: Connection,
    *,
    public_id: str,
    name: str,
    secret_hash: str,
    scopes: Iterable[str],
    now: datetime,
    expires_at: datetime | None = None,
) -> Row:
    key_id = conn.execute(
        insert(api_keys)
        .values(
            public_id=public_id,
            name=name,
            secret_hash=secret_hash,
            scopes=" ".join(scopes),
            created_at=now,
            expires_at=expires_at,
        )
        .returning(api_keys.c.key_id)
    ).scalar_one()
    return conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one()


def get_by_public_id(conn: Connection, public_id: str) -> Row | None:
    return conn.execute(select(api_keys).where(api_keys.c.public_id == public_id)).first()


def list_keys(conn: Connection, *, include_revoked: bool = False) -> list[Row]:
    query = select(api_keys).order_by(api_keys.c.key_id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    return list(conn.execute(query))


def find(conn: Connection, ident: str) -> list[Row]:
    """Unrevoked keys whose public id or name is ``ident``."""
    return list(
        conn.execute(
            select(api_keys)
            .where(or_(api_keys.c.public_id == ident, api_keys.c.name == ident), api_keys.c.revoked_at.is_(None))
            .order_by(api_keys.c.key_id)
        )
    )


def revoke(conn: Connection, key_id: int, now: datetime) -> None:
    conn.execute(
        update(api_keys).where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=now)
    )


def get_by_public_ids(conn: Connection, public_ids: list[str]) -> list[Row]:
    return list(conn.execute(select(api_keys).where(api_keys.c.public_id.in_(public_ids))))


def touch(conn: Connection, used: dict[int, datetime]) -> None:
    """Record when each key (by key_id) was last used, in one statement."""
    conn.execute(
        update(api_keys).where(api_keys.c.key_id == bindparam("kid")).values(last_used_at=bindparam("at")),
        [{"kid": key_id, "at": at} for key_id, at in sorted(used.items())],
    )
