"""Logging: JSON lines for containers, plain text for a terminal, one line per record."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import traceback
from typing import Callable, Iterable

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
MAX_EXCEPTION_CHARS = 300

# `scheme://user:password@host`: a database or provider URL quoted in an error message.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def describe_exception(exc: BaseException) -> str:
    """`Type: first line of the message`, without SQL, bound parameters or URL passwords.

    SQLAlchemy's errors append the statement and its parameters (which can hold a
    key's hash or a target's settings); the driver's own error underneath says what
    went wrong."""
    original = getattr(exc, "orig", None) or exc
    first_line = (str(original).strip().splitlines() or [""])[0]
    first_line = _URL_PASSWORD.sub(r"\1***@", first_line)[:MAX_EXCEPTION_CHARS]
    name = type(original).__name__
    return f"{name}: {first_line}" if first_line else name


def raised_at(tb) -> str | None:
    """Where it went wrong, as `medic/module.py:line`: the innermost frame in Medic's own
    code (what the next engineer opens), else the innermost frame of all."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    if not frames:
        return None
    ours = [f for f in frames if f.filename.startswith(_PACKAGE_DIR)]
    frame = (ours or frames)[-1]
    shown = "medic/" + frame.filename[len(_PACKAGE_DIR):] if ours else os.path.basename(frame.filename)
    return f"{shown}:{frame.lineno}"


class OneLineExceptions(logging.Filter):
    """A record that carries an exception names it on its own line instead of carrying
    the traceback: a traceback shows code paths and values to whoever reads the log, a
    client that can make a server layer fail would otherwise write one per request, and a
    multi-line entry breaks a log pipeline's one-event-per-line framing. The line keeps
    what an operator needs: the exception's type and message and where it was raised.
    `LOG_TRACEBACKS=true` keeps full tracebacks, for a developer's terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.stack_info or record.exc_text:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                where = raised_at(record.exc_info[2])
                message = f"{message} ({describe_exception(exc)}{f' at {where}' if where else ''})"
            record.msg, record.args = message, None
            record.exc_info = record.exc_text = record.stack_info = None
        return True


class MaskSecrets(logging.Filter):
    """Every configured secret (config.secret_values) is `***` in a line's message,
    wherever it appears: a driver's message can quote part of a URL it could not parse
    (a password holding an unescaped `@` reads as part of the host name)."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            masked = message
            for secret in self.secrets:
                if secret in masked:
                    masked = masked.replace(secret, "***")
            if masked is not message:
                record.msg, record.args = masked, None
        return True


class RepeatedFailure:
    """A failure met over and over (the database down under a delivery loop that polls
    each second, or under every request) is logged when it starts, once every ``every``
    seconds while it lasts, and, where the caller sees success, when it ends: a
    ten-minute outage is a dozen lines, not thousands. A failure after ``every`` seconds
    without one starts over, so a caller that never sees success still logs the next
    outage's first failure."""

    def __init__(self, logger: logging.Logger, what: str, *, every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.logger, self.what, self.every, self.clock = logger, what, every, clock
        self.since: float | None = None
        self.last_failed = self.last_logged = 0.0
        self.count = 0

    def failed(self, detail: str) -> None:
        now = self.clock()
        if self.since is None or now - self.last_failed > self.every:
            self.since, self.count, self.last_logged = now, 1, now
            self.logger.error("%s: %s", self.what, detail)
        else:
            self.count += 1
            if now - self.last_logged >= self.every:
                self.last_logged = now
                self.logger.error("%s: %s (still failing: %d times in %d s)",
                                  self.what, detail, self.count, round(now - self.since))
        self.last_failed = now

    def succeeded(self) -> None:
        if self.since is not None:
            self.logger.warning("%s: recovered after %d failures in %d s",
                                self.what, self.count, round(self.clock() - self.since))
            self.since, self.count = None, 0


def _log_uncaught(exc_type, exc, tb, *, thread: str | None = None) -> None:
    if issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
        return
    where = f" in thread {thread}" if thread else ""
    logging.getLogger("medic").critical("uncaught exception%s", where, exc_info=(exc_type, exc, tb))


def configure(level: str, fmt: str, *, tracebacks: bool = False, secrets: Iterable[str] = ()) -> None:
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
    if not tracebacks:
        handler.addFilter(OneLineExceptions())
    handler.addFilter(MaskSecrets(secrets))  # after: the exception's text is in the message by then
    if not tracebacks:
        # An exception nothing caught would otherwise print its traceback to stderr
        # around the handler; it becomes a log line like any other.
        sys.excepthook = _log_uncaught
        threading.excepthook = lambda args: _log_uncaught(
            args.exc_type, args.exc_value, args.exc_traceback, thread=getattr(args.thread, "name", None)
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Keep library chatter out of the operator's way (Alembic's INFO lines are its
    # plugin setup and each migration step; `medic db upgrade` prints the revision).
    for noisy in ("alembic", "waitress.queue", "urllib3", "httpx", "httpcore", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
