from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

# Make `tests.fakes` and `medic` importable when only this directory is collected.
_ROOT = Path(__file__).resolve().parents[2]
for _path in (str(_ROOT / "src"), str(_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from medic.config import Settings, load_settings  # noqa: E402
from medic.notify import Notification  # noqa: E402

# Imported rather than listed in `pytest_plugins`, which pytest only accepts in
# the top-level conftest.
from tests.fakes.fixtures import pagerduty, slack, webhook  # noqa: E402,F401

@pytest.fixture
def payload() -> dict:
    return {
        "event": "trigger",
        "alert_id": 42,
        "dedup_key": "medic-alert-42",
        "alert_name": "billing-db-backup",
        "reason": "missed_heartbeats",
        "heartbeat_name": "db-backup",
        "service_name": "billing",
        "team": "payments",
        "priority": "p1",
        "runbook": "https://runbooks.example.com/billing?section=backup&v=2",
        "alert_interval": 5,
        "threshold": 2,
        "grace_period_seconds": 30,
        "opened_at": "2024-05-01T10:00:00+00:00",
        "closed_at": None,
        "last_heartbeat_at": "2024-05-01T09:54:00+00:00",
        "occurred_at": "2024-05-01T10:00:00+00:00",
        "medic_url": "https://medic.example.com/services/7",
    }


@pytest.fixture
def note(payload):
    """note(kind, channel, thread_ref=None, **payload_overrides) -> Notification."""

    def make(kind: str = "trigger", channel: str = "pagerduty", thread_ref: str | None = None, **overrides):
        body = {**payload, "event": kind, **overrides}
        return Notification(id=1001, channel=channel, kind=kind, payload=body, thread_ref=thread_ref)

    return make


@pytest.fixture
def make_settings():
    """make_settings(**field_overrides) -> Settings with nothing else configured."""

    def make(**overrides) -> Settings:
        overrides.setdefault("notify_timeout_seconds", 2.0)
        return load_settings({}, **overrides)

    return make


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
