"""Rows to JSON-ready dicts, through the documented response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from medic.core import schedule
from medic.core.health import state_of
from medic.store.schedules import cron_of
from medic.web.schemas import AlertOut, HeartbeatOut, ServiceOut

NEXT_SLOTS_SHOWN = 3


def utc_iso(when: datetime) -> str:
    """UTC as every reply writes it (pydantic's form): 2026-01-06T02:00:00Z."""
    return when.astimezone(schedule.UTC).isoformat().replace("+00:00", "Z")


def slot_times(cron: schedule.Cron, slots: list[datetime]) -> list[dict[str, str]]:
    return [{"utc": utc_iso(slot), "local": slot.astimezone(cron.zone).isoformat()} for slot in slots]


def schedule_out(service: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The schedule as replies show it (docs/schedules.md)."""
    cron = cron_of(service)
    if cron is None:
        return {
            "kind": schedule.ScheduleKind.INTERVAL.value,
            "alert_interval": service["alert_interval"],
            "threshold": service["threshold"],
            "grace_period_seconds": service["grace_period_seconds"],
        }
    return {
        "kind": schedule.ScheduleKind.CRON.value,
        "cron": cron.expression,
        "timezone": cron.timezone,
        "description": schedule.describe(cron),
        "grace": service["grace_period_seconds"],
        "start_margin": service.get("start_margin_seconds"),
        "max_runtime": service.get("max_duration_seconds"),
        "min_runtime": service.get("min_runtime_seconds"),
        "next_slots": slot_times(cron, schedule.slots_after(cron, now, NEXT_SLOTS_SHOWN)),
    }


def service_out(row: Any, now: datetime, ratios: Mapping[str, float | None] | None = None, *,
                depends_on: list[str] | None = None) -> dict[str, Any]:
    data = dict(row._mapping)
    data["labels"] = data.get("labels") or {}
    data["depends_on"] = depends_on or []
    data["flapping"] = data.get("flapping_since") is not None
    data["state"] = state_of(
        active=row.active, muted=row.muted, down=row.down, last_heartbeat_at=row.last_heartbeat_at
    ).value
    data["schedule"] = schedule_out(data, now)
    data.update(ratios or {})
    return ServiceOut.model_validate(data).model_dump(mode="json")


def heartbeat_out(item: Any) -> dict[str, Any]:
    data = dict(item._mapping) if hasattr(item, "_mapping") else vars(item)
    return HeartbeatOut.model_validate(data).model_dump(mode="json")


def alert_out(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["suppressed"] = bool(data.get("suppressed"))
    # suppressed_by is stored as the parent's alert id; replies name its service.
    data["suppressed_by"] = data.pop("suppressed_by_name", None)
    return AlertOut.model_validate(data).model_dump(mode="json")
