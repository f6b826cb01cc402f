"""Test databases: a fresh SQLite file per test; one migrated PostgreSQL database
per session, emptied between tests."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from medic.store.engine import make_engine
from medic.store.migrate import upgrade
from medic.store.tables import metadata

POSTGRES_URL = os.environ.get("MEDIC_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])

_postgres_engine = None


def sqlite_engine(directory: Path):
    engine = make_engine(f"sqlite:///{directory / 'medic.db'}")
    upgrade(engine)
    return engine


def postgres_engine():
    """The session's PostgreSQL engine, migrated once, emptied for each test."""
    global _postgres_engine
    if _postgres_engine is None:
        _postgres_engine = make_engine(POSTGRES_URL)
        with _postgres_engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade(_postgres_engine)
    truncate(_postgres_engine)
    return _postgres_engine


def truncate(engine) -> None:
    names = ", ".join(table.name for table in reversed(metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@contextmanager
def database_unreachable(engine):
    """Every statement on ``engine`` fails as on a lost server, until the block ends
    (the same database, its connections refused for a while)."""

    def refuse(conn, cursor, statement, parameters, context, executemany):
        raise OperationalError(statement, parameters, ConnectionError("connection refused"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)
