"""Recovery after a provider outage: how soon the backlog goes out once PagerDuty is back.

50 services are seeded already overdue; a real `medic worker` process opens their
alerts while the PagerDuty stand-in answers 500 for OUTAGE seconds, so every
trigger backs off (up to minutes). Then the stand-in accepts again, and the figure
is the time from that moment to the last of the 50 triggers accepted, with each
dedup_key accepted once.

    python -m bench --only recovery          # as a part of the report (bench/RESULTS.md)
    python -m bench.recovery [--outage 120] [--services 50]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from datetime import datetime, timezone

from bench import common, seed
from tests.fakes.providers import Response, fake_pagerduty, provider_env

DB = "medic_bench_recovery"


def run(*, outage: float, services: int) -> dict:
    url = common.recreate_database(DB)
    try:
        seed.migrate(url)
        seed.seed_services(url, services, datetime.now(timezone.utc), deadline_offset=-1)
        with fake_pagerduty() as pagerduty:
            healthy = pagerduty.set_default(Response(500, {"status": "error"}))
            env = common.medic_env(
                url,
                WORKER_INTERVAL_SECONDS="1",
                WORKER_METRICS_PORT="0",
                WORKER_LIVENESS_FILE=os.path.join(tempfile.gettempdir(), "medic-bench-recovery.alive"),
                LOG_LEVEL="WARNING",
                **provider_env(pagerduty),
            )
            worker = subprocess.Popen([common.MEDIC, "worker"], env=env, cwd=common.ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(outage)
                failed = len(pagerduty.requests)
                pagerduty.set_default(healthy)
                recovered = time.time()
                deadline = recovered + 120
                while time.time() < deadline:
                    delivered = common.pg_scalar(
                        url, "SELECT count(*) FROM notifications WHERE channel = 'pagerduty' AND state = 'delivered'"
                    )
                    if delivered == services:
                        break
                    time.sleep(0.1)
            finally:
                worker.terminate()
                worker.wait(timeout=60)
            accepted = [r for r in pagerduty.requests[failed:]]
            keys = [r.json["dedup_key"] for r in accepted]
            last = max((r.received_at for r in accepted), default=recovered)
        result = {
            "services": services,
            "outage_seconds": outage,
            "failed_attempts_during_outage": failed,
            "delivered": delivered,
            "distinct_dedup_keys": len(set(keys)),
            "accepted_requests": len(keys),
            "seconds_to_last_delivery": round(last - recovered, 2),
        }
        common.log(f"recovery: {result}")
        return result
    finally:
        common.drop_database(DB)


def runs(*, count: int, outage: float, services: int = 50) -> dict:
    """The report part: COUNT runs of the same outage."""
    return {"runs": [run(outage=outage, services=services) for _ in range(count)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=120.0)
    parser.add_argument("--services", type=int, default=50)
    args = parser.parse_args()
    print(run(outage=args.outage, services=args.services))


if __name__ == "__main__":
    main()
