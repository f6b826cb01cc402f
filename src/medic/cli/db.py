"""`medic db upgrade|current`: the database schema."""

from __future__ import annotations

import click

from medic.cli import common


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations."""
    settings = common.settings()
    from medic.store.migrate import current_revision, upgrade

    engine = common.engine(settings)
    upgrade(engine, revision)
    click.echo(f"database at revision {current_revision(engine)}")


@db.command("current")
def db_current() -> None:
    """Print the schema revision."""
    settings = common.settings()
    from medic.store.migrate import current_revision

    click.echo(current_revision(common.engine(settings)) or "empty")
