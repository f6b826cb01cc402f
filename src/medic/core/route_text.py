"""Routes written as text, as `medic route add` and the dashboard's route form take
them: targets as TYPE=VALUE, labels as KEY=VALUE (docs/routing.md). The API's
schema (web/route_schemas.py) still judges the result."""

from __future__ import annotations

from typing import Any, Iterable

KINDS = ("pagerduty", "pagerduty-env", "slack", "webhook", "email", "apprise", "apprise-env")


def parse_target(text: str, webhook_secret: str | None = None) -> dict[str, Any]:
    """TYPE=VALUE as a route target: pagerduty=KEY, pagerduty-env=VAR, slack=CHANNEL,
    webhook=URL, email=ADDR[,ADDR...], apprise=URL, apprise-env=VAR. Raises ValueError."""
    kind, sep, value = text.partition("=")
    kind, value = kind.strip().lower(), value.strip()
    if not sep or kind not in KINDS or not value:
        # The value is left out: it may be a routing key.
        raise ValueError(f"target {kind[:40]!r}: expected TYPE=VALUE with TYPE one of {', '.join(KINDS)}")
    if kind == "pagerduty":
        return {"type": "pagerduty", "routing_key": value}
    if kind == "pagerduty-env":
        return {"type": "pagerduty", "routing_key": {"env": value}}
    if kind == "slack":
        return {"type": "slack", "channel": value}
    if kind == "webhook":
        return {"type": "webhook", "url": value, **({"secret": webhook_secret} if webhook_secret else {})}
    if kind == "email":
        return {"type": "email", "to": [part.strip() for part in value.split(",") if part.strip()]}
    if kind == "apprise-env":
        return {"type": "apprise", "url": {"env": value}}
    return {"type": "apprise", "url": value}


# Their VALUE is no secret (the -env kinds name a variable); a pagerduty or apprise
# value is one, and a line of no known kind may be a mistyped one.
PLAIN_KINDS = ("pagerduty-env", "slack", "webhook", "email", "apprise-env")


def may_show(text: str) -> bool:
    """Whether a TYPE=VALUE line can be shown back to the person who typed it."""
    return text.partition("=")[0].strip().lower() in PLAIN_KINDS


def parse_labels(items: Iterable[str]) -> dict[str, str]:
    """KEY=VALUE items as a labels object. Raises ValueError."""
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{item[:200]!r}: expected KEY=VALUE")
        labels[key.strip()] = value.strip()
    return labels


def describe_target(target: dict[str, Any]) -> str:
    """A target as the API answers it (secrets masked), in one line."""
    kind = target.get("type", "?")
    shown = {k: v for k, v in target.items() if k not in ("id", "type")}
    parts = []
    for name, value in shown.items():
        if isinstance(value, dict) and "env" in value:
            value = f"${value['env']}"
        elif isinstance(value, list):
            value = ",".join(map(str, value))
        parts.append(f"{name}={value}")
    return f"{kind}({' '.join(parts)})"
