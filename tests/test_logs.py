"""Log lines: what the JSON formatter writes for access and ordinary lines, and the text format."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from medic.config import ConfigError, load_settings
from medic.logs import RepeatedFailure, configure
from medic.metrics import ProcessMetrics
from medic.web import access
from medic.auth.authenticator import Principal

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def logged():
    """configure() as production does, its handler writing to a buffer; yields (buffer, records)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook

    def start(level: str, fmt: str):
        configure(level, fmt)
        out = io.StringIO()
        root.handlers[0].setStream(out)
        records = _Records()
        root.addHandler(records)
        return out, records.records

    yield start
    root.handlers[:] = handlers
    sys.excepthook, threading.excepthook = hooks
    root.setLevel(level)


def _lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def _time(record: logging.LogRecord) -> str:
    return time.strftime(TIME_FORMAT, time.localtime(record.created))


def _record_access(metrics, status=201, principal=None, request_id="trace-1"):
    access.record(
        metrics,
        log_stored_heartbeats=True,
        method="POST",
        endpoint="heartbeat",
        path="/heartbeat",
        status=status,
        elapsed=0.0123456,
        request_id=request_id,
        remote_addr="10.0.0.7",
        principal=principal,
    )


def test_an_access_line_in_json_has_exactly_these_keys_and_values(logged):
    out, records = logged("INFO", "json")
    metrics = ProcessMetrics(CollectorRegistry())
    principal = Principal(kind="key", scopes=frozenset({"heartbeat"}), public_id="pub123", name="ci")
    _record_access(metrics, principal=principal)
    _record_access(metrics, status=429, request_id="trace-2")  # same shape, other values
    first, second = (json.loads(line) for line in _lines(out))
    assert list(first.items()) == [
        ("time", _time(records[0])),
        ("level", "INFO"),
        ("logger", "medic.access"),
        ("message", "POST /heartbeat 201"),
        ("request_id", "trace-1"),
        ("method", "POST"),
        ("path", "/heartbeat"),
        ("status", 201),
        ("duration_ms", 12.35),
        ("remote_addr", "10.0.0.7"),
        ("api_key", "pub123"),
    ]
    assert second == {
        **first,
        "time": _time(records[1]),
        "message": "POST /heartbeat 429",
        "request_id": "trace-2",
        "status": 429,
        "api_key": None,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", first["time"])


def test_ordinary_lines_with_and_without_extras(logged):
    out, records = logged("DEBUG", "json")
    log = logging.getLogger("medic.worker")
    log.info("alerts opened: %d, closed: %d", 2, 1)
    log.warning("claim lost", extra={"alert_id": 7, "channel": "slack", "_private": "never shown"})
    log.info("worker stopped")  # back to the first shape: nothing left over from the extras
    log.debug("other extras", extra={"channel": "pagerduty"})
    lines = [json.loads(line) for line in _lines(out)]
    head = lambda i: {"time": _time(records[i]), "level": records[i].levelname, "logger": "medic.worker"}  # noqa: E731
    assert lines[0] == {**head(0), "message": "alerts opened: 2, closed: 1"}
    assert list(lines[1].items()) == [*head(1).items(), ("message", "claim lost"), ("alert_id", 7), ("channel", "slack")]
    assert lines[2] == {**head(2), "message": "worker stopped"}
    assert list(lines[3].items()) == [*head(3).items(), ("message", "other extras"), ("channel", "pagerduty")]
    assert [line["level"] for line in lines] == ["INFO", "WARNING", "INFO", "DEBUG"]


def test_an_exception_line_names_it_and_where_it_was_raised_without_the_traceback(logged):
    out, _ = logged("INFO", "json")
    try:
        load_settings({"LOG_LEVEL": "loud"})  # raises inside Medic's own code
    except ConfigError:
        logging.getLogger("medic.worker").exception("worker cycle failed", extra={"cycle": 3})
    (line,) = [json.loads(line) for line in _lines(out)]
    assert list(line)[3:] == ["message", "cycle"] and line["cycle"] == 3
    assert re.fullmatch(r"worker cycle failed \(ConfigError: .*LOG_LEVEL.* at medic/config\.py:\d+\)", line["message"])
    assert "Traceback" not in out.getvalue() and "exc_info" not in line


def test_a_database_error_line_shows_neither_the_statement_nor_its_parameters(logged, tmp_path):
    out, _ = logged("INFO", "text")
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            conn.execute(text("select secret from nowhere where token = :t"), {"t": "tok-s3cr3t"})
    except OperationalError:
        logging.getLogger("medic.web").exception("unhandled error")
    finally:
        engine.dispose()
    (line,) = _lines(out)
    assert re.fullmatch(r".* medic\.web: unhandled error \(OperationalError: no such table: nowhere at [\w/.]+:\d+\)", line)
    assert "tok-s3cr3t" not in line and "token" not in line


def test_a_password_in_a_quoted_url_is_masked(logged):
    out, _ = logged("INFO", "text")
    try:
        raise ValueError("cannot reach postgresql://medic:hunter2@db.internal:5432/medic\nsecond line")
    except ValueError:
        logging.getLogger("medic").error("start failed", exc_info=True)
    (line,) = _lines(out)
    assert "postgresql://medic:***@db.internal:5432/medic" in line
    assert "hunter2" not in line and "second line" not in line


def test_an_uncaught_exception_in_a_thread_is_one_log_line(logged):
    out, _ = logged("INFO", "json")

    def fail():
        raise RuntimeError("thread broke")

    thread = threading.Thread(target=fail, name="sweeper")
    thread.start()
    thread.join()
    (line,) = [json.loads(line) for line in _lines(out)]
    assert line["level"] == "CRITICAL"
    assert line["message"].startswith("uncaught exception in thread sweeper (RuntimeError: thread broke at test_logs.py:")


def test_log_tracebacks_keeps_the_full_traceback(logged):
    root = logging.getLogger()
    configure("INFO", "json", tracebacks=True)
    out = io.StringIO()
    root.handlers[0].setStream(out)
    try:
        raise ValueError("bad row")
    except ValueError:
        logging.getLogger("medic.worker").exception("worker cycle failed")
    (line,) = [json.loads(line) for line in _lines(out)]
    assert line["message"] == "worker cycle failed"
    assert line["exc_info"].startswith("Traceback") and line["exc_info"].endswith("ValueError: bad row")
    assert load_settings({"LOG_TRACEBACKS": "true"}).log_tracebacks is True


def test_the_text_format_still_writes_one_plain_line(logged):
    out, _ = logged("INFO", "text")
    _record_access(ProcessMetrics(CollectorRegistry()))
    logging.getLogger("medic.worker").warning("claim lost", extra={"alert_id": 7})
    assert len(_lines(out)) == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO    medic\.access: POST /heartbeat 201", _lines(out)[0])
    assert _lines(out)[1].endswith(" WARNING medic.worker: claim lost")


def test_above_info_no_access_line_but_the_request_is_still_measured(logged):
    out, records = logged("WARNING", "json")
    registry = CollectorRegistry()
    _record_access(ProcessMetrics(registry))
    assert out.getvalue() == "" and records == []
    labels = {"method": "POST", "endpoint": "heartbeat", "status": "201"}
    assert registry.get_sample_value("medic_http_request_duration_seconds_count", labels) == 1



@pytest.mark.parametrize("logger", ["waitress", "gunicorn.error", "medic.http"])
def test_a_server_layer_line_names_its_exception_without_the_traceback(logged, logger):
    out, _ = logged("INFO", "json")
    try:
        raise ConnectionResetError("peer went away")
    except ConnectionResetError:
        logging.getLogger(logger).exception("Exception while serving %s", "/heartbeat")
    (line,) = [json.loads(line) for line in _lines(out)]
    assert re.fullmatch(r"Exception while serving /heartbeat \(ConnectionResetError: peer went away at test_logs\.py:\d+\)",
                        line["message"])
    assert "exc_info" not in line and "Traceback" not in out.getvalue()


def test_a_repeated_failure_is_logged_when_it_starts_once_a_minute_and_when_it_ends(logged):
    out, _ = logged("INFO", "text")
    now = [100.0]
    failure = RepeatedFailure(logging.getLogger("medic.worker"), "outbox database error", clock=lambda: now[0])
    for _ in range(150):  # a poll each second for 150 s
        failure.failed("OperationalError: connection refused")
        now[0] += 1
    failure.succeeded()
    failure.succeeded()  # nothing more to say
    failure.failed("OperationalError: connection refused")  # a new outage starts its own count
    messages = [line.split("medic.worker: ", 1)[1] for line in _lines(out)]
    assert messages == [
        "outbox database error: OperationalError: connection refused",
        "outbox database error: OperationalError: connection refused (still failing: 61 times in 60 s)",
        "outbox database error: OperationalError: connection refused (still failing: 121 times in 120 s)",
        "outbox database error: recovered after 150 failures in 150 s",
        "outbox database error: OperationalError: connection refused",
    ]


def test_a_repeated_failure_without_a_success_between_starts_over_after_a_quiet_spell(logged):
    out, _ = logged("INFO", "text")
    now = [0.0]
    failure = RepeatedFailure(logging.getLogger("medic"), "database unavailable", every=10, clock=lambda: now[0])
    for t in (0, 1, 2, 9, 10, 11, 25, 26):  # a request refused at each of these seconds
        now[0] = t
        failure.failed("OperationalError: connection refused")
    messages = [line.split("medic: ", 1)[1] for line in _lines(out)]
    assert messages == [
        "database unavailable: OperationalError: connection refused",
        "database unavailable: OperationalError: connection refused (still failing: 5 times in 10 s)",
        "database unavailable: OperationalError: connection refused",  # 14 s without a failure: a new outage
    ]
