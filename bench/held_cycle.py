"""Worker cycle with 100,000 services, 10,000 of them down in a maintenance window
(issue "Fewer false pages": the cycle stays O(services due)).

PostgreSQL, services seeded healthy except one team of 10,000 whose deadline has
passed while a maintenance window for that team is in force. The first cycle finds
them and holds them until the window ends (no trigger); later cycles do not look at
them again. Each cycle timed in a fresh `python -m bench.cycle` process.

    python -m bench.held_cycle [--services 100000] [--held 10000] [--runs 2]

Results: bench/results/full/held-cycle.json and the "Worker cycle: services in a
maintenance window" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

from bench import common, environment, report, seed
from bench.worker_cycle import run_cycle

DATABASE = "medic_bench_held_cycle"
TEAM = "warehouse"


def _hold_team(url: str, held: int, now: datetime) -> None:
    """``held`` services moved to TEAM, past their deadline, under a window for TEAM."""
    from medic.store import maintenance
    from medic.store.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE services SET team = %(team)s, deadline = %(due)s WHERE service_id <= %(n)s",
                {"team": TEAM, "due": (now - timedelta(minutes=1)).timestamp(), "n": held},
            )
            maintenance.create(conn, {"team": TEAM, "starts_at": now - timedelta(minutes=5),
                                      "ends_at": now + timedelta(hours=2), "reason": "warehouse upgrade"}, now)
            conn.exec_driver_sql("ANALYZE services")
    finally:
        engine.dispose()


def run(*, services: int, held: int, runs: int) -> dict:
    out: dict = {"services": services, "held": held, "runs": []}
    for n in range(runs):
        url = common.recreate_database(DATABASE)
        seed.migrate(url)
        now = datetime.now(timezone.utc)
        started = time.perf_counter()
        seed.seed_services(url, services, now)
        _hold_team(url, held, now)
        common.log(f"held cycle run {n + 1}/{runs}: {services} services, {held} in a window, "
                   f"seeded in {time.perf_counter() - started:.0f} s")
        first = run_cycle(url, cycles=1)
        later = run_cycle(url, cycles=3)
        result = {
            "first_cycle_seconds": first["cycles"][0]["seconds"],
            "later_cycles_seconds": [c["seconds"] for c in later["cycles"]],
            "opened": sum(c["opened"] for c in first["cycles"] + later["cycles"]),
            "held_services": common.pg_scalar(url, "SELECT count(*) FROM services WHERE suppressed_until IS NOT NULL"),
            "notifications": common.pg_scalar(url, "SELECT count(*) FROM notifications"),
        }
        common.log(f"  first cycle {result['first_cycle_seconds']:.3f} s ({result['held_services']} held), then "
                   + ", ".join(f"{s:.3f} s" for s in result["later_cycles_seconds"])
                   + f"; alerts opened {result['opened']}, notifications {result['notifications']}")
        out["runs"].append(result)
        common.drop_database(DATABASE)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--held", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    result = {"environment": environment.describe(), **run(services=args.services, held=args.held, runs=args.runs)}
    common.save("full/held-cycle", result)
    common.log(f"wrote {report.write('full')}")


if __name__ == "__main__":
    main()
