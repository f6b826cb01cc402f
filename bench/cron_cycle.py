"""Worker cycle with 100,000 cron services in mixed zones (issue "Schedules").

PostgreSQL, services seeded healthy, all on cron schedules: five expressions in five
zones (every 5 minutes, hourly, nightly at 02:30, weekdays at 03:00, every 15 minutes).
The every-5-minutes fifth has its current slot closed when the cycle runs: 20,000
slots closing at once (the sweep's worst minute), taken SERVICES_PER_SWEEP a cycle
(store/schedules.py), then cycles with nothing due. Each cycle in a fresh `python -m bench.cycle` process, twice.

    python -m bench.cron_cycle [--services 100000] [--runs 2]

Results: bench/results/full/cron-cycle.json and the "Worker cycle: cron services"
section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

import psycopg

from bench import common, environment, report, seed
from bench.worker_cycle import run_cycle
from medic.core import schedule

DATABASE = "medic_bench_cron_cycle"
EXPRESSIONS = ("*/5 * * * *", "0 * * * *", "30 2 * * *", "0 3 * * 1-5", "*/15 * * * *")
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC")
GRACE = 300


def _schedule_fleet(url: str, count: int, now: datetime) -> int:
    """Every service on cron (expression n % 5, zone n // 5 % 5); returns how many have
    their cursor slot closed at ``now``."""
    due = 0
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        for e, expression in enumerate(EXPRESSIONS):
            for z, zone in enumerate(ZONES):
                cron = schedule.Cron(expression, zone)
                if e == 0:  # the slot before the grace ran out: closed now
                    slot = schedule.next_slot(cron, now - timedelta(seconds=GRACE + 300))
                    due_here = True
                else:
                    slot = schedule.next_slot(cron, now)
                    due_here = False
                rows = conn.execute(
                    "UPDATE services SET cron = %s, timezone = %s, grace_period_seconds = %s, "
                    "next_slot_at = %s, slot_check_at = %s, deadline = %s "
                    "WHERE service_id %% 5 = %s AND (service_id / 5) %% 5 = %s",
                    (expression, zone, GRACE, slot, slot.timestamp() + GRACE,
                     (now + timedelta(days=1)).timestamp(), e, z),
                ).rowcount
                due += rows if due_here else 0
        conn.execute("ANALYZE services")
    return due


def run(*, services: int, runs: int) -> dict:
    out: dict = {"services": services, "runs": []}
    for n in range(runs):
        url = common.recreate_database(DATABASE)
        seed.migrate(url)
        now = datetime.now(timezone.utc)
        started = time.perf_counter()
        seed.seed_services(url, services, now, deadline_offset=86400)
        due = _schedule_fleet(url, services, now)
        common.log(f"cron cycle run {n + 1}/{runs}: {services} services seeded and scheduled in "
                   f"{time.perf_counter() - started:.0f} s, {due} with a slot closed")
        first = run_cycle(url, cycles=1)
        closed_first = common.pg_scalar(url, "SELECT count(*) FROM service_slots")
        second = run_cycle(url, cycles=5)
        closed = common.pg_scalar(url, "SELECT count(*) FROM service_slots")
        result = {
            "due_slots": due, "slots_recorded_first_cycle": closed_first, "slots_recorded": closed,
            "first_cycle_seconds": first["cycles"][0]["seconds"],
            "later_cycles_seconds": [c["seconds"] for c in second["cycles"]],
            "worker_peak_rss_mib": max(first["max_rss_kib"], second["max_rss_kib"]) / 1024,
        }
        common.log(f"  first cycle {result['first_cycle_seconds']:.3f} s ({closed_first} slots closed); then "
                   + ", ".join(f"{s:.3f} s" for s in result["later_cycles_seconds"])
                   + f"; {closed} of {due} slots recorded")
        out["runs"].append(result)
        common.drop_database(DATABASE)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    result = {"environment": environment.describe(), **run(services=args.services, runs=args.runs)}
    common.save("full/cron-cycle", result)
    common.log(f"wrote {report.write('full')}")


if __name__ == "__main__":
    main()
