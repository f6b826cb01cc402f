"""Logging: JSON lines for containers, plain text for a terminal."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# The HTTP server layers' own loggers (gunicorn's, waitress's, Medic's edge).
SERVER_LOGGERS = ("gunicorn", "waitress", "medic.http")


class NoServerTracebacks(logging.Filter):
    """A server layer's line names its exception instead of carrying the traceback:
    what a client sent can make the server fail, and a traceback in front of every
    client's error buries the lines an operator needs (the app's own errors keep theirs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(SERVER_LOGGERS) and (record.exc_info or record.stack_info):
            if record.exc_info and record.exc_info[0] is not None:
                exc = record.exc_info[1]
                record.msg, record.args = f"{record.getMessage()} ({type(exc).__name__}: {exc})"[:500], None
            record.exc_info = record.exc_text = record.stack_info = None
        return True


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(NoServerTracebacks())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Keep library chatter out of the operator's way (Alembic's INFO lines are its
    # plugin setup and each migration step; `medic db upgrade` prints the revision).
    for noisy in ("alembic", "waitress.queue", "urllib3", "httpx", "httpcore", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
