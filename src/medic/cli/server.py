"""`medic run` (everything in one process) and `medic serve` (the web API under gunicorn)."""

from __future__ import annotations

import logging
import os
import tempfile
import threading

import click

from medic.cli import common
from medic.config import Settings

log = logging.getLogger("medic")


@click.command()
def run() -> None:
    """Web, worker and daily cleanup in one process, on the embedded SQLite default."""
    settings = common.settings(LOG_FORMAT="text", HOST="127.0.0.1", MEDIC_AUTH="disabled")
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
    thread.start()
    log.info("medic serving on http://%s:%s (database %s)", settings.host, settings.port, common.redact(settings.database_url))
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


@click.command()
def serve() -> None:
    """The web API under gunicorn (production; several processes)."""
    settings = common.settings(needs_database="serve", MEDIC_AUTH="required")
    _warn_if_open(settings)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Must be set before prometheus_client is first imported by the app.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="medic-metrics-")
    from medic.web.server import serve as gunicorn_serve

    gunicorn_serve(settings)


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
