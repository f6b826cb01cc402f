"""Cleanup under ingest: `medic cleanup` deleting 30 days of expired heartbeats while wrk
posts heartbeats at 64 connections; ingest p99 before and during.

Seeded: 1,000 services with ``per_day`` heartbeats each per day over 60 days: days
30-60 are past HEARTBEAT_RETENTION_DAYS=30 (what cleanup deletes), days 0-30 stay.
"During" is every 10-second wrk window that ran while the cleanup process was alive;
the worst window's p99 is the figure compared with "before".
"""

from __future__ import annotations

import subprocess
import threading
import time
from datetime import datetime, timezone

from bench import common, seed

DB = "medic_bench_cleanup"
SERVICES = 1000
CONNECTIONS = 64
WINDOW_SECONDS = 10


def postgres(*, runs: int, per_day: int, window_seconds: int = WINDOW_SECONDS) -> dict:
    out: dict = {"services": SERVICES, "per_day": per_day, "connections": CONNECTIONS, "runs": []}
    url = common.recreate_database(DB)
    seed.migrate(url)
    now = datetime.now(timezone.utc)
    seed.seed_services(url, SERVICES, now)
    seed.seed_history(url, per_day=per_day, from_day=0, to_day=30, now=now)
    try:
        for run in range(runs):
            now = datetime.now(timezone.utc)
            expired, _ = seed.seed_history(url, per_day=per_day, from_day=31, to_day=61, now=now)
            server = common.start_medic_serve(url)
            try:
                server.wait_ready()
                common.wrk(server.url, connections=16, seconds=2)
                before = common.wrk(server.url, connections=CONNECTIONS, seconds=15)
                cleanup_log = open(common.LOG_DIR / "medic-cleanup.log", "ab")
                started = time.perf_counter()
                cleanup = subprocess.Popen(
                    [common.MEDIC, "cleanup"], env=common.medic_env(url), stdout=subprocess.PIPE, stderr=cleanup_log,
                    text=True,
                )
                ended = {}
                waiter = threading.Thread(target=lambda: ended.setdefault("at", (cleanup.wait(), time.perf_counter())[1]))
                waiter.start()
                during = []
                while "at" not in ended:
                    during.append(common.wrk(server.url, connections=CONNECTIONS, seconds=window_seconds))
                waiter.join()
                cleanup_seconds = ended["at"] - started
                summary = cleanup.stdout.read().strip()
                cleanup_log.close()
                if cleanup.returncode != 0:
                    raise RuntimeError(f"medic cleanup failed ({cleanup.returncode}); see {common.LOG_DIR}")
            finally:
                server.stop()
            worst = max(during, key=lambda r: r["p99_us"])
            result = {
                "expired_rows_seeded": expired,
                "cleanup_output": summary,
                "cleanup_seconds": cleanup_seconds,
                "before": before,
                "during": during,
                "p99_before_ms": before["p99_us"] / 1000,
                "p99_during_worst_ms": worst["p99_us"] / 1000,
                "p99_during_windows_ms": [r["p99_us"] / 1000 for r in during],
                "rps_before": before["rps"],
                "rps_during": [r["rps"] for r in during],
                "errors": before["errors"] + sum(r["errors"] for r in during),
            }
            common.log(
                f"cleanup run {run + 1}/{runs}: {summary} in {cleanup_seconds:.1f}s; p99 before "
                f"{result['p99_before_ms']:.1f} ms, during {result['p99_during_windows_ms']} ms"
            )
            out["runs"].append(result)
    finally:
        common.drop_database(DB)
    return out
