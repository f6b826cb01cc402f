"""`medic apply`, `medic export` and `medic schema`: Medic configured from files
(docs/config-as-code.md).

HTTP clients of a Medic server (``medic.cli.http_client``), like `medic job`: they
never open the database, so they work against any deployment an API key reaches.
The files are validated whole before the server is asked anything.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from medic.cli.http_client import Unsent, client, connection_options, request


def api_caller(session, retries: int):
    def call(method: str, path: str, body=None):
        # Only reads are retried: a create whose reply was lost must not be sent twice.
        return request(session, method, path, body, retries if method == "GET" else 0)

    return call


@click.command("apply")
@click.option("-f", "--file", "paths", multiple=True, required=True, type=click.Path(),
              help="A YAML file, or a folder of *.yaml and *.yml files (repeatable).")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--prune", is_flag=True, help="Deactivate services and remove routes and maintenance windows the files leave out.")
@connection_options
def apply(paths, dry_run, prune, url, api_key, timeout, retries) -> None:
    """Make Medic match the files: create, update and (with --prune) deactivate or remove.

    The files are validated whole first: any problem, and nothing is applied. Reads are
    retried (--retries); a change is sent once."""
    from medic.declarative import loader, plan as planning, remote

    try:
        document = loader.load(list(paths))
    except loader.Invalid as exc:
        for problem in exc.problems:
            click.echo(f"medic apply: {problem}", err=True)
        raise click.ClickException(f"nothing applied: {len(exc.problems)} problem(s) in the configuration")
    if prune and not (document.services or document.routes or document.maintenance):
        # An empty file (or a wrong one) must not switch a whole fleet off.
        raise click.ClickException("nothing applied: the files define no services, routes or maintenance windows, "
                                   "and --prune would deactivate or remove everything")
    with client(url, api_key, timeout) as session:
        call = api_caller(session, retries)
        try:
            state = remote.read_state(call)
        except Unsent as exc:
            raise click.ClickException(f"cannot read the current state: {exc}") from None
        plan = planning.make_plan(document, state, prune=prune, now=datetime.now(timezone.utc))
        if plan.problems:
            for problem in plan.problems:
                click.echo(f"medic apply: {problem}", err=True)
            raise click.ClickException(f"nothing applied: {len(plan.problems)} problem(s)")
        if not carry_out(plan, call, dry_run):
            click.echo(f"dry run, nothing changed: {planning.summary(plan)}")
            return
    click.echo(planning.summary(plan, done=True))


def carry_out(plan, call, dry_run: bool) -> bool:
    """Print the plan's changes and, unless ``dry_run``, send them in order, printing
    each as it is made; a change the server refuses stops the rest. Whether it sent."""
    from medic.declarative import plan as planning, remote

    for change in plan.changes:
        if dry_run or not change.calls:
            click.echo("\n".join(planning.describe(change)))
    if dry_run:
        return False
    made = []

    def done(change):
        made.append(change)
        click.echo("\n".join(planning.describe(change, done=True)))

    try:
        remote.execute(plan, call, done)
    except Unsent as exc:
        failed = plan.pending[len(made)]
        raise click.ClickException(
            f"{failed.kind} {failed.key}: {exc}; stopped after {len(made)} of {len(plan.pending)} change(s)"
        ) from None
    return True


@click.command("export")
@click.option("-o", "--output", type=click.File("w"), default="-", help="Write here instead of stdout.")
@connection_options
def export(output, url, api_key, timeout, retries) -> None:
    """Write Medic's services, routes and maintenance windows as a file `medic apply` reads."""
    import yaml

    from medic.declarative import plan as planning, remote

    with client(url, api_key, timeout) as session:
        try:
            state = remote.read_state(api_caller(session, retries))
        except Unsent as exc:
            raise click.ClickException(f"cannot read the current state: {exc}") from None
    content = planning.exported(state)
    output.write("# medic export: apply with `medic apply -f FILE` (docs/config-as-code.md)\n")
    yaml.safe_dump(content, output, sort_keys=False, allow_unicode=True, default_flow_style=False)
    for route in content["routes"]:
        if planning.stored_secrets(route):
            click.echo(f"medic export: route '{route['name']}' holds secrets stored on the server; "
                       "they are written as {stored: true} and kept as they are", err=True)


@click.command("schema")
def schema() -> None:
    """Print the JSON Schema of the configuration file (docs/medic.schema.json)."""
    from medic.declarative.document import json_schema_text

    sys.stdout.write(json_schema_text())

