"""The configuration file's model (docs/config-as-code.md): services, routes and
maintenance windows, validated locally before anything is sent.

The field types are the HTTP API's own (web/schemas.py, web/route_schemas.py), so a
file that validates here is one the API accepts; what differs is deliberate: a
service's timing lives in one ``schedule`` block, and a route target's secrets are
only ever references (``{"env": NAME}``), never values kept in version control.
The published JSON Schema (``medic schema``, docs/medic.schema.json) is generated
from these classes.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union

from pydantic import AwareDatetime, BeforeValidator, Discriminator, Field, Tag, model_validator

from medic.core import schedule as cron_rules
from medic.core.model import DEFAULT_PRIORITY, DEFAULT_TEAM
from medic.web.maintenance_schemas import Reason
from medic.web.route_schemas import (
    AppriseTarget, EmailTarget, EnvRef, EscalateMinutes, MatchIn, PagerDutyTarget, RouteCreate, SlackTarget,
    WebhookTarget,
)
from medic.web.schemas import (
    Count, HeartbeatName, Labels, Minutes, PriorityField, RunSeconds, Runbook, Seconds, Strict, Text,
)

class StoredSecret(Strict):
    """The secret this server already holds, encrypted (given with `medic route add` or
    the API): `medic export` writes it for such targets, and apply keeps it. It cannot
    be sent again, so a target holding one can stay as it is but not be created or changed."""

    stored: Literal[True]


def _secret_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "StoredSecret" if "stored" in value else "EnvRef"
    if isinstance(value, (EnvRef, StoredSecret)):
        return "StoredSecret" if isinstance(value, StoredSecret) else "EnvRef"
    return None


def _no_secret_values(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError('a secret is never written in the file: give {env: NAME}, the environment '
                         "variable of the worker that holds it")
    return value


FileSecret = Annotated[
    Union[Annotated[EnvRef, Tag("EnvRef")], Annotated[StoredSecret, Tag("StoredSecret")]],
    Discriminator(_secret_kind, custom_error_type="secret", custom_error_message="expected {env: NAME}"),
    BeforeValidator(_no_secret_values),
]


class PagerDuty(PagerDutyTarget):
    routing_key: FileSecret


class Slack(SlackTarget):
    token: FileSecret | None = None  # the worker's SLACK_API_TOKEN when absent


class Webhook(WebhookTarget):
    secret: FileSecret | None = None


class Email(EmailTarget):
    pass


class Apprise(AppriseTarget):
    url: FileSecret  # Apprise URLs carry their service's credentials


TARGET_KINDS = (PagerDuty, Slack, Webhook, Email, Apprise)
TARGET_TYPES = frozenset(kind.model_fields["type"].annotation.__args__[0] for kind in TARGET_KINDS)
Target = Annotated[Union[TARGET_KINDS], Field(discriminator="type")]
Targets = Annotated[list[Target], Field(min_length=1, max_length=20)]


class Schedule(Strict):
    """Either ``interval`` (minutes: at least ``threshold`` heartbeats in each) or
    ``cron`` in ``timezone`` (docs/schedules.md); the other fields as the API's schedule."""

    interval: Minutes | None = Field(None, description="minutes: alert when fewer than threshold heartbeats "
                                     "arrive in this window (the API's alert_interval)")
    threshold: Count | None = Field(None, description="heartbeats expected per interval (default 1); interval only")
    cron: Annotated[str, Field(max_length=255)] | None = Field(
        None, description='5-field cron expression or an alias such as "@daily"')
    timezone: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="IANA time zone of the cron expression (default UTC)")
    grace: Seconds = Field(0, description="seconds of grace (the API's grace_period_seconds)")
    start_margin: Seconds | None = Field(None, description="cron only: seconds after a slot by which a run must have started")
    max_runtime: RunSeconds | None = Field(None, description="seconds a started run may take (max_duration_seconds)")
    min_runtime: RunSeconds | None = Field(None, description="cron only: seconds a completed run must take at least")

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.interval is None) == (self.cron is None):
            raise ValueError("give either interval (minutes) or cron, not both or neither")
        if self.interval is not None:
            extra = [name for name in ("timezone", "start_margin", "min_runtime") if getattr(self, name) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)}: only with a cron schedule")
            if self.threshold is None:
                self.threshold = 1
            return self
        if self.threshold is not None:
            raise ValueError("threshold: only with an interval schedule")
        try:
            parsed = cron_rules.parse(self.cron, self.timezone)
        except cron_rules.ScheduleError as exc:
            raise ValueError(str(exc)) from None
        self.cron, self.timezone = parsed.expression, parsed.timezone
        return self


class Service(Strict):
    heartbeat_name: HeartbeatName = Field(description="the service's key: unique, case-insensitive")
    service_name: Text
    schedule: Schedule
    team: Text = DEFAULT_TEAM
    priority: PriorityField = DEFAULT_PRIORITY
    runbook: Runbook | None = None
    labels: Labels = Field(default_factory=dict, description="matched by routes (docs/routing.md)")
    active: bool = Field(True, description="false keeps the service and its history but stops monitoring it")


class Route(RouteCreate):
    """A route, keyed by its name (docs/routing.md)."""

    match: MatchIn = MatchIn()
    targets: Targets
    escalate_after_minutes: EscalateMinutes | None = None
    escalate_to: Targets | None = None


class Maintenance(Strict):
    """A maintenance window: services, a team or labels; once (start, end) or
    recurring (cron, timezone, duration_minutes). Identified by its whole content."""

    services: Annotated[list[HeartbeatName], Field(min_length=1, max_length=1000)] | None = None
    team: Text | None = None
    labels: Labels | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    cron: Annotated[str, Field(max_length=255)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    duration_minutes: Minutes | None = None
    reason: Reason

    @model_validator(mode="after")
    def _shape(self):
        scopes = [name for name in ("services", "team", "labels") if getattr(self, name) is not None]
        if len(scopes) != 1:
            raise ValueError("give exactly one of services, team or labels")
        once = self.start is not None or self.end is not None
        recurring = self.cron is not None or self.duration_minutes is not None or self.timezone is not None
        if once == recurring:
            raise ValueError("give either start and end, or cron and duration_minutes (with an optional timezone)")
        if once:
            if self.start is None or self.end is None:
                raise ValueError("start and end go together")
            if self.end <= self.start:
                raise ValueError("end: must be after start")
            return self
        if self.cron is None or self.duration_minutes is None:
            raise ValueError("cron and duration_minutes go together")
        try:
            parsed = cron_rules.parse(self.cron, self.timezone)
        except cron_rules.ScheduleError as exc:
            raise ValueError(str(exc)) from None
        self.cron, self.timezone = parsed.expression, parsed.timezone
        return self


class Document(Strict):
    """A Medic configuration file; a folder of them is read as one document."""

    version: Literal[1] = Field(1, description="the file format's version")
    services: list[Service] = []
    routes: list[Route] = []
    maintenance: list[Maintenance] = []


def json_schema() -> dict[str, Any]:
    schema = Document.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Medic configuration", **{k: v for k, v in schema.items() if k != "title"}}


def json_schema_text() -> str:
    """The schema as `medic schema` prints it and docs/medic.schema.json holds it."""
    return json.dumps(json_schema(), indent=2) + "\n"
