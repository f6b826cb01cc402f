"""Worker cycle time against services seeded in bulk, with 1 and 30 days of history.

For each backend and size: seed N healthy services (alert_interval 5 min, deadline
ahead, so a cycle has nothing to transition: the steady state), seed one day of
history, time cycles; add 29 more days, time again. Today's daily cleanup is
claimed beforehand so the cycles time evaluation and delivery, not a cleanup.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import common, seed


def history_per_day(services: int, budget: int = 300_000) -> int:
    """Heartbeats per service per day: about ``budget`` rows a day in all (one a day at least),
    so 30 days stay within what this machine seeds in a minute or two."""
    return max(1, min(48, budget // services))


def run_cycle(
    database_url: str, *, cycles: int = 2, deliver: bool = False, evaluate_first: bool = False, extra_env: dict | None = None
) -> dict:
    """`python -m bench.cycle` in a fresh process; adds its wall time and peak RSS (wait4)."""
    env = common.medic_env(database_url, WORKER_LIVENESS_FILE=os.path.join(tempfile.gettempdir(), "medic-bench.alive"),
                           LOG_LEVEL="WARNING", **(extra_env or {}))
    argv = [sys.executable, "-m", "bench.cycle", "--cycles", str(cycles)]
    argv += (["--deliver"] if deliver else []) + (["--evaluate-first"] if evaluate_first else [])
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=common.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"bench.cycle failed:\n{err}")
    line = next(l for l in out.splitlines() if l.startswith("BENCH_JSON "))
    result = json.loads(line.removeprefix("BENCH_JSON "))
    result["process_wall_seconds"] = wall
    return result


def time_medic_worker_once(database_url: str) -> float:
    """Wall time of the documented command, `medic worker --once` (interpreter start included)."""
    env = common.medic_env(database_url, WORKER_LIVENESS_FILE=os.path.join(tempfile.gettempdir(), "medic-bench.alive"),
                           LOG_LEVEL="WARNING")
    started = time.perf_counter()
    subprocess.run([common.MEDIC, "worker", "--once"], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _one(url: str, label: str, services: int, runs: int, budget: int) -> dict:
    now = datetime.now(timezone.utc)
    seed.migrate(url)
    seeded = {"services_seconds": seed.seed_services(url, services, now)}
    per_day = history_per_day(services, budget)
    out = {"services": services, "history_per_service_per_day": per_day, "points": []}
    previous_day = 0
    for days in (1, 30):
        rows, secs = seed.seed_history(url, per_day=per_day, from_day=previous_day, to_day=days, now=now)
        previous_day = days
        seed.claim_cleanup_today(url, datetime.now(timezone.utc))
        total_rows = seed.count(url, "heartbeat_events")
        point = {"days": days, "history_rows": total_rows, "seed_seconds": secs, "runs": []}
        for run in range(runs):
            cycle = run_cycle(url)
            cycle["medic_worker_once_wall_seconds"] = time_medic_worker_once(url)
            point["runs"].append(cycle)
            common.log(
                f"cycle {label} {services} services, {days}d ({total_rows} rows): "
                f"first {cycle['cycles'][0]['seconds']:.3f}s, warm {cycle['cycles'][-1]['seconds']:.3f}s, "
                f"`medic worker --once` {cycle['medic_worker_once_wall_seconds']:.2f}s, rss {cycle['max_rss_kib'] // 1024} MiB"
            )
        out["points"].append(point)
    return out


def postgres(sizes: list[int], runs: int, budget: int = 300_000) -> dict:
    results = []
    for services in sizes:
        name = "medic_bench_cycle"
        url = common.recreate_database(name)
        try:
            results.append(_one(url, "postgresql", services, runs, budget))
        finally:
            common.drop_database(name)
    return {"sizes": results, "history_budget_rows_per_day": budget}


def sqlite(sizes: list[int], runs: int, budget: int = 300_000) -> dict:
    results = []
    for services in sizes:
        directory = Path(tempfile.mkdtemp(prefix="medic-bench-cycle-"))
        url = f"sqlite:///{directory / 'medic.db'}"
        try:
            results.append(_one(url, "sqlite", services, runs, budget))
        finally:
            for path in directory.iterdir():
                path.unlink()
            directory.rmdir()
    return {"sizes": results, "history_budget_rows_per_day": budget}
