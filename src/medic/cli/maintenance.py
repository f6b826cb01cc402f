"""`medic maintenance add|list|end`: maintenance windows (docs/maintenance.md) through the
HTTP API, at MEDIC_BASE_URL with MEDIC_API_KEY (a write key for add and end)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from datetime import timezone as tz
from typing import Any

import click

from medic.cli.http_client import api_options, call
from medic.core.transitions import parse_mute_for


def _when(value: str | None, param: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected an ISO 8601 time, e.g. 2026-01-05T22:00:00+01:00",
                                 param_hint=param) from None
    return when if when.tzinfo else when.astimezone()  # no offset: this machine's local time


def _labels(items: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--label")
        found[key.strip()] = value.strip()
    return found


def describe(window: dict[str, Any]) -> str:
    """One line: id, state, scope, times, reason."""
    if window.get("services"):
        scope = "services " + ",".join(window["services"])
    elif window.get("team"):
        scope = f"team {window['team']}"
    else:
        scope = "labels " + ",".join(f"{k}={v}" for k, v in sorted((window.get("labels") or {}).items()))
    if window["kind"] == "recurring":
        times = f"{window['cron']} {window['timezone']} for {window['duration_minutes']} min"
    else:
        times = f"{window['start']} to {window['end']}"
    state = f"in force until {window['active_until']}" if window["active"] else f"next {window.get('next_start') or '-'}"
    return f"{window['id']}\t{state}\t{scope}\t{times}\t{window['reason']}"


@click.group()
def maintenance() -> None:
    """Maintenance windows: no pages for the services in scope while one is in force."""


@maintenance.command("add")
@click.argument("reason")
@click.option("--service", "services", multiple=True, metavar="HEARTBEAT_NAME", help="A service in scope (repeatable).")
@click.option("--team", default=None, help="Every service of this team.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Services carrying this label (repeatable: all).")
@click.option("--start", default=None, help="One-off: ISO 8601 start (default now).")
@click.option("--end", default=None, help="One-off: ISO 8601 end.")
@click.option("--for", "duration", default=None, metavar="30m|2h|1d", help="One-off: this long from --start (or now).")
@click.option("--cron", default=None, help='Recurring: when each occurrence starts, e.g. "0 2 * * 0".')
@click.option("--timezone", default=None, help="Recurring: the cron expression's IANA zone (default UTC).")
@click.option("--duration", "duration_minutes", type=int, default=None, help="Recurring: minutes each occurrence lasts.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@api_options
def maintenance_add(reason, services, team, labels, start, end, duration, cron, timezone, duration_minutes, as_json,
                    url, api_key) -> None:
    """Create a maintenance window, for REASON."""
    body: dict[str, Any] = {"reason": reason}
    if services:
        body["services"] = list(services)
    if team:
        body["team"] = team
    if labels:
        body["labels"] = _labels(labels)
    begins, ends = _when(start, "--start"), _when(end, "--end")
    if duration is not None:
        if ends is not None:
            raise click.BadParameter("give --end or --for, not both", param_hint="--for")
        try:
            ends = (begins or datetime.now(tz.utc)) + parse_mute_for(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
    for name, value in (("start", begins), ("end", ends)):
        if value is not None:
            body[name] = value.isoformat()
    for name, value in (("cron", cron), ("timezone", timezone), ("duration_minutes", duration_minutes)):
        if value is not None:
            body[name] = value
    created = call(url, api_key, "POST", "/v2/maintenance", body)["results"]
    if as_json:
        json.dump(created, sys.stdout, indent=2)
        click.echo()
        return
    click.echo(f"maintenance window {created['id']} created")
    click.echo(describe(created))



@maintenance.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@api_options
def maintenance_list(as_json, url, api_key) -> None:
    """List the windows in force or upcoming."""
    found = call(url, api_key, "GET", "/v2/maintenance")["results"]
    if as_json:
        json.dump(found, sys.stdout, indent=2)
        click.echo()
        return
    if not found:
        click.echo("no maintenance windows in force or upcoming")
    for window in found:
        click.echo(describe(window))


@maintenance.command("end")
@click.argument("window_id")
@api_options
def maintenance_end(window_id, url, api_key) -> None:
    """End window WINDOW_ID now (or cancel it if not yet started); services it held that
    are still unhealthy page on the next worker cycle."""
    call(url, api_key, "DELETE", f"/v2/maintenance/{window_id}")
    click.echo(f"maintenance window {window_id} ended")
