"""`medic route add|list|remove`: manage routes (docs/routing.md) through the HTTP API.

Like `medic job`, they reach a Medic server at MEDIC_BASE_URL with MEDIC_API_KEY
(an admin key for add and remove) and never open the database, so the server's
MEDIC_SECRET_KEY encrypts the secrets given.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from medic.cli.http_client import api_options, call
from medic.core.route_text import describe_target, parse_labels, parse_target

MASK = "********"


def _targets(texts, webhook_secret: str | None, option: str) -> list[dict[str, Any]]:
    try:
        return [parse_target(t, webhook_secret) for t in texts]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.group()
def route() -> None:
    """Routes: which targets a service's alerts go to (docs/routing.md)."""


@route.command("add")
@click.argument("name")
@click.option("--team", default=None, help="Match services of this team.")
@click.option("--priority", default=None, help="Match services of this priority (p1-p5).")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Match services with this label (repeatable).")
@click.option("--target", "targets", multiple=True, required=True, metavar="TYPE=VALUE",
              help="pagerduty=KEY, pagerduty-env=VAR, slack=CHANNEL, webhook=URL, email=ADDR[,ADDR], apprise=URL, "
              "apprise-env=VAR (repeatable).")
@click.option("--webhook-secret", default=None, help="Signing secret of the webhook targets.")
@click.option("--escalate-after", type=click.IntRange(1, 10080), default=None, help="Minutes an alert stays open before escalating.")
@click.option("--escalate-to", multiple=True, metavar="TYPE=VALUE", help="Escalation target (repeatable), as --target.")
@api_options
def route_add(name, team, priority, labels, targets, webhook_secret, escalate_after, escalate_to, url, api_key) -> None:
    """Create the route NAME."""
    match: dict[str, Any] = {}
    if team:
        match["team"] = team
    if priority:
        match["priority"] = priority
    if labels:
        try:
            match["labels"] = parse_labels(labels)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--label") from None
    body: dict[str, Any] = {"name": name, "match": match, "targets": _targets(targets, webhook_secret, "--target")}
    if escalate_after is not None or escalate_to:
        body["escalate_after_minutes"] = escalate_after
        body["escalate_to"] = _targets(escalate_to, webhook_secret, "--escalate-to")
    created = call(url, api_key, "POST", "/v2/routes", body)["results"]
    click.echo(f"route {created['id']} '{created['name']}' created: {', '.join(map(describe_target, created['targets']))}")


@route.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@api_options
def route_list(as_json, url, api_key) -> None:
    """List routes, most recent last (secrets masked)."""
    found = call(url, api_key, "GET", "/v2/routes")["results"]
    if as_json:
        json.dump(found, sys.stdout, indent=2)
        click.echo()
        return
    if not found:
        click.echo("no routes: every alert goes to the channels configured by environment variables")
        return
    for r in found:
        m = r["match"]
        criteria = [f"team={m['team']}"] if m.get("team") else []
        criteria += [f"priority={m['priority']}"] if m.get("priority") else []
        criteria += [f"{k}={v}" for k, v in sorted((m.get("labels") or {}).items())]
        line = f"{r['id']}\t{r['name']}\t{' '.join(criteria) or '(every service)'}\t"
        line += ", ".join(map(describe_target, r["targets"]))
        if r.get("escalate_after_minutes"):
            line += f"\tescalates after {r['escalate_after_minutes']} min to " + ", ".join(map(describe_target, r["escalate_to"]))
        click.echo(line)


@route.command("remove")
@click.argument("route")
@api_options
def route_remove(route, url, api_key) -> None:
    """Delete ROUTE (its id or name). Alerts already open still resolve on its targets."""
    ident = route
    if not route.isdigit():
        found = [r for r in call(url, api_key, "GET", "/v2/routes")["results"] if r["name"] == route]
        if not found:
            raise click.ClickException(f"no route is named '{route}'")
        ident = str(found[0]["id"])
    call(url, api_key, "DELETE", f"/v2/routes/{ident}")
    click.echo(f"route {ident} removed")
