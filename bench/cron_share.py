"""Ingest with a share of cron services: what computing the next slot per heartbeat costs.

Two PostgreSQL databases of 1,000 services each, one all on the interval schedule, one
with SHARE of them on cron schedules in mixed zones (docs/schedules.md). A heartbeat to
a cron service has its deadline computed in Python (core/deadline.py, the next unmet
slot), not in the batch's SQL. `medic serve` on each, wrk posting heartbeats spread
over the services, runs interleaved; stored/s, p99 and CPU per stored heartbeat
(web processes + PostgreSQL backends) compared run by run.

    python -m bench.cron_share [--share 0.3] [--runs 3] [--seconds 15] [--connections 64]

Results: bench/results/full/cron-share.json and the "Ingest with cron services"
section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timezone

import psycopg

from bench import common, environment, report, seed
from bench.ingest import SERVICES, _measure, _report, _warm, medic_rows

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "UTC")


def _database(name: str, share: float) -> tuple[str, int]:
    url = common.recreate_database(name)
    seed.migrate(url)
    seed.seed_services(url, SERVICES, datetime.now(timezone.utc))
    cron_count = round(SERVICES * share)
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(cron_count):
            # spread over the fleet (every n-th service), each zone in turn
            n = int(i / share) if share else i
            conn.execute("UPDATE services SET cron = %s, timezone = %s, grace_period_seconds = 300 "
                         "WHERE heartbeat_name = %s", ("*/5 * * * *", ZONES[i % len(ZONES)], f"bench-{n}"))
        conn.execute("ANALYZE services")
        cron = conn.execute("SELECT count(*) FROM services WHERE cron IS NOT NULL").fetchone()[0]
    return url, cron


def run(*, share: float, runs: int, seconds: int, connections: int) -> dict:
    urls = {}
    for label, name, s in (("interval", "medic_bench_interval", 0.0), ("cron", "medic_bench_cron", share)):
        urls[label], cron = _database(name, s)
        common.log(f"{label}: {cron} of {SERVICES} services on cron")
    results: dict = {"share": share, "connections": connections, "seconds": seconds, "runs": {"interval": [], "cron": []}}
    servers = {label: common.start_medic_serve(url, name=f"medic-serve-{label}", LOG_LEVEL="WARNING")
               for label, url in urls.items()}
    try:
        for server in servers.values():
            server.wait_ready()
            _warm(server, 3)
        for _ in range(runs):
            for label, server in servers.items():  # interleaved, run by run
                database = urls[label].rsplit("/", 1)[1]
                r = _measure(server, lambda url=urls[label]: medic_rows(url), connections=connections,
                             seconds=seconds, database=database)
                common.log(f"{label} at {connections} connections:")
                _report(r)
                results["runs"][label].append(r)
    finally:
        for server in servers.values():
            server.stop()
        for label in urls:
            common.drop_database(f"medic_bench_{label}")
    ratios = [c["stored_per_s"] / i["stored_per_s"] for i, c in zip(results["runs"]["interval"], results["runs"]["cron"])]
    cpu = lambda r: sum(r["cpu_ms_per_stored"].values())  # noqa: E731
    results["stored_ratio_per_run"] = [round(x, 3) for x in ratios]
    results["cpu_ms_per_stored"] = {label: [round(cpu(r), 3) for r in rs] for label, rs in results["runs"].items()}
    results["cpu_ratio_median"] = round(statistics.median(
        cpu(c) / cpu(i) for i, c in zip(results["runs"]["interval"], results["runs"]["cron"])), 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", type=float, default=0.3, help="share of the services on cron schedules")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    result = {"environment": environment.describe(),
              **run(share=args.share, runs=args.runs, seconds=args.seconds, connections=args.connections)}
    result["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    common.save("full/cron-share", result)
    common.log(f"wrote {report.write('full')}")


if __name__ == "__main__":
    main()
