"""Database failures the web layer turns into 503s, without importing SQLAlchemy."""

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, TimeoutError

DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, TimeoutError)
