"""Request schemas of /v2/routes (docs/routing.md)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator

from medic.web.schemas import Labels, PriorityField, Strict, Text, _http_url, _printable


class EnvRef(Strict):
    """A secret read from the worker's environment at send time, never stored."""

    env: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


SecretText = Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_printable)]
Secret = Union[SecretText, EnvRef]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048), AfterValidator(_http_url)]


def _apprise(value):
    if isinstance(value, str):
        from medic.notify.apprise import check_urls

        check_urls(value)
    return value


def _whsec(value):
    if isinstance(value, str):
        from medic.notify.webhook import standard_key

        standard_key(value)
    return value


def _addresses(value: list[str]) -> list[str]:
    from medic.notify.email import parse_addresses

    return parse_addresses(value)


class PagerDutyTarget(Strict):
    type: Literal["pagerduty"]
    routing_key: Secret


class SlackTarget(Strict):
    type: Literal["slack"]
    channel: Text
    token: Secret | None = None  # SLACK_API_TOKEN when absent


class WebhookTarget(Strict):
    type: Literal["webhook"]
    url: Url
    secret: Annotated[Secret, AfterValidator(_whsec)] | None = None


class EmailTarget(Strict):
    type: Literal["email"]
    to: Annotated[list[Annotated[str, StringConstraints(min_length=3, max_length=320)]], Field(min_length=1, max_length=50),
                  AfterValidator(_addresses)]


class AppriseTarget(Strict):
    type: Literal["apprise"]
    url: Annotated[Secret, AfterValidator(_apprise)]


TargetIn = Annotated[
    Union[PagerDutyTarget, SlackTarget, WebhookTarget, EmailTarget, AppriseTarget], Field(discriminator="type")
]
Targets = Annotated[list[TargetIn], Field(min_length=1, max_length=20)]
EscalateMinutes = Annotated[int, Field(strict=True, ge=1, le=10080)]


class MatchIn(Strict):
    team: Text | None = None
    priority: PriorityField | None = None
    labels: Labels | None = None


class RouteCreate(Strict):
    name: Text
    match: MatchIn = MatchIn()
    targets: Targets
    escalate_after_minutes: EscalateMinutes | None = None
    escalate_to: Targets | None = None

    @model_validator(mode="after")
    def _escalation(self):
        if (self.escalate_after_minutes is None) != (self.escalate_to is None):
            raise ValueError("escalate_after_minutes and escalate_to go together: give both or neither")
        return self


class RouteUpdate(Strict):
    """Fields given replace the route's; ``match`` and the target lists as a whole."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Text = None
    match: MatchIn = None
    targets: Targets = None
    escalate_after_minutes: EscalateMinutes | None = None
    escalate_to: Targets | None = None
