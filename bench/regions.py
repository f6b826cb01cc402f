"""Two regions on one machine: heartbeat latency across a delayed link, workers in both
regions, and the loss of region A (docs/clustering.md, "Two regions").

The cluster of deploy/cluster/cluster.sh runs with nodes 1 and 2 in region A and node 3
in region B: every byte to or from nodes 1 and 2 through their proxies is held
DELAY_MS each way (a round trip of 2 x DELAY_MS; `tc netem` is not available here).
Node 2 is tagged `nosync`, so node 3, across the link, is the synchronous standby:
every commit waits for region B, and region B holds every acknowledged heartbeat when
region A is lost. Region A's Medic reaches nodes 1 and 2 on their own ports (local)
and node 3 through a delaying proxy; region B's Medic reaches nodes 1 and 2 through
their delayed proxies and node 3 on its own port. The single etcd stands in for a
quorum spread over three places (A, B and a small third one), without which region B
could not promote.

    python -m bench.regions [--delay-ms 15] [--clients 16]

1. latency: CLIENTS threads post to region A's web, CLIENTS to region B's, at once;
   p50/p99 of each side as its client sees it.
2. workers: one `medic worker` per region pages 100 services already overdue; every
   incident must page exactly once; the mean cycle of each region's worker.
3. region A lost: under load on both webs, nodes 1 and 2 are killed (-9) and region
   A's web stops. Node 3 is promoted, but alone in strict synchronous mode it commits
   nothing (no heartbeat is acknowledged on one node only); after 20 s an operator
   accepts that (`cluster.sh relax`), and region B's clients get 201s again. Measured:
   seconds to the promotion, 201s before the relax (must be 0), seconds from the relax
   to the first 201, and 201s against rows stored on node 3 (lost must be 0).

Results: bench/results/full/regions.json and the "Two regions" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone

import psycopg

from bench import common, environment, report, seed
from bench.failover import CLUSTER, SERVICES_PER_CLIENT, Load, _stored, _until, cluster

PROXY = str(common.ROOT / "deploy" / "cluster" / "tcpproxy.py")
NODE_PORT = {n: 54320 + n for n in (1, 2, 3)}  # a node's own PostgreSQL port
NODE_PROXY = {n: 54330 + n for n in (1, 2, 3)}  # its proxy (delayed for nodes 1 and 2)


def _leader() -> str | None:
    """The leader's node number, or None while there is none (a failover)."""
    try:
        return cluster("leader")
    except subprocess.CalledProcessError:
        return None


def _url(hosts: list[int]) -> str:
    return ("postgresql://postgres@" + ",".join(f"127.0.0.1:{p}" for p in hosts)
            + "/medic?target_session_attrs=read-write&connect_timeout=3")


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latency(replies: list[tuple[float, float, int, str]]) -> dict:
    ms = [(answered - sent) * 1000 for sent, answered, status, _ in replies if status == 201]
    return {"requests": len(replies), "statuses": dict(Counter(str(s) for *_, s, _ in replies)),
            "p50_ms": round(_percentile(ms, 0.50) or 0, 1), "p99_ms": round(_percentile(ms, 0.99) or 0, 1),
            "per_second": round(len(ms) / max(1e-9, replies[-1][1] - replies[0][0]), 1) if replies else 0}


def latency_phase(port_a: int, port_b: int, clients: int, seconds: float) -> dict:
    with Load(port_a, clients, 0) as load_a, Load(port_b, clients, clients * SERVICES_PER_CLIENT) as load_b:
        time.sleep(seconds)
    return {"region_a_client": _latency(load_a.replies), "region_b_client": _latency(load_b.replies)}


CYCLE = re.compile(r"^medic_worker_cycle_duration_seconds_(sum|count) ([0-9.e+-]+)$", re.M)


def _mean_cycle(metrics_port: int) -> float | None:
    conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    except OSError:
        return None
    finally:
        conn.close()
    found = dict(CYCLE.findall(text))
    count = float(found.get("count", 0))
    return round(float(found["sum"]) / count * 1000, 1) if count else None


def workers_phase(url_a: str, url_b: str, first: int, incidents: int = 100) -> dict:
    """A worker in each region over the same database: each incident pages once."""
    from tests.fakes.providers import fake_pagerduty, provider_env

    seed.seed_services(url_a, incidents, datetime.now(timezone.utc), first=first, deadline_offset=-1)
    names = [f"bench-{i}" for i in range(first, first + incidents)]
    workers, ports = [], {}
    with fake_pagerduty() as pagerduty:
        try:
            for region, url in (("a", url_a), ("b", url_b)):
                ports[region] = common.free_port()
                env = common.medic_env(url, WORKER_INTERVAL_SECONDS="1", WORKER_METRICS_PORT=str(ports[region]),
                                       LOG_LEVEL="WARNING", WORKER_LIVENESS_FILE=f"/tmp/medic-regions-{region}.alive",
                                       **provider_env(pagerduty, None))
                log = open(common.LOG_DIR / f"regions-worker-{region}.log", "ab")
                workers.append(subprocess.Popen([common.MEDIC, "worker"], env=env, cwd=common.ROOT,
                                                stdout=log, stderr=subprocess.STDOUT))
            triggers = lambda: Counter(r.json["dedup_key"] for r in pagerduty.requests  # noqa: E731
                                       if r.json and r.json.get("event_action") == "trigger")
            _until(lambda: len(triggers()) >= incidents, 120)
            time.sleep(15)  # cycles on a quiet fleet, and time for a duplicate to arrive
            cycles = {region: _mean_cycle(port) for region, port in ports.items()}
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=60)
        sent = triggers()
    with psycopg.connect(url_a, autocommit=True) as conn:
        keys = {k for (k,) in conn.execute(
            "SELECT a.external_reference_id FROM alerts a JOIN services s ON s.service_id = a.service_id "
            "WHERE s.heartbeat_name = ANY(%s)", (names,)).fetchall()}
    mine = {k: n for k, n in sent.items() if k in keys}
    return {"incidents": incidents, "alerts_opened": len(keys), "pagerduty_triggers_distinct": len(mine),
            "pagerduty_repeated_sends": sum(n - 1 for n in mine.values()),
            "mean_cycle_ms_region_a": cycles.get("a"), "mean_cycle_ms_region_b": cycles.get("b")}


def region_loss_phase(server_a, port_b: int, clients: int, first: int, url_b: str, hold: float = 20) -> dict:
    """Nodes 1 and 2 and region A's web die at once, under load on both webs. Node 3 is
    promoted but, alone and in strict synchronous mode, commits nothing until an operator
    accepts writes on one node (`cluster.sh relax`) after HOLD seconds."""
    leader = cluster("leader")
    with Load(server_a.port, clients, first) as load_a, \
            Load(port_b, clients, first + clients * SERVICES_PER_CLIENT) as load_b:
        time.sleep(8)
        fault_at = time.time()
        cluster("crash", "1")
        cluster("crash", "2")
        os.killpg(server_a.proc.pid, signal.SIGKILL)  # region A's web is gone with its region
        _until(lambda: _leader() == "3", 60)
        promoted_at = time.time()
        time.sleep(hold)
        relaxed_at = time.time()
        cluster("relax")
        _until(lambda: any(s == 201 and sent > relaxed_at for sent, _, s, _ in list(load_b.replies)), 120)
        time.sleep(8)
    ok_after = lambda since: sorted(answered for sent, answered, s, _ in load_b.replies  # noqa: E731
                                    if s == 201 and sent > since)
    ok = Counter(name for load in (load_a, load_b) for _, _, s, name in load.replies if s == 201)
    stored = _stored(url_b, first, 2 * clients * SERVICES_PER_CLIENT)
    held = [s for sent, answered, s, _ in load_b.replies if fault_at < sent and answered < relaxed_at]
    relaxed = ok_after(relaxed_at)
    return {
        "old_leader": f"node{leader}", "new_leader": f"node{_leader()}",
        "seconds_to_node3_promoted": round(promoted_at - fault_at, 2),
        "region_b_201s_before_relax": sum(1 for s in held if s == 201),
        "region_b_statuses_before_relax": dict(Counter(str(s) for s in held)),
        "held_seconds": hold,
        "seconds_from_relax_to_first_201": round(relaxed[0] - relaxed_at, 2) if relaxed else None,
        "answered_201": sum(ok.values()), "stored_rows": sum(stored.values()),
        "lost": sum(max(0, ok[name] - stored[name]) for name in ok),
    }


def run(*, delay_ms: float, clients: int, seconds: float) -> dict:
    env = {**os.environ, "MEDIC_CLUSTER_DELAY_MS": str(delay_ms), "MEDIC_CLUSTER_DELAY_NODES": "1 2",
           "MEDIC_CLUSTER_NOSYNC": "2"}
    subprocess.run([CLUSTER, "up"], check=True, capture_output=True, text=True, env=env)
    a_to_3 = common.free_port()  # region A's way to node 3, across the link
    proxy = subprocess.Popen([sys.executable, PROXY, str(a_to_3), str(NODE_PORT[3]), "--delay-ms", str(delay_ms)])
    try:
        url_a = _url([NODE_PORT[1], NODE_PORT[2], a_to_3])
        url_b = _url([NODE_PORT[3], NODE_PORT[1] + 10, NODE_PORT[2] + 10])  # 54331/54332: nodes 1, 2 delayed
        _until(lambda: _leader() == "1", 60)
        seed.migrate(url_a)
        seed.seed_services(url_a, 4 * clients * SERVICES_PER_CLIENT, datetime.now(timezone.utc))
        with psycopg.connect(url_a, autocommit=True) as conn:  # none of these go down during the run
            conn.execute("UPDATE services SET alert_interval = 120, deadline = extract(epoch FROM now()) + 7200")
        with psycopg.connect(url_a, autocommit=True) as conn:
            sync = conn.execute("SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'").fetchall()
        result: dict = {"delay_ms_each_way": delay_ms, "round_trip_ms": 2 * delay_ms, "clients_per_region": clients,
                        "synchronous_standby": [name for (name,) in sync]}
        server_a = common.start_medic_serve(url_a, name="medic-serve-region-a", LOG_LEVEL="WARNING")
        server_b = common.start_medic_serve(url_b, name="medic-serve-region-b", LOG_LEVEL="WARNING")
        with common.running(server_a), common.running(server_b):
            result["latency"] = latency_phase(server_a.port, server_b.port, clients, seconds)
            common.log(f"regions latency: {result['latency']}")
            result["workers"] = workers_phase(url_a, url_b, first=4 * clients * SERVICES_PER_CLIENT)
            common.log(f"regions workers: {result['workers']}")
            result["region_a_lost"] = region_loss_phase(server_a, server_b.port, clients,
                                                        2 * clients * SERVICES_PER_CLIENT, url_b)
            common.log(f"regions region A lost: {result['region_a_lost']}")
        return result
    finally:
        proxy.terminate()
        subprocess.run([CLUSTER, "down"], capture_output=True, text=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=15.0, help="one-way delay between the regions")
    parser.add_argument("--clients", type=int, default=16, help="client threads per region")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency phase")
    args = parser.parse_args()
    result = {"environment": environment.describe(),
              **run(delay_ms=args.delay_ms, clients=args.clients, seconds=args.seconds)}
    result["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    common.save("full/regions", result)
    common.log(f"wrote {report.write('full')}")


if __name__ == "__main__":
    main()
