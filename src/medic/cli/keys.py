"""`medic key create|list|revoke`: API keys are managed from the command line only."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

import click

from medic.auth import manage, scopes
from medic.cli import common

log = logging.getLogger("medic.auth")

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _expiry(expires_in: str | None, expires_at: str | None, now: datetime) -> datetime | None:
    if expires_in and expires_at:
        raise click.UsageError("give --expires-in or --expires-at, not both")
    if expires_in:
        match = _DURATION.match(expires_in.strip().lower())
        if not match or int(match.group(1)) == 0:
            raise click.BadParameter("expected a positive number with a unit: 30m, 12h, 90d, 4w", param_hint="--expires-in")
        return now + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if expires_at:
        try:
            when = datetime.fromisoformat(expires_at.strip().replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter("expected an ISO 8601 time, e.g. 2027-01-31T00:00:00Z", param_hint="--expires-at") from None
        return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    return None


def _open():
    return common.engine(common.settings())


def _run(action):
    try:
        return action()
    except manage.KeyManagementError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # most often: the database was never migrated
        log.debug("key command failed", exc_info=True)
        raise click.ClickException(f"{type(exc).__name__}: is the database reachable and migrated (`medic db upgrade`)?") from None


@click.group()
def key() -> None:
    """API keys (scopes: heartbeat, read, write, admin)."""


@key.command("create")
@click.option("--name", required=True, help="Who or what uses the key, e.g. ci or billing-cron.")
@click.option(
    "--scopes",
    "scope_names",
    required=True,
    multiple=True,
    help="Comma-separated: heartbeat (send heartbeats only), read (GET), write (register/update; implies read and heartbeat), admin (everything).",
)
@click.option("--expires-in", default=None, help="Lifetime, e.g. 90d, 12h, 4w.")
@click.option("--expires-at", default=None, help="Expiry as ISO 8601 UTC, e.g. 2027-01-31T00:00:00Z.")
def key_create(name: str, scope_names: tuple[str, ...], expires_in: str | None, expires_at: str | None) -> None:
    """Create a key and print it. It is shown only this once: only its digest is stored."""
    now = datetime.now(timezone.utc)
    expiry = _expiry(expires_in, expires_at, now)
    engine = _open()
    try:
        created = _run(lambda: manage.create_key(engine, name, scope_names, now, expiry))
    finally:
        engine.dispose()
    row = created.row
    click.echo(created.key)
    details = f"id {row.public_id}, name {row.name}, scopes {row.scopes.replace(' ', ',')}"
    details += f", expires {row.expires_at.isoformat()}" if row.expires_at else ", no expiry"
    click.echo(f"created key {details}. Store it now: it cannot be shown again.", err=True)


@key.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
def key_list(include_revoked: bool) -> None:
    """List keys (never their secrets)."""
    engine = _open()
    try:
        rows = _run(lambda: manage.list_keys(engine, include_revoked))
    finally:
        engine.dispose()
    now = datetime.now(timezone.utc)
    header = ("ID", "NAME", "SCOPES", "STATUS", "CREATED", "EXPIRES", "LAST USED")
    table = [header] + [
        (
            row.public_id,
            row.name,
            row.scopes.replace(" ", ","),
            manage.status(row, now),
            _when(row.created_at),
            _when(row.expires_at),
            _when(row.last_used_at),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    if not rows:
        click.echo("no keys yet: medic key create --name NAME --scopes " + ",".join(scopes.SCOPES[:1]), err=True)


@key.command("revoke")
@click.argument("ident")
def key_revoke(ident: str) -> None:
    """Revoke a key by its id (as shown by `medic key list`) or its name."""
    engine = _open()
    try:
        row = _run(lambda: manage.revoke_key(engine, ident, datetime.now(timezone.utc)))
    finally:
        engine.dispose()
    click.echo(f"revoked key {row.public_id} ({row.name})")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%MZ") if value else "-"
