"""Request and response models of /v2/maintenance (docs/maintenance.md). Which
combinations are valid (one scope, one-off or recurring) is core/maintenance.py's
rule, checked by the view on the body as given or, for a PATCH, as merged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

from medic.core.maintenance import MAX_DURATION_MINUTES, MAX_SERVICES
from medic.web.schemas import HeartbeatName, Labels, Strict, Text, _printable

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024), AfterValidator(_printable)]
CronText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
                     Field(description='a 5-field cron expression: when each occurrence starts, e.g. "0 2 * * 0"')]
Zone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                 Field(description="IANA time zone of the cron expression (default UTC)")]
Duration = Annotated[int, Field(strict=True, ge=1, le=MAX_DURATION_MINUTES, description="minutes each occurrence lasts")]
Names = Annotated[list[HeartbeatName], Field(min_length=1, max_length=MAX_SERVICES,
                                             description="heartbeat names of the services in scope")]


class MaintenanceCreate(Strict):
    services: Names | None = None
    team: Text | None = Field(None, description="every service of this team")
    labels: Labels | None = Field(None, description="every service carrying all of these labels")
    start: AwareDatetime | None = Field(None, description="one-off: ISO 8601 with an offset; default now")
    end: AwareDatetime | None = Field(None, description="one-off: ISO 8601 with an offset, after start, in the future")
    cron: CronText | None = None
    timezone: Zone | None = None
    duration_minutes: Duration | None = None
    reason: Reason


class MaintenanceUpdate(Strict):
    """Fields given replace the window's; a scope field replaces the whole scope, and a
    time field of the other kind (start/end for a recurring window, cron/timezone/
    duration_minutes for a one-off) replaces the window's times."""

    services: Names | None = None
    team: Text | None = None
    labels: Labels | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    cron: CronText | None = None
    timezone: Zone | None = None
    duration_minutes: Duration | None = None
    reason: Reason | None = None


class MaintenanceOut(BaseModel):
    id: int
    reason: str
    kind: str  # "one_off" or "recurring"
    services: list[str] | None
    team: str | None
    labels: dict[str, str] | None
    start: datetime | None
    end: datetime | None
    cron: str | None
    timezone: str | None
    duration_minutes: int | None
    description: str | None  # a recurring window in words
    active: bool  # in force now
    active_until: datetime | None  # when the occurrence in force ends
    next_start: datetime | None  # the next occurrence that has not started
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None  # ended early (DELETE)
