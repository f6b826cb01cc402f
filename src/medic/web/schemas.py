"""Request and response schemas: they validate requests and generate /openapi.json."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    AwareDatetime,
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
    Field,
    StringConstraints,
)

from medic.core import hysteresis
from medic.core.dependencies import MAX_DEPENDS_ON
from medic.core.transitions import MUTE_FOR_PATTERN, parse_mute_for
from medic.core.model import DEFAULT_PRIORITY, DEFAULT_TEAM, Priority, ServiceState, Status

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$"
# No control characters: they break one-line logs and Slack text, and PostgreSQL rejects NUL.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"


def _printable(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters (newlines, tabs, NUL)")
    return value


HeartbeatName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=NAME_PATTERN)]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_printable),
    Field(json_schema_extra={"pattern": PRINTABLE_PATTERN}),
]


def one_of(vocabulary: type[StrEnum]) -> Any:
    """A ``Literal`` of an enum's values: validated as plain strings, documented in
    /openapi.json as a list of values, and never out of step with the enum."""
    return Literal[tuple(member.value for member in vocabulary)]


def _status(value: Any) -> Any:
    if isinstance(value, str) and value.strip().upper() in Status.__members__:
        return value.strip().upper()
    return value


def _blank_is_absent(value: Any) -> Any:
    # The original Go client always sends service_name, "" when it is unset.
    return None if isinstance(value, str) and not value.strip() else value


def _priority(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _flag(value: Any) -> Any:
    """Booleans as the original clients send them: true/false, 0/1, "true"/"0"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueError("must be true, false, 0 or 1")


# http(s)://host[:port][/path?query#fragment]: a host is required, no credentials, no spaces
# or control characters. /openapi.json documents the same pattern.
URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://(\[[0-9A-Fa-f:.]+\]|[^\x00-\x20\x7f/?#@:\[\]]+)(:[0-9]{1,5})?"
    r"([/?#][^\x00-\x20\x7f]*)?$"
)
_URL = re.compile(URL_PATTERN)


def _http_url(value: str | None) -> str | None:
    if value is not None and not _URL.match(value):
        raise ValueError("must be an http:// or https:// URL with a host, without spaces or credentials")
    return value


StatusField = Annotated[one_of(Status), BeforeValidator(_status)]
PriorityField = Annotated[one_of(Priority), BeforeValidator(_priority)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Runbook = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    AfterValidator(_http_url),
    Field(json_schema_extra={"pattern": URL_PATTERN}),
]
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
LabelValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), AfterValidator(_printable)]
# Service labels, matched by routes (docs/routing.md).
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=20)]
# The services a service depends on, by heartbeat name (docs/alerting.md, "Dependencies").
DependsOn = Annotated[list[HeartbeatName], Field(max_length=MAX_DEPENDS_ON, description=(
    "heartbeat names of the services this one depends on: while one of them (directly or through others) "
    "has an open alert, this service's alert opens suppressed, without a page"))]
Minutes = Annotated[int, Field(strict=True, ge=1, le=525600, description="minutes")]
Count = Annotated[int, Field(strict=True, ge=1, le=10000)]
Seconds = Annotated[int, Field(strict=True, ge=0, le=31536000)]
# Hysteresis (docs/alerting.md): failures in a row that open an alert, successes in a row that close it.
Streak = Annotated[int, Field(strict=True, ge=hysteresis.MIN, le=hysteresis.MAX)]


def _mute_for(value: str) -> str:
    parse_mute_for(value)
    return value


MuteFor = Annotated[
    str,
    AfterValidator(_mute_for),
    Field(description='mute for this long: a whole number and m, h or d ("30m", "2h", "1d"), at most 365d; '
                      "implies muted", json_schema_extra={"pattern": MUTE_FOR_PATTERN.pattern}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- requests -------------------------------------------------------------


class HeartbeatIn(BaseModel):
    # Old clients send extra keys; they are ignored here and only here.
    model_config = ConfigDict(extra="ignore")

    heartbeat_name: HeartbeatName
    status: StatusField = Field(description="UP, DOWN or DEGRADED, any case")
    service_name: Annotated[
        Text | None, BeforeValidator(_blank_is_absent), Field(description='Ignored; "" or null is the same as absent')
    ] = None


class HeartbeatQuery(Strict):
    heartbeat_name: HeartbeatName | None = None
    service_name: Text | None = None
    maxCount: Annotated[int, Field(ge=1, le=10000)] = 250


RunSeconds = Annotated[int, Field(strict=True, ge=1, le=31536000, description="seconds")]


class ScheduleIn(Strict):
    """A service's schedule (docs/schedules.md). With ``cron``: a cron schedule;
    ``{"kind": "interval"}`` (or no schedule) keeps alert_interval/threshold."""

    kind: Literal["cron", "interval"] | None = None
    cron: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        None, description='5-field cron expression or an alias such as "@daily"')
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="IANA time zone of the expression (default UTC)")
    grace: Seconds | None = Field(
        None, validation_alias=AliasChoices("grace", "grace_seconds", "grace_period_seconds"),
        description="seconds after a slot in which its success still counts (late); sets grace_period_seconds")
    start_margin: Seconds | None = Field(
        None, validation_alias=AliasChoices("start_margin", "start_margin_seconds"),
        description="seconds after a slot by which a run must have started (late to start)")
    max_runtime: RunSeconds | None = Field(
        None, validation_alias=AliasChoices("max_runtime", "max_runtime_seconds"),
        description="seconds a started run may take (running too long); sets max_duration_seconds")
    min_runtime: RunSeconds | None = Field(
        None, validation_alias=AliasChoices("min_runtime", "min_runtime_seconds"),
        description="seconds a completed run must have taken at least (finished too fast)")


class SchedulePreviewIn(Strict):
    cron: Annotated[str, StringConstraints(max_length=255)]
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    from_: datetime | None = Field(None, alias="from", description="ISO time to start after (default now)")
    count: Annotated[int, Field(strict=True, ge=1, le=100)] = 5


class SlotsQuery(Strict):
    from_: datetime | None = Field(None, alias="from", description="ISO time (default 7 days before now)")
    to: datetime | None = Field(None, description="ISO time (default: no end; a slot met early is listed)")
    limit: Annotated[int, Field(ge=1, le=10000)] = 1000


class SlotTime(BaseModel):
    utc: datetime
    local: datetime


class SchedulePreviewOut(BaseModel):
    cron: str
    timezone: str
    description: str
    slots: list[SlotTime]


class SlotOut(BaseModel):
    slot_at: datetime
    local: datetime | None
    outcome: str
    signal_at: datetime | None
    maintenance_id: int | None = None  # the maintenance window the slot fell in


class ServiceCreate(Strict):
    heartbeat_name: HeartbeatName
    service_name: Text
    alert_interval: Minutes | None = Field(None, description="minutes; required unless the schedule is cron")
    schedule: ScheduleIn | None = None
    threshold: Count = 1
    team: Text = DEFAULT_TEAM
    priority: PriorityField = DEFAULT_PRIORITY
    runbook: Runbook | None = None
    grace_period_seconds: Seconds = 0
    max_duration_seconds: Annotated[int, Field(strict=True, ge=1, le=31536000)] | None = None
    labels: Labels | None = None
    depends_on: DependsOn | None = None
    failures_to_open: Streak = Field(hysteresis.DEFAULT, description="missed or failed windows (or slots) in a row "
                                     "before an alert opens")
    successes_to_close: Streak = Field(hysteresis.DEFAULT, description="successes in a row, after the alert opened, "
                                       "before it closes")
    environment: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    ] | None = None


def _undocumented_null_defaults(schema: dict[str, Any]) -> None:
    # A field typed without None but defaulting to None is "optional, not nullable".
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and "anyOf" not in prop:
            del prop["default"]


class ServiceUpdate(Strict):
    # Leave a field out to keep its value; null is refused except where it clears one.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_undocumented_null_defaults)

    service_name: Text = None
    muted: Flag = None
    muted_until: Annotated[AwareDatetime, Field(description="mute until then (ISO 8601 with an offset); "
                                                "implies muted, must be in the future")] = None
    mute_for: MuteFor = None
    active: Flag = None
    alert_interval: Minutes = None
    threshold: Count = None
    team: Text = None
    priority: PriorityField = None
    runbook: Runbook | None = None
    grace_period_seconds: Seconds = None
    max_duration_seconds: Annotated[int, Field(strict=True, ge=1, le=31536000)] | None = None
    schedule: ScheduleIn | None = None
    labels: Labels | None = None  # replaces the service's labels; null or {} clears them
    depends_on: DependsOn | None = None  # replaces the service's dependencies; null or [] clears them
    failures_to_open: Streak = None
    successes_to_close: Streak = None


LABEL_FILTER = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._/-]{0,62})=([^,=\x00-\x1f\x7f]{1,255})\s*$")


def parse_label_filter(value: str) -> dict[str, str]:
    """ "env=prod" or "env=prod,tier=db" as {"env": "prod", "tier": "db"}; ValueError otherwise."""
    found: dict[str, str] = {}
    for part in value.split(","):
        matched = LABEL_FILTER.match(part)
        if matched is None:
            raise ValueError('must be key=value, or several joined by commas: "env=prod,tier=db"')
        found[matched.group(1)] = matched.group(2).strip()
    return found


def _label_filter(value: str) -> str:
    parse_label_filter(value)
    return value


class ServiceQuery(Strict):
    service_name: Text | None = None
    active: Flag | None = None
    label: Annotated[str, StringConstraints(max_length=2048), AfterValidator(_label_filter),
                     Field(description="services carrying these labels: key=value, several joined by commas "
                                       "(all must match)")] | None = None
    # Paged so that listing a large fleet cannot blow up a web process's memory.
    limit: Annotated[int, Field(ge=1, le=10000)] = 1000
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0


class AlertQuery(Strict):
    active: Flag | None = None
    heartbeat_name: HeartbeatName | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0


# --- responses (documented in /openapi.json) ------------------------------

# The v1 routes answer flags as 0/1, as the original Medic did: its CLI compares
# them with `== 1`, Go clients decode them into `int` fields and JavaScript ones
# test `=== 1`, all of which a JSON boolean breaks.
V1Flag = Annotated[
    bool,
    PlainSerializer(int, return_type=int),
    WithJsonSchema({"type": "integer", "enum": [0, 1], "description": "1 true, 0 false"}),
]


class HeartbeatOut(BaseModel):
    heartbeat_id: int
    heartbeat_name: str
    service_name: str
    time: datetime
    status: str
    team: str
    priority: str


class ServiceOut(BaseModel):
    service_id: int
    heartbeat_name: str
    service_name: str
    active: V1Flag
    alert_interval: int
    threshold: int
    team: str
    priority: str
    muted: V1Flag
    down: V1Flag
    runbook: str | None
    grace_period_seconds: int
    max_duration_seconds: int | None
    date_added: datetime
    date_modified: datetime
    date_muted: datetime | None
    muted_until: datetime | None = None  # when the mute lifts itself; null when not muted
    last_heartbeat_at: datetime | None
    last_status: str | None
    labels: dict[str, str] = {}
    depends_on: list[str] = []  # heartbeat names (docs/alerting.md, "Dependencies")
    failures_to_open: int = hysteresis.DEFAULT
    successes_to_close: int = hysteresis.DEFAULT
    # Changing state too often (docs/alerting.md, "Flapping"): pages paused since then.
    flapping: bool = False
    flapping_since: datetime | None = None
    state: one_of(ServiceState)
    # {"kind": "interval", ...} or {"kind": "cron", "cron", "timezone", "description", "next_slots", ...}
    schedule: dict[str, Any]
    # In GET /service/<name>: the share of slots (cron) or windows (interval) on time (None without any).
    on_time_ratio_7d: float | None = None
    on_time_ratio_30d: float | None = None


class AlertOut(BaseModel):
    alert_id: int
    service_id: int
    heartbeat_name: str
    service_name: str
    alert_name: str
    active: V1Flag
    external_reference_id: str
    open_reason: str
    close_reason: str | None
    created_date: datetime
    closed_date: datetime | None
    team: str
    priority: str
    # Dependencies (docs/alerting.md): opened while a service this one depends on had an
    # open alert, so no page; by that service's alert. released_at: when it paged after all.
    suppressed: bool = False
    suppressed_by: str | None = None
    suppressed_by_alert_id: int | None = None
    released_at: datetime | None = None
