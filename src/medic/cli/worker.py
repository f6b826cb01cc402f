"""`medic worker`, `medic cleanup` and `medic probe worker`."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

import click

from medic.cli import common

log = logging.getLogger("medic")


@click.command()
@click.option("--once", is_flag=True, help="Run exactly one cycle and exit (non-zero on failure).")
def worker(once: bool) -> None:
    """Evaluate services, deliver notifications, run the daily cleanup."""
    settings = common.settings(needs_database="worker")
    from medic.worker.loop import Worker

    engine = common.engine(settings)
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


@click.command()
def cleanup() -> None:
    """Delete heartbeats and delivered notifications older than HEARTBEAT_RETENTION_DAYS."""
    settings = common.settings()
    from medic.worker.cleanup import run_cleanup

    engine = common.engine(settings)
    try:
        deleted = run_cleanup(engine, settings)
    except Exception as exc:
        log.exception("cleanup failed")
        raise click.ClickException(f"cleanup failed: {type(exc).__name__}: {exc}") from None
    finally:
        engine.dispose()
    click.echo(", ".join(f"{table}: {count} deleted" for table, count in deleted.items()))


@click.group()
def probe() -> None:
    """Exec probes for orchestrators."""


@probe.command("worker")
@click.option("--max-age", type=float, default=None, help="Seconds; default 4 x WORKER_INTERVAL_SECONDS, at least 60.")
def probe_worker(max_age: float | None) -> None:
    """Exit 0 when the worker completed a cycle recently (reads its liveness file)."""
    settings = common.settings()
    path = Path(settings.worker_liveness_file)
    limit = max_age if max_age is not None else max(4 * settings.worker_interval_seconds, 60)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        raise click.ClickException(f"no completed worker cycle yet ({path} missing)") from None
    if age > limit:
        raise click.ClickException(f"worker stalled: last cycle {age:.0f}s ago (limit {limit:.0f}s)")
    click.echo(f"worker ok: last cycle {age:.1f}s ago")
