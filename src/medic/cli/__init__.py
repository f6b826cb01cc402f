"""The `medic` command: one module per command group.

- ``server``: `medic run` and `medic serve`
- ``worker``: `medic worker`, `medic cleanup`, `medic probe worker`
- ``db``: `medic db upgrade|current`
- ``keys``: `medic key create|list|revoke`
- ``heartbeat`` and ``jobs``: `medic heartbeat` and `medic job`, HTTP clients of a
  Medic server for cron users, sharing ``http_client``
- ``routes``: `medic route add|list|remove`, an HTTP client of the routes API
- ``apply``: `medic apply`, `medic export` and `medic schema`, configuration as code
  over the HTTP API (the model, plan and HTTP source/sink live in ``medic.declarative``)
- ``maintenance``: `medic maintenance add|list|end`, an HTTP client of the maintenance API
- ``imports``: `medic import crontab|cronjob|healthchecks|medic` (parsers in ``medic.importers``)

``common`` holds what the database commands share (settings, logging, the engine).
Nothing here imports this package back, so there is no import cycle.
"""

from __future__ import annotations

import logging
import sys

import click

from medic.cli import apply, db, heartbeat, imports, jobs, keys, maintenance, routes, server, worker


class _Commands(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # A database command that cannot reach or use the database: one line saying
            # so, not an uncaught exception. SQLAlchemy is imported only if a command
            # did: `medic heartbeat` from cron stays quick to start.
            errors = sys.modules.get("sqlalchemy.exc")
            if errors is None or not isinstance(exc, errors.SQLAlchemyError):
                raise
            from medic.store.errors import describe_db_error

            logging.getLogger("medic").error("medic %s: database error: %s", ctx.invoked_subcommand, describe_db_error(exc))
            ctx.exit(1)


@click.group(cls=_Commands)
def main() -> None:
    """Medic: heartbeat monitoring with PagerDuty and Slack alerting."""


main.add_command(server.run)
main.add_command(server.serve)
main.add_command(worker.worker)
main.add_command(worker.cleanup)
main.add_command(db.db)
main.add_command(keys.key)
main.add_command(worker.probe)
main.add_command(heartbeat.heartbeat)  # HTTP client commands for cron users
main.add_command(jobs.job)
main.add_command(routes.route)
main.add_command(apply.apply)  # configuration as code
main.add_command(apply.export)
main.add_command(apply.schema)
main.add_command(maintenance.maintenance)
main.add_command(imports.import_group)  # crontab, CronJob, Healthchecks, the original Medic
