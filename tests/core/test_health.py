"""Health and open reasons (docs/alerting.md, "Alert rules"), without a database."""

from __future__ import annotations

from datetime import datetime, timezone

from medic.core.health import open_reason, state_of
from medic.core.model import OpenReason, ServiceState

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_open_reasons():
    assert open_reason(None, None) is OpenReason.NEVER_REPORTED
    assert open_reason(T0, "DOWN") is OpenReason.REPORTED_DOWN
    assert open_reason(T0, "UP") is OpenReason.MISSED_HEARTBEATS


def test_state_precedence():
    assert state_of(active=False, muted=True, down=True, last_heartbeat_at=T0) is ServiceState.INACTIVE
    assert state_of(active=True, muted=True, down=True, last_heartbeat_at=T0) is ServiceState.MUTED
    assert state_of(active=True, muted=False, down=True, last_heartbeat_at=T0) is ServiceState.DOWN
    assert state_of(active=True, muted=False, down=False, last_heartbeat_at=None) is ServiceState.NEW
    assert state_of(active=True, muted=False, down=False, last_heartbeat_at=T0) is ServiceState.UP
