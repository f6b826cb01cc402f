"""Peak RSS at 100,000 services.

Web: `medic serve` (4 gunicorn processes) under wrk spread over all 100,000 names for
15 s, then the heavy reads an operator or Prometheus makes: GET /metrics, GET /alerts,
GET /heartbeat?maxCount=10000 and GET /service?limit=10000 (its largest page).
Peak = VmHWM of each gunicorn worker process, read while it still runs.
Worker: `python -m bench.cycle` (two cycles; steady state) and the mass-outage run
(10,000 of 100,000 services going down, delivery included; see outage.py): VmHWM.
"""

from __future__ import annotations

from datetime import datetime, timezone

import httpx

from bench import common, seed
from bench.worker_cycle import run_cycle

DB = "medic_bench_memory"
SERVICES = 100_000
LIST = "/service?limit=10000"  # GET /service is paged; this is its largest page
SERVICE_READS = ("/metrics", "/alerts", "/heartbeat?maxCount=10000", LIST)


def postgres(*, runs: int) -> dict:
    url = common.recreate_database(DB)
    out: dict = {"services": SERVICES, "runs": []}
    try:
        now = datetime.now(timezone.utc)
        seed.migrate(url)
        seed.seed_services(url, SERVICES, now)
        seed.seed_history(url, per_day=3, from_day=0, to_day=1, now=now)
        seed.claim_cleanup_today(url, now)
        for run in range(runs):
            server = common.start_medic_serve(url, name="medic-serve-memory")
            try:
                server.wait_ready()
                load = common.wrk(server.url, connections=64, seconds=15, services=SERVICES)
                after_load = {pid: common.peak_rss_kib(pid) for pid in server.children()}
                reads = {}
                with httpx.Client(base_url=server.url, timeout=120) as client:
                    for path in SERVICE_READS:
                        for _ in range(4):  # reach more than one of the processes
                            response = client.get(path)
                            reads[path] = {"status": response.status_code, "bytes": len(response.content)}
                after_reads = {pid: common.peak_rss_kib(pid) for pid in server.children()}
            finally:
                server.stop()
            worker = run_cycle(url, cycles=2)
            result = {
                "web_peak_rss_mib_after_heartbeats": max(after_load.values()) / 1024,
                "web_peak_rss_mib_after_reads": max(after_reads.values()) / 1024,
                "web_processes": {str(pid): kib / 1024 for pid, kib in after_reads.items()},
                "reads": reads,
                "heartbeat_load": {"rps": load["rps"], "errors": load["errors"]},
                "worker_peak_rss_mib": worker["max_rss_kib"] / 1024,
                "worker_cycle_seconds": [c["seconds"] for c in worker["cycles"]],
            }
            common.log(
                f"memory run {run + 1}/{runs}: web peak {result['web_peak_rss_mib_after_heartbeats']:.0f} MiB after "
                f"heartbeats, {result['web_peak_rss_mib_after_reads']:.0f} MiB after reads "
                f"(GET {LIST} {reads[LIST]['bytes'] // 1024} KiB); worker {result['worker_peak_rss_mib']:.0f} MiB"
            )
            out["runs"].append(result)
    finally:
        common.drop_database(DB)
    return out
