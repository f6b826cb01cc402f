"""`medic heartbeat`: send one heartbeat to a Medic server (``medic.cli.http_client``)."""

from __future__ import annotations

import click

from medic.cli.http_client import Unsent, client, connection_options, post


@click.command("heartbeat")
@click.argument("name")
@click.option(
    "--status", type=click.Choice(["UP", "DOWN", "DEGRADED"], case_sensitive=False), default="UP", show_default=True
)
@connection_options
def heartbeat(name: str, status: str, url: str, api_key: str | None, timeout: float, retries: int) -> None:
    """Send one heartbeat for NAME (exit 1 when Medic did not store it)."""
    with client(url, api_key, timeout) as session:
        try:
            post(session, "/heartbeat", {"heartbeat_name": name, "status": status.upper()}, retries)
        except Unsent as exc:
            raise click.ClickException(f"heartbeat {name!r} not stored: {exc}") from None
