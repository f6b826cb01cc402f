"""`medic run` (everything in one process) and `medic serve` (the web API under gunicorn)."""

from __future__ import annotations

import logging
import os
import tempfile
import threading

import click

from medic import __version__
from medic.cli import common
from medic.config import Settings

log = logging.getLogger("medic")


@click.command()
def run() -> None:
    """Web, worker and daily cleanup in one process, on the embedded SQLite default."""
    settings = common.settings(LOG_FORMAT="text", HOST="127.0.0.1", MEDIC_AUTH="disabled")
    if settings.run_one_cpu:
        _keep_to_one_cpu()  # first: the threads started below inherit it
    from medic.store.migrate import upgrade
    from medic.web import create_app
    from medic.web.waitress_server import create_server
    from medic.worker.loop import Worker

    engine = common.engine(settings)
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
    common.stop_on_sigterm(stop)
    log_startup(settings, processes=1)
    thread.start()
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


def _keep_to_one_cpu() -> None:
    """Keep this process's threads on one of the CPUs it may use. One process runs
    Python on one core at a time anyway (the GIL); spread over several, its threads
    hand the GIL from core to core, and `medic run` on two cores fell from 1,700 to
    250 heartbeats/s between 16 and 256 connections (bench/RESULTS.md)."""
    allowed = getattr(os, "sched_getaffinity", lambda _pid: set())(0)
    if len(allowed) > 1:
        os.sched_setaffinity(0, {max(allowed)})


@click.command()
def serve() -> None:
    """The web API under gunicorn (production; several processes)."""
    settings = common.settings(needs_database="serve", MEDIC_AUTH="required")
    log_startup(settings, processes=settings.web_concurrency)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Must be set before prometheus_client is first imported by the app.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="medic-metrics-")
    from medic.web.server import serve as gunicorn_serve

    gunicorn_serve(settings)


def startup_lines(settings: Settings, *, processes: int) -> list[tuple[int, str]]:
    """What `medic run` and `medic serve` log at start, as (level, message): where Medic
    listens, its database (password masked), its channels, and what is left open."""
    from medic.notify import channel_status

    where = f"http://{settings.host}:{settings.port}"
    if processes > 1:
        where += f" with WEB_CONCURRENCY={processes} processes"
    channels = [name for name, configured in channel_status(settings).items() if configured]
    lines = [
        (logging.INFO, f"medic {__version__} listening on {where}"),
        (logging.INFO, f"database: {common.redact(settings.database_url)}"),
        (
            logging.INFO,
            f"channels: {', '.join(channels)}"
            if channels
            else "channels: none configured, so alerts are recorded but not sent "
            "(set PAGERDUTY_ROUTING_KEY, SLACK_API_TOKEN with SLACK_CHANNEL_ID, MEDIC_WEBHOOK_URL, "
            "SMTP_HOST with SMTP_FROM and SMTP_TO, or APPRISE_URL)",
        ),
    ]
    lines.extend(_auth_lines(settings))
    if settings.rate_limit_enabled and not settings.redis_url and processes > 1:
        lines.append(
            (
                logging.WARNING,
                f"rate limits are counted per web process without REDIS_URL: {processes} processes together "
                f"allow up to {processes}x MEDIC_RATE_LIMIT_HEARTBEAT ({settings.rate_limit_heartbeat}) and "
                f"MEDIC_RATE_LIMIT_API ({settings.rate_limit_api}); set REDIS_URL to share one count",
            )
        )
    return lines


def log_startup(settings: Settings, *, processes: int) -> None:
    for level, message in startup_lines(settings, processes=processes):
        log.log(level, "%s", message)


def _auth_lines(settings: Settings) -> list[tuple[int, str]]:
    if settings.auth == "required":
        if settings.admin_api_key is None:
            return [(logging.INFO, "API keys required; create one with `medic key create --name NAME --scopes ...`")]
        return [(logging.INFO, "API keys required")]
    where = "anyone on this machine" if settings.host in ("127.0.0.1", "localhost", "::1") else f"EVERYONE WHO CAN REACH {settings.host}"
    return [
        (
            logging.WARNING,
            f"AUTHENTICATION IS DISABLED (MEDIC_AUTH=disabled): {where} can register, mute and deactivate services. "
            "Set MEDIC_AUTH=required and create keys with `medic key create` before exposing Medic.",
        )
    ]
