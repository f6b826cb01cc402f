"""`python -m bench [--quick] [--only PART ...]`: run the benchmarks, write the report.

Full (`make bench`, ~22 minutes) writes bench/results/full/*.json and bench/RESULTS.md;
quick (`make bench-quick`, ~2 minutes: shorter runs, smaller data) writes
bench/results/quick/*.json and bench/RESULTS-quick.md. Parts: ingest, layouts, ceilings, profile,
ingest-sqlite, cycle, cycle-sqlite, outage, outage-routes, recovery, cleanup, memory.
"""

from __future__ import annotations

import argparse
import time

from bench import (
    ceilings, cleanup_ingest, common, environment, ingest, layouts, memory, outage, profile, recovery, report, worker_cycle,
)

PARTS = ("ingest", "layouts", "ceilings", "profile", "ingest-sqlite", "cycle", "cycle-sqlite", "outage", "outage-routes", "recovery", "cleanup", "memory")

FULL = {
    "ingest": lambda: ingest.postgres(runs=2, seconds=10, connections=(16, 64, 256)),
    "layouts": lambda: layouts.run(runs=2, seconds=10),
    "ceilings": lambda: ceilings.run(runs=2, seconds=10),
    "profile": lambda: profile.run(connections=64, seconds=15),
    "ingest-sqlite": lambda: ingest.sqlite(runs=3, seconds=10, connections=(16, 64, 256)),
    "cycle": lambda: worker_cycle.postgres([10_000, 100_000, 1_000_000], runs=2),
    "cycle-sqlite": lambda: worker_cycle.sqlite([10_000, 100_000], runs=2),
    "outage": lambda: outage.postgres(runs=2, deliver_runs=1),
    "outage-routes": lambda: outage.postgres(runs=2, deliver_runs=1, routes=3),
    "recovery": lambda: recovery.runs(count=2, outage=120),
    "cleanup": lambda: cleanup_ingest.postgres(runs=2, per_day=100),
    "memory": lambda: memory.postgres(runs=2),
}

QUICK = {
    "ingest": lambda: ingest.postgres(runs=2, seconds=5, warm_seconds=1),
    "ingest-sqlite": lambda: ingest.sqlite(runs=2, seconds=5, warm_seconds=1, connections=(16, 64, 256)),
    "cycle": lambda: worker_cycle.postgres([10_000], runs=2, budget=40_000),
    "cycle-sqlite": lambda: worker_cycle.sqlite([10_000], runs=2, budget=40_000),
    "outage": lambda: outage.postgres(runs=2, deliver_runs=0),
    "outage-routes": lambda: outage.postgres(runs=1, deliver_runs=0, routes=3),
    "recovery": lambda: recovery.runs(count=1, outage=15),
    "cleanup": lambda: cleanup_ingest.postgres(runs=1, per_day=10, window_seconds=5),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="short runs on small data (about 2 minutes)")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these parts (others keep their last results)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the stored results")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    plan = QUICK if args.quick else FULL
    if not args.report_only:
        started = time.perf_counter()
        if not args.only:  # a partial run records its environment in its own parts only
            common.save(f"{mode}/environment-start", environment.describe())
        for part in args.only or [p for p in PARTS if p in plan]:
            if part not in plan:
                continue
            common.log(f"== {part} ({mode})")
            part_started = time.perf_counter()
            env = environment.describe()
            data = plan[part]()
            data["environment"] = env
            data["elapsed_seconds"] = time.perf_counter() - part_started
            data["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
            data["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
            common.save(f"{mode}/{part}", data)
        common.log(f"all done in {(time.perf_counter() - started) / 60:.1f} min")
    path = report.write(mode)
    common.log(f"wrote {path}")


if __name__ == "__main__":
    main()
