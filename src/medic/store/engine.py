"""Engine construction: SQLite pragmas, PostgreSQL pool, URL normalisation."""

from __future__ import annotations

import time

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    """Send every PostgreSQL URL through psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5, "application_name": "medic"},
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; FULL sync so that a 201 survives a
    # power cut, not only a crash (group commits keep the fsync cost shared).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def ping(engine: Engine, timeout_seconds: float = 2.0) -> float:
    """Round-trip the database; returns latency in seconds or raises."""
    started = time.perf_counter()
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_seconds * 1000)}"))
        conn.execute(text("SELECT 1"))
    return time.perf_counter() - started
