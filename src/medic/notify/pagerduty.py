"""PagerDuty Events API v2.

One alert is one PagerDuty incident: trigger and resolve carry the alert's stable
`dedup_key`, so a retried trigger never opens a second incident and the resolve
closes the right one. Reminders are Slack-only; a "reminder" handed to this channel
is acknowledged as delivered without a request, so a stray row cannot page twice.
"""

from __future__ import annotations

import httpx

from medic.config import Settings
from medic.core.model import DeliveryOutcome, NotificationKind, Priority, channel_receives
from medic.notify.base import (
    PAGERDUTY,
    DeliveryResult,
    Notification,
    classify_status,
    exception_error,
    reason_text,
    safe_error,
)

SEVERITY_BY_PRIORITY = {
    Priority.P1: "critical",
    Priority.P2: "error",
    Priority.P3: "warning",
    Priority.P4: "info",
    Priority.P5: "info",
}
# An unknown priority must not quietly downgrade a page.
DEFAULT_SEVERITY = "critical"
MAX_SUMMARY_CHARS = 1024  # PagerDuty rejects longer summaries


def severity_for(priority: object) -> str:
    if isinstance(priority, str):
        return SEVERITY_BY_PRIORITY.get(priority.strip().lower(), DEFAULT_SEVERITY)
    return DEFAULT_SEVERITY


def summary_for(payload: dict) -> str:
    heartbeat = payload.get("heartbeat_name") or "?"
    service = payload.get("service_name") or "?"
    text = f"Heartbeat '{heartbeat}' of service '{service}': {reason_text(payload.get('reason'))}"
    if payload.get("flapping"):  # the one incident of a flapping episode (docs/alerting.md)
        text += " (flapping: further changes are not paged until it is stable)"
    return text[:MAX_SUMMARY_CHARS]


def build_event(routing_key: str, kind: str, payload: dict) -> dict:
    """The Events API v2 request body for a trigger or resolve."""
    dedup_key = str(payload["dedup_key"])
    if kind == NotificationKind.RESOLVE:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    if kind != NotificationKind.TRIGGER:
        raise ValueError(f"PagerDuty has no event for kind {kind!r}")
    event: dict = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": summary_for(payload),
            "source": "medic",
            "severity": severity_for(payload.get("priority")),
            "component": payload.get("service_name"),
            "group": payload.get("team"),
            "class": payload.get("reason"),
            "custom_details": {
                "heartbeat_name": payload.get("heartbeat_name"),
                "reason": payload.get("reason"),
                "alert_interval": payload.get("alert_interval"),
                "threshold": payload.get("threshold"),
                "last_heartbeat_at": payload.get("last_heartbeat_at"),
                "opened_at": payload.get("opened_at"),
                "team": payload.get("team"),
                "priority": payload.get("priority"),
            },
        },
    }
    if payload.get("affected"):  # services below it whose alerts it suppressed (docs/alerting.md)
        event["payload"]["custom_details"]["affected_services"] = list(payload["affected"])
    if payload.get("opened_at"):
        event["payload"]["timestamp"] = payload["opened_at"]
    # Omit absent optional fields instead of sending nulls to PagerDuty.
    event["payload"] = {k: v for k, v in event["payload"].items() if v is not None}
    if payload.get("runbook"):
        event["links"] = [{"href": payload["runbook"], "text": "Runbook"}]
    if payload.get("medic_url"):
        event["client"] = "Medic"
        event["client_url"] = payload["medic_url"]
    return event


class PagerDutyChannel:
    name = PAGERDUTY

    def __init__(
        self,
        routing_key: str,
        events_url: str,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._routing_key = routing_key
        self._events_url = events_url
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> PagerDutyChannel:
        if not settings.pagerduty_routing_key:
            raise ValueError("PAGERDUTY_ROUTING_KEY is not set")
        return cls(
            settings.pagerduty_routing_key,
            settings.pagerduty_events_url,
            timeout=settings.notify_timeout_seconds,
        )

    def close(self) -> None:
        self._client.close()

    def send(self, notification: Notification) -> DeliveryResult:
        payload = notification.payload
        dedup_key = str(payload.get("dedup_key") or "")
        if not channel_receives(PAGERDUTY, notification.kind):  # a stray row must not page twice
            return DeliveryResult(DeliveryOutcome.DELIVERED, provider_ref=dedup_key or None)
        if notification.kind not in (NotificationKind.TRIGGER, NotificationKind.RESOLVE):
            return DeliveryResult(DeliveryOutcome.PERMANENT, error=f"unknown notification kind {notification.kind!r}")
        if not dedup_key:
            return DeliveryResult(DeliveryOutcome.PERMANENT, error="payload has no dedup_key")

        event = build_event(self._routing_key, notification.kind, payload)
        try:
            response = self._client.post(self._events_url, json=event)
        except httpx.HTTPError as exc:  # timeouts, refused/reset connections, protocol errors
            return DeliveryResult(DeliveryOutcome.RETRY, error=exception_error(exc, self._secrets()))

        result = classify_status(response.status_code, response.headers, error=self._detail(response))
        if result.outcome == DeliveryOutcome.DELIVERED:
            return DeliveryResult(DeliveryOutcome.DELIVERED, provider_ref=self._ref(response, dedup_key))
        return result

    def _secrets(self) -> tuple[str, ...]:
        return (self._routing_key,)

    def _detail(self, response: httpx.Response) -> str | None:
        if response.is_success:
            return None
        try:
            body = response.json()
        except ValueError:
            text = response.text.strip()
            return safe_error(text, self._secrets()) if text else None
        if isinstance(body, dict):
            parts = [str(body.get("message") or body.get("status") or "")]
            errors = body.get("errors")
            if isinstance(errors, list) and errors:
                parts.append("; ".join(str(e) for e in errors))
            return safe_error(" - ".join(p for p in parts if p), self._secrets()) or None
        return safe_error(body, self._secrets())

    @staticmethod
    def _ref(response: httpx.Response, dedup_key: str) -> str:
        try:
            body = response.json()
        except ValueError:
            return dedup_key
        if isinstance(body, dict) and body.get("dedup_key"):
            return str(body["dedup_key"])
        return dedup_key
