"""The `medic` command."""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

from medic import jobs_cli
from medic.auth.cli import key
from medic.config import DATABASE_VARIABLES, ConfigError, Settings, config_warnings, database_configured, load_settings

log = logging.getLogger("medic")


def _settings(*, needs_database: str | None = None, **defaults: str) -> Settings:
    """Settings from the environment; ``defaults`` apply only where a variable is unset.

    ``needs_database`` names a command that refuses the implicit SQLite default:
    `medic serve` and `medic worker` each opening their own ./medic.db would
    monitor nothing together.
    """
    try:
        settings = load_settings(os.environ, defaults=defaults)
    except ConfigError as exc:
        click.echo(f"medic: {exc}", err=True)
        sys.exit(2)
    if needs_database and not database_configured(os.environ):
        click.echo(
            f"medic {needs_database}: no database configured; set {DATABASE_VARIABLES}. "
            "Only `medic run` defaults to a local SQLite file.",
            err=True,
        )
        sys.exit(2)
    from medic.logs import configure

    configure(settings.log_level, settings.log_format)
    for warning in config_warnings(os.environ):
        log.warning("%s", warning)
    return settings


def _engine(settings: Settings):
    from medic.store.engine import make_engine

    return make_engine(settings.database_url)


def _stop_on_sigterm(stop: threading.Event | None = None) -> None:
    def handler(signum, _frame):
        if stop is not None:
            stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@click.group()
def main() -> None:
    """Medic: heartbeat monitoring with PagerDuty and Slack alerting."""


@main.command()
def run() -> None:
    """Web, worker and daily cleanup in one process, on the embedded SQLite default."""
    settings = _settings(LOG_FORMAT="text", HOST="127.0.0.1", MEDIC_AUTH="disabled")
    from medic.store.migrate import upgrade
    from medic.web import create_app
    from medic.web.waitress_server import create_server
    from medic.worker.loop import Worker

    engine = _engine(settings)
    upgrade(engine)
    app = create_app(settings, engine=engine)
    stop = threading.Event()
    worker = Worker(settings, engine, liveness_file=settings.worker_liveness_file)
    thread = threading.Thread(target=worker.run_forever, args=(stop,), name="medic-worker", daemon=True)
    server = create_server(
        app,
        max_body_bytes=settings.max_body_bytes,
        host=settings.host,
        port=settings.port,
        threads=settings.web_threads,
        ident="medic",
    )
    _stop_on_sigterm(stop)
    thread.start()
    log.info("medic serving on http://%s:%s (database %s)", settings.host, settings.port, _redact(settings.database_url))
    _warn_if_open(settings)
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("shutting down")
    finally:
        stop.set()
        server.close()
        thread.join(timeout=30)
        app.extensions["medic"].ingest.close()
        engine.dispose()


@main.command()
def serve() -> None:
    """The web API under gunicorn (production; several processes)."""
    settings = _settings(needs_database="serve", MEDIC_AUTH="required")
    _warn_if_open(settings)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Must be set before prometheus_client is first imported by the app.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="medic-metrics-")
    from medic.web.server import serve as gunicorn_serve

    gunicorn_serve(settings)


@main.command()
@click.option("--once", is_flag=True, help="Run exactly one cycle and exit (non-zero on failure).")
def worker(once: bool) -> None:
    """Evaluate services, deliver notifications, run the daily cleanup."""
    settings = _settings(needs_database="worker")
    from medic.worker.loop import Worker

    engine = _engine(settings)
    runner = Worker(settings, engine, liveness_file=settings.worker_liveness_file)
    if once:
        try:
            runner.run_once()
        except Exception as exc:
            log.exception("worker cycle failed")
            raise click.ClickException(f"worker cycle failed: {type(exc).__name__}") from None
        return
    if settings.worker_metrics_port:
        from medic.metrics import serve_worker_metrics

        serve_worker_metrics(settings.worker_metrics_port)
        log.info("worker metrics on :%d/metrics", settings.worker_metrics_port)
    stop = threading.Event()
    # Only ask the loop to stop: it then lets in-flight deliveries record their
    # outcome, instead of leaving claimed rows to expire and be sent again.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        runner.run_forever(stop)
    finally:
        engine.dispose()


@main.command()
def cleanup() -> None:
    """Delete heartbeats and delivered notifications older than HEARTBEAT_RETENTION_DAYS."""
    settings = _settings()
    from medic.worker.cleanup import run_cleanup

    engine = _engine(settings)
    try:
        deleted = run_cleanup(engine, settings)
    except Exception as exc:
        log.exception("cleanup failed")
        raise click.ClickException(f"cleanup failed: {type(exc).__name__}: {exc}") from None
    finally:
        engine.dispose()
    click.echo(", ".join(f"{table}: {count} deleted" for table, count in deleted.items()))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations."""
    settings = _settings()
    from medic.store.migrate import current_revision, upgrade

    engine = _engine(settings)
    upgrade(engine, revision)
    click.echo(f"database at revision {current_revision(engine)}")


@db.command("current")
def db_current() -> None:
    """Print the schema revision."""
    settings = _settings()
    from medic.store.migrate import current_revision

    click.echo(current_revision(_engine(settings)) or "empty")


main.add_command(key)


@main.group()
def probe() -> None:
    """Exec probes for orchestrators."""


@probe.command("worker")
@click.option("--max-age", type=float, default=None, help="Seconds; default 4 x WORKER_INTERVAL_SECONDS, at least 60.")
def probe_worker(max_age: float | None) -> None:
    """Exit 0 when the worker completed a cycle recently (reads its liveness file)."""
    settings = _settings()
    path = Path(settings.worker_liveness_file)
    limit = max_age if max_age is not None else max(4 * settings.worker_interval_seconds, 60)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        raise click.ClickException(f"no completed worker cycle yet ({path} missing)") from None
    if age > limit:
        raise click.ClickException(f"worker stalled: last cycle {age:.0f}s ago (limit {limit:.0f}s)")
    click.echo(f"worker ok: last cycle {age:.1f}s ago")


main.add_command(jobs_cli.heartbeat)  # HTTP client commands for cron users
main.add_command(jobs_cli.job)


def _warn_if_open(settings: Settings) -> None:
    if settings.auth == "required":
        if settings.admin_api_key is None:
            log.info("API keys required; create one with `medic key create --name NAME --scopes ...`")
        return
    where = "this machine only" if settings.host in ("127.0.0.1", "localhost", "::1") else f"EVERYONE WHO CAN REACH {settings.host}"
    log.warning(
        "AUTHENTICATION IS DISABLED (MEDIC_AUTH=disabled): %s can register, mute and deactivate services. "
        "Set MEDIC_AUTH=required and create keys with `medic key create` before exposing Medic.",
        where,
    )


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
