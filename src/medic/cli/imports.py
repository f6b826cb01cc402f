"""`medic import crontab|cronjob|healthchecks|medic`: services from the tools teams come
from (docs/migrating.md).

The crontab, CronJob and Healthchecks importers are HTTP clients of a Medic server, like
`medic apply`: the parsed entries (medic.importers) become a configuration document,
planned against the server's services and applied through the same calls, so
``--dry-run`` prints the plan and a second run changes nothing. The original Medic's
importer writes to Medic's database instead (heartbeats and open alerts have no API).
"""

from __future__ import annotations

from pathlib import Path

import click

from medic.cli.apply import api_caller, carry_out
from medic.cli.http_client import Unsent, client, connection_options

GRACE = 900  # seconds a cron entry's run may end after its slot, for services an import creates


@click.group("import")
def import_group() -> None:
    """Create services from crontabs, CronJobs, Healthchecks or the original Medic."""


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _defaults(team: str | None, grace: int | None) -> dict:
    defaults: dict = {}
    if team:
        defaults["team"] = team
    if grace is not None:
        defaults["schedule"] = {"grace": grace}
    return defaults


def _prefix(ctx, param, value: str) -> str:
    import re

    from medic.web.schemas import NAME_PATTERN

    if value and not re.match(NAME_PATTERN, value):
        raise click.BadParameter("a name's start: letters, digits and . _ : / @ -, beginning with a letter or digit")
    return value


def import_options(func):
    func = click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")(func)
    func = click.option("--team", default=None, help="Team of the services the import creates.")(func)
    func = click.option("--prefix", default="", callback=_prefix,
                        help="Put before every service name (e.g. the host: web1-).")(func)
    return connection_options(func)


def send(parsed, defaults: dict, dry_run: bool, url: str, api_key: str | None, timeout: float, retries: int,
         wrap_heading: str | None = None) -> None:
    """Plan the parsed entries against the server's services and apply them (or print the plan)."""
    from medic.declarative import plan as planning, remote
    from medic.importers.entries import desired

    for note in parsed.notes:
        click.echo(f"note: {note}")
    with client(url, api_key, timeout) as session:
        call = api_caller(session, retries)
        try:
            current = remote.read_services(call)
        except Unsent as exc:
            raise click.ClickException(f"cannot read Medic's services: {exc}") from None
        document, refused = desired(parsed, current, defaults)
        for note in refused:
            click.echo(f"note: {note}")
        plan = planning.make_plan(document, planning.State(services=current, routes=[], maintenance=[]))
        plan.changes = [c for c in plan.changes if c.action != planning.LEAVE]  # services not in this import
        carry_out(plan, call, dry_run)
    imported = {service.heartbeat_name.lower() for service in document.services}
    wrapped = [entry for entry in parsed.entries if entry.wrapped and entry.name.lower() in imported]
    if wrap_heading and wrapped:
        click.echo(f"\n{wrap_heading}")
        for entry in wrapped:
            click.echo(f"  {entry.origin}\n    {entry.wrapped}")
    if not plan.changes:
        click.echo("nothing to import")
    elif dry_run:
        click.echo(f"\ndry run, nothing changed: {planning.summary(plan)}")
    else:
        click.echo(f"\n{planning.summary(plan, done=True)}")


@import_group.command("crontab")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--system/--user", "system", default=None,
              help="Lines have a user field (/etc/crontab, /etc/cron.d/*); default: by the file's path.")
@click.option("--grace", type=click.IntRange(0, 31536000), default=GRACE, show_default=True,
              help="Seconds after its slot a run may still finish, for the services created.")
@import_options
def crontab(files, system, grace, prefix, team, dry_run, url, api_key, timeout, retries) -> None:
    """A cron service for each entry of the crontab FILES, and each entry's line wrapped
    with `medic job NAME -- ...` to paste back.

        medic import crontab /etc/crontab backups.crontab --dry-run
    """
    from medic.importers import crontab as parsing
    from medic.importers.entries import Parsed

    parsed = Parsed()
    for path in files:
        one = parsing.parse_crontab(_read(path), path, prefix=prefix,
                                    system=parsing.is_system_crontab(path) if system is None else system)
        parsed.entries += one.entries
        parsed.notes += one.notes
    _one_name_each(parsed)
    send(parsed, _defaults(team, grace), dry_run, url, api_key, timeout, retries,
         "Replace each line with this one, so its runs report to Medic (docs/jobs.md):")


@import_group.command("cronjob")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--grace", type=click.IntRange(0, 31536000), default=GRACE, show_default=True,
              help="Seconds after its slot a run may still finish, for the services created.")
@import_options
def cronjob(files, grace, prefix, team, dry_run, url, api_key, timeout, retries) -> None:
    """A cron service for each Kubernetes CronJob in the manifest FILES (multi-document
    YAML), and each one's container command wrapped with `medic job NAME -- ...`.

        medic import cronjob k8s/cronjobs.yaml --prefix prod- --dry-run
    """
    from medic.importers import crontab as parsing
    from medic.importers.entries import Parsed

    parsed = Parsed()
    for path in files:
        try:
            one = parsing.parse_cronjobs(_read(path), path, prefix=prefix)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        parsed.entries += one.entries
        parsed.notes += one.notes
    _one_name_each(parsed)
    send(parsed, _defaults(team, grace), dry_run, url, api_key, timeout, retries,
         "Set each container's command to this one, so its runs report to Medic (docs/jobs.md):")


def _one_name_each(parsed) -> None:
    """Across files, a name found twice is imported once, from its first place."""
    seen: dict[str, str] = {}
    kept = []
    for entry in parsed.entries:
        first = seen.setdefault(entry.name.lower(), entry.origin)
        if first != entry.origin:
            parsed.notes.append(f"{entry.origin}: skipped: {entry.name!r} is already imported from {first}")
            continue
        kept.append(entry)
    parsed.entries[:] = kept


@import_group.command("healthchecks")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--from", "source", default=None, metavar="URL",
              help="Fetch the listing from this Healthchecks (https://healthchecks.io, or a self-hosted one) instead of FILE.")
@click.option("--healthchecks-api-key", envvar="HEALTHCHECKS_API_KEY", show_envvar=True, default=None,
              help="The project's API key (a read-only key is enough), with --from.")
@import_options
def healthchecks(file, source, healthchecks_api_key, prefix, team, dry_run, url, api_key, timeout, retries) -> None:
    """A service for each check of a Healthchecks project: FILE is the JSON of its
    API v3 listing (GET /api/v3/checks/), or --from fetches it.

        curl -H "X-Api-Key: $KEY" https://healthchecks.io/api/v3/checks/ > checks.json
        medic import healthchecks checks.json --dry-run
    """
    import json

    from medic.importers import healthchecks as parsing

    if (file is None) == (source is None):
        raise click.UsageError("give either FILE or --from URL")
    if source is not None:
        text, where = _fetch_checks(source, healthchecks_api_key, timeout), source
    else:
        text, where = _read(file), file
    try:
        parsed = parsing.parse(json.loads(text), prefix=prefix)
    except ValueError as exc:  # json.JSONDecodeError included
        raise click.ClickException(f"{where}: not a Healthchecks checks listing: {exc}") from None
    except RecursionError:  # nested deeper than the JSON decoder (or the parser) follows
        raise click.ClickException(f"{where}: not a Healthchecks checks listing: nested too deeply") from None
    send(parsed, _defaults(team, None), dry_run, url, api_key, timeout, retries)


def _fetch_checks(source: str, key: str | None, timeout: float) -> str:
    import httpx

    if not key:
        raise click.UsageError("--from needs --healthchecks-api-key (or HEALTHCHECKS_API_KEY)")
    listing = source.rstrip("/")
    if not listing.endswith("/api/v3/checks"):
        listing += "/api/v3/checks"
    try:
        response = httpx.get(listing + "/", headers={"X-Api-Key": key, "Accept": "application/json"}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {listing}/: {str(exc) or type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise click.ClickException(f"{listing}/ refused the API key (HTTP {response.status_code})")
    if not response.is_success:
        raise click.ClickException(f"{listing}/ answered HTTP {response.status_code}")
    return response.text


@import_group.command("medic")
@click.option("--from", "source", required=True, metavar="POSTGRESQL_URL",
              help="The original Medic's database (postgresql://user:pass@host/db); read only.")
@click.option("--dry-run", is_flag=True, help="Print what would be imported; write nothing.")
def import_medic(source, dry_run) -> None:
    """Services of the original Medic (linq-team/medic), with their heartbeats within
    HEARTBEAT_RETENTION_DAYS and their open alerts, into Medic's database
    (MEDIC_DATABASE_URL). Services Medic already has are left as they are.

        medic import medic --from postgresql://medic@old-db/medic --dry-run
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from medic.cli import common
    from medic.clock import utcnow
    from medic.store.engine import make_engine, normalise_url

    try:
        backend = make_url(normalise_url(source)).get_backend_name()
    except ArgumentError:
        backend = None
    if backend != "postgresql":
        raise click.BadParameter("the original Medic's database: a postgresql://user:password@host/db URL", param_hint="--from")
    settings = common.settings(needs_database="import medic")
    target = common.engine(settings)
    origin = make_engine(source, pool_size=1)
    try:
        import_original(origin, target, utcnow(), settings.heartbeat_retention_days, dry_run, click.echo)
    finally:
        origin.dispose()
        target.dispose()


def import_original(origin, target, now, retention_days: int, dry_run: bool, echo) -> tuple[int, int]:
    """Bring the original's services into Medic, each in a transaction of its own, so an
    interrupted import resumes where it stopped. Returns (created, already in Medic)."""
    from datetime import timedelta

    from sqlalchemy.exc import DBAPIError

    from medic.importers import medic as mapping
    from medic.store import original_medic, original_import, services as service_queries

    since = now - timedelta(days=retention_days)
    try:
        with origin.connect() as conn:
            rows = original_medic.read_services(conn)
            open_alerts = original_medic.read_open_alerts(conn)
    except original_medic.NotOriginal as exc:
        raise click.ClickException(str(exc)) from None
    except DBAPIError as exc:
        raise click.ClickException(f"cannot read the original database: {_first_line(exc)}") from None
    created = existing = 0
    seen: set[str] = set()
    for row in rows:
        imported, notes = mapping.service(row, open_alerts.get(row["service_id"]))
        for note in notes:
            echo(f"note: {note}")
        if imported is None:
            continue
        name = imported.heartbeat_name
        if name.lower() in seen:
            echo(f"note: service {name!r}: skipped: its name differs only in case from one imported above")
            continue
        seen.add(name.lower())
        with origin.connect() as conn:
            beats = [{"time": b["time"], "status": status} for b in original_medic.read_heartbeats(conn, row["service_id"], since)
                     if (status := mapping.heartbeat_status(b["status"]))]
        alert = f", open alert (PagerDuty dedup key {imported.alert['external_reference_id']})" if imported.alert else ""
        what = f"{len(beats)} heartbeat(s){alert}"
        try:
            if dry_run:
                with target.connect() as conn:
                    there = service_queries.get_by_name(conn, name) is not None
            else:
                with target.begin() as conn:
                    there = not original_import.add(conn, imported, beats, now)
        except DBAPIError as exc:
            raise click.ClickException(f"service {name}: Medic's database refused it ({_first_line(exc)}; is it at the "
                                       f"latest revision? `medic db upgrade`); stopped after {created} created") from None
        if there:
            existing += 1
            echo(f"= service {name}: already in Medic, left as it is")
        else:
            created += 1
            echo(f"+ service {name}: {'create' if dry_run else 'created'} with {what}")
    verb = "to create" if dry_run else "created"
    summary = f"{created} {verb}, {existing} already in Medic" if created or existing else "nothing to import"
    echo(f"\n{'dry run, nothing changed: ' if dry_run else ''}{summary}")
    return created, existing


def _first_line(exc) -> str:
    """The driver's own message (psycopg names the host or the problem, never the password)."""
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
