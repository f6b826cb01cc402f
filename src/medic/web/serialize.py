"""Rows to JSON-ready dicts, through the documented response models."""

from __future__ import annotations

from typing import Any

from medic.core.health import state_of
from medic.web.schemas import AlertOut, HeartbeatOut, ServiceOut


def service_out(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["state"] = state_of(
        active=row.active, muted=row.muted, down=row.down, last_heartbeat_at=row.last_heartbeat_at
    ).value
    return ServiceOut.model_validate(data).model_dump(mode="json")


def heartbeat_out(item: Any) -> dict[str, Any]:
    data = dict(item._mapping) if hasattr(item, "_mapping") else vars(item)
    return HeartbeatOut.model_validate(data).model_dump(mode="json")


def alert_out(row: Any) -> dict[str, Any]:
    return AlertOut.model_validate(dict(row._mapping)).model_dump(mode="json")
