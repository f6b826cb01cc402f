"""Database failures the web layer turns into 503s, without importing SQLAlchemy,
how to name one in a log line, and which ones are worth trying again."""

from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    InternalError,
    OperationalError,
    SQLAlchemyError,
    TimeoutError,
)

from medic.logs import describe_exception

# InternalError covers a server that turned read-only (a PostgreSQL standby after a
# failover, SQLSTATE 25006): a 503 the client retries, not a 500.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, InternalError, DisconnectionError, TimeoutError)
DATABASE_ERROR = SQLAlchemyError


def describe_db_error(exc: BaseException) -> str:
    """One line naming a database failure: no SQL, parameters, password or traceback."""
    return describe_exception(exc)


# Deadlock detected, serialization failure: the transaction lost a race and can be retried.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def is_transient_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure: nothing was committed, trying again is safe."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _RETRYABLE_SQLSTATES
