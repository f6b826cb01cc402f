"""Database failures the web layer turns into 503s, without importing SQLAlchemy,
and how to name one in a log line."""

from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    InternalError,
    OperationalError,
    SQLAlchemyError,
    TimeoutError,
)

# InternalError covers a server that turned read-only (a PostgreSQL standby after a
# failover, SQLSTATE 25006): a 503 the client retries, not a 500.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, InternalError, DisconnectionError, TimeoutError)
DATABASE_ERROR = SQLAlchemyError


def describe_db_error(exc: BaseException) -> str:
    """One line naming a database failure: no SQL, parameters or traceback."""
    original = getattr(exc, "orig", None) or exc
    first_line = (str(original).strip().splitlines() or [""])[0][:200]
    return f"{type(original).__name__}: {first_line}" if first_line else type(original).__name__
