"""Ingest: wrk POSTing heartbeats spread over 1,000 services; stored rows counted in the database.

PostgreSQL: `medic serve` (gunicorn, as deployed) and the baseline Flask app side by side,
their runs interleaved. SQLite: `medic run` (waitress + worker thread, one process).
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from bench import common, seed
from bench.baseline import SCHEMA

SERVICES = 1000
MEDIC_DB = "medic_bench"
BASELINE_DB = "medic_bench_baseline"


def _measure(server: common.Server, count_rows, *, connections: int, seconds: int, database: str | None,
             **wrk_options) -> dict:
    before = count_rows()
    with common.CpuMeter(server, database) as cpu:
        result = common.wrk(server.url, connections=connections, seconds=seconds, services=SERVICES, **wrk_options)
        time.sleep(0.5)  # let the last in-flight requests finish before counting
    stored = count_rows() - before
    result.update(
        connections=connections,
        stored=stored,
        stored_per_s=stored / (result["duration_us"] / 1e6),
        # Every answered 2xx must be a stored row; rows may exceed answers by the requests
        # still in flight when wrk stopped counting.
        all_answers_stored=stored >= result["requests"] - result["errors"],
        unanswered_stored=stored - (result["requests"] - result["errors"]),
        # CPU per stored heartbeat: robust to other load on a shared machine, unlike req/s.
        cpu_seconds=cpu.seconds,
        cpu_ms_per_stored={name: 1000 * secs / max(stored, 1) for name, secs in cpu.seconds.items()},
    )
    return result


def _report(r: dict) -> None:
    common.log(
        f"  {r['rps']:.0f} req/s, stored {r['stored_per_s']:.0f}/s, p50 {r['p50_us']/1000:.1f} ms,"
        f" p99 {r['p99_us']/1000:.1f} ms, errors {r['errors']}, CPU ms/heartbeat "
        + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms_per_stored"].items())
    )


def _warm(server: common.Server, seconds: int) -> None:
    common.wrk(server.url, connections=16, seconds=seconds, services=SERVICES)


def databases() -> tuple[str, str]:
    """Fresh PostgreSQL databases for Medic (1,000 services) and the baseline."""
    medic_url = common.recreate_database(MEDIC_DB)
    seed.migrate(medic_url)
    seed.seed_services(medic_url, SERVICES, datetime.now(timezone.utc))
    base_url = common.recreate_database(BASELINE_DB)
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    return medic_url, base_url


def medic_rows(url: str) -> int:
    return common.pg_scalar(url, "SELECT count(*) FROM heartbeat_events")


def baseline_rows(url: str) -> int:
    return common.pg_scalar(url, "SELECT count(*) FROM baseline_heartbeats")


def postgres(*, runs: int, seconds: int, warm_seconds: int = 2, connections=(16, 64)) -> dict:
    medic_url, base_url = databases()

    def medic_rows_now():
        return medic_rows(medic_url)

    def base_rows():
        return baseline_rows(base_url)

    # One server at a time: together they would exceed PostgreSQL's max_connections (100).
    targets = {
        "medic": (lambda: common.start_medic_serve(medic_url), medic_rows_now, MEDIC_DB),
        "baseline": (lambda: common.start_baseline(base_url), base_rows, BASELINE_DB),
        # For reference only (the ratio is against the baseline above, under Medic's settings).
        "baseline-sync": (lambda: common.start_baseline(base_url, "baseline-sync", common.SYNC_WORKERS),
                          base_rows, BASELINE_DB),
    }
    out: dict = {name: {str(c): [] for c in connections} for name in targets}
    argv = {}
    for run in range(runs):
        for name, (start, rows, database) in targets.items():
            server = start()
            argv[name] = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(server.proc.args))
            try:
                server.wait_ready()
                _warm(server, warm_seconds)
                for c in connections:
                    common.log(f"ingest postgres {name} c={c} run {run + 1}/{runs}")
                    r = _measure(server, rows, connections=c, seconds=seconds, database=database)
                    _report(r)
                    out[name][str(c)].append(r)
            finally:
                server.stop()
    out["settings"] = {
        "services": SERVICES, "seconds": seconds, "runs": runs,
        "web_worker_class": common.WEB_WORKER_CLASS, "web_concurrency": common.WEB_CONCURRENCY,
        "web_connections": common.WEB_CONNECTIONS, "web_threads": common.WEB_THREADS,
        "medic_argv": argv["medic"], "baseline_argv": argv["baseline"], "baseline_sync_argv": argv["baseline-sync"],
    }
    return out


def sqlite(*, runs: int, seconds: int, warm_seconds: int = 2, connections=(16, 64)) -> dict:
    now = datetime.now(timezone.utc)
    directory = Path(tempfile.mkdtemp(prefix="medic-bench-sqlite-"))
    url = f"sqlite:///{directory / 'medic.db'}"
    seed.migrate(url)
    seed.seed_services(url, SERVICES, now)
    server = common.start_medic_run(url, WORKER_INTERVAL_SECONDS="15")
    out: dict = {"medic": {str(c): [] for c in connections}}
    try:
        server.wait_ready()
        _warm(server, warm_seconds)
        for run in range(runs):
            for c in connections:
                common.log(f"ingest sqlite medic run c={c} run {run + 1}/{runs}")
                r = _measure(server, lambda: seed.count(url, "heartbeat_events"), connections=c, seconds=seconds,
                             database=None)
                _report(r)
                out["medic"][str(c)].append(r)
    finally:
        server.stop()
    out["settings"] = {"services": SERVICES, "seconds": seconds, "runs": runs, "web_threads": common.WEB_THREADS,
                       "medic_argv": "medic run"}
    return out
