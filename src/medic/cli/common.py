"""What every command that opens the database shares: settings, logging, the engine."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

import click

from medic.config import (
    DATABASE_VARIABLES, ConfigError, Settings, config_warnings, database_configured, load_settings, secret_values,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic")


def settings(*, needs_database: str | None = None, **defaults: str) -> Settings:
    """Settings from the environment; ``defaults`` apply only where a variable is unset.

    ``needs_database`` names a command that refuses the implicit SQLite default:
    `medic serve` and `medic worker` each opening their own ./medic.db would
    monitor nothing together.
    """
    try:
        loaded = load_settings(os.environ, defaults=defaults)
    except ConfigError as exc:
        click.echo(f"medic: {exc}", err=True)
        sys.exit(2)
    if needs_database and not database_configured(os.environ):
        click.echo(
            f"medic {needs_database}: no database configured; set {DATABASE_VARIABLES}. "
            "Only `medic run` defaults to a local SQLite file.",
            err=True,
        )
        sys.exit(2)
    from medic.logs import configure

    configure(loaded.log_level, loaded.log_format, tracebacks=loaded.log_tracebacks, secrets=secret_values(loaded))
    for warning in config_warnings(os.environ):
        log.warning("%s", warning)
    return loaded


def engine(loaded: Settings) -> "Engine":
    from medic.store.engine import make_engine

    return make_engine(loaded.database_url, prepared_statements=loaded.database_prepared_statements)


def stop_on_sigterm(stop: threading.Event | None = None) -> None:
    def handler(signum, _frame):
        if stop is not None:
            stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    from medic.store.engine import hosts_as_query

    return make_url(hosts_as_query(url)).render_as_string(hide_password=True)  # libpq's multi-host form too
