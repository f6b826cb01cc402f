"""Engine construction: SQLite pragmas, PostgreSQL pool, URL normalisation, and
following a PostgreSQL primary that moves (failover, switchover)."""

from __future__ import annotations

import time

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url


# SQLSTATEs after which a pooled connection is of no more use for writes: the server
# turned read-only (a primary demoted to standby by a switchover, or a standby that a
# multi-host URL reached), or the server is shutting down or recovering.
_DEAD_FOR_WRITES = {"25006", "57P01", "57P02", "57P03"}


def normalise_url(url: str) -> str:
    """Send every PostgreSQL URL through psycopg 3, and accept libpq's multi-host form."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
            break
    return hosts_as_query(url) if url.startswith("postgresql+psycopg://") else url


def hosts_as_query(url: str) -> str:
    """postgresql+psycopg://u@h1:p1,h2:p2/db?x=y -> postgresql+psycopg://u@/db?host=h1:p1&host=h2:p2&x=y

    libpq's multi-host authority is not one SQLAlchemy's URL parser reads (it takes
    "p1,h2:p2" for a port); SQLAlchemy passes repeated host= parameters to psycopg,
    which tries them in order (with target_session_attrs, until one is the primary).
    """
    scheme, _, rest = url.partition("://")
    authority, _, tail = rest.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if "," not in hosts:
        return url
    path, _, query = tail.partition("?")
    hosts_list = [host for host in hosts.split(",") if host]
    for host in hosts_list:
        port = host.rpartition(":")[2] if ":" in host and not host.endswith("]") else ""
        if port and not port.isdigit():
            raise ValueError(f"port {port!r} is not a number")
    params = "&".join(f"host={host}" for host in hosts_list)
    return f"{scheme}://{userinfo}{at}/{path}?{params}" + (f"&{query}" if query else "")


def make_engine(url: str, *, pool_size: int = 10, prepared_statements: bool = True) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A primary cut off by a network partition sends nothing back, not even a reset:
    # without these a pooled connection (and the request on it) would wait for the
    # kernel's two-hour keepalive, and Medic would never move to the new primary.
    connect_args: dict = {
        "application_name": "medic",
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 3,
        "keepalives_count": 3,
        "tcp_user_timeout": 10_000,  # ms that sent data may go unacknowledged
    }
    for name in make_url(url).query:  # the URL's own choices win
        connect_args.pop(name, None)
    if not prepared_statements:
        # PgBouncer in transaction mode (before 1.21) hands each transaction to any
        # server connection, where psycopg's prepared statements do not exist.
        connect_args["prepare_threshold"] = None
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    event.listen(engine, "handle_error", _drop_connections_that_cannot_write)
    return engine


def _drop_connections_that_cannot_write(context) -> None:
    """Treat "read-only" and "shutting down" as a disconnect: SQLAlchemy then throws
    away the connection and every other one pooled before it, so the next checkout
    connects again and a multi-host URL with target_session_attrs=read-write finds the
    new primary. pool_pre_ping alone would keep reusing them: a demoted primary still
    answers SELECT 1."""
    sqlstate = getattr(context.original_exception, "sqlstate", None)
    if sqlstate in _DEAD_FOR_WRITES:
        context.is_disconnect = True


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
