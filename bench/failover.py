"""Medic on a three-node Patroni cluster: heartbeats through a primary crash and a switchover.

`medic serve` runs with the cluster's multi-host URL (target_session_attrs=read-write)
while CLIENTS threads post heartbeats over keep-alive connections, each to services of
its own. Mid-run the primary is killed with -9 (Patroni and postmaster: a node crash) or
switched over with patronictl, or cut off the network (its proxies stop passing bytes
while its processes live). Each scenario reports the seconds from the fault to the
first 201 for a heartbeat sent after it, the replies meanwhile, and heartbeats answered
201 against rows stored per service (lost: a 201 without its row; must be 0).

    make cluster-test          # starts the cluster, runs both scenarios, stops it
    python -m bench.failover [--clients 16] [--reuse] [--only no_standby ...]   # --reuse: a cluster already up

Results: bench/results/full/failover.json and the "Failover" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from bench import common, environment, report, seed

CLUSTER = str(common.ROOT / "deploy" / "cluster" / "cluster.sh")
CLUSTER_DIR = os.environ.get("MEDIC_CLUSTER_DIR", "/tmp/medic-cluster")
SERVICES_PER_CLIENT = 20


def cluster(*args: str) -> str:
    return subprocess.run([CLUSTER, *args], check=True, capture_output=True, text=True).stdout.strip()


class Load:
    """CLIENTS threads posting heartbeats until stopped; every reply recorded."""

    def __init__(self, port: int, clients: int, first_service: int):
        self.port = port
        self.replies: list[tuple[float, float, int, str]] = []  # sent, answered, status, service
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(first_service + i * SERVICES_PER_CLIENT,), daemon=True)
            for i in range(clients)
        ]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _client(self, first: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        n = 0
        while not self._stop.is_set():
            name = f"bench-{first + n % SERVICES_PER_CLIENT}"
            n += 1
            body = json.dumps({"heartbeat_name": name, "status": "UP"})
            sent = time.time()
            try:
                conn.request("POST", "/heartbeat", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0  # connection refused, reset or timed out: outcome unknown
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                time.sleep(0.05)
            with self._lock:
                self.replies.append((sent, time.time(), status, name))
            if status not in (0, 201):
                time.sleep(0.05)  # a client backing off, not a busy loop of 503s


def _stored(url: str, first: int, count: int) -> Counter:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT s.heartbeat_name, count(*) FROM heartbeat_events e JOIN services s ON s.service_id = e.service_id "
            "WHERE s.heartbeat_name = ANY(%s) GROUP BY s.heartbeat_name",
            ([f"bench-{i}" for i in range(first, first + count)],),
        ).fetchall()
    return Counter({name: n for name, n in rows})


def _direct(node: str) -> str:
    """The node's own port, not its proxy: reachable by us while it is partitioned."""
    return f"postgresql://postgres@127.0.0.1:{54320 + int(node)}/medic?connect_timeout=2"


def _watch_demotion(node: str, since: float, box: dict) -> None:
    """Seconds until the partitioned old primary stops taking writes (Patroni demotes it)."""
    while time.time() - since < 120:
        try:
            with psycopg.connect(_direct(node), autocommit=True) as conn:
                if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    box["seconds"] = round(time.time() - since, 2)
                    return
        except psycopg.Error:
            pass  # restarting as a standby
        time.sleep(0.2)


def _writes_only_on(node: str, url: str, since: float) -> int:
    """Rows the old primary holds, written after the partition began, that the new
    primary does not."""
    query = ("SELECT service_id, time FROM heartbeat_events WHERE time > to_timestamp(%s) - interval '2 seconds'")
    with psycopg.connect(_direct(node), autocommit=True) as old, psycopg.connect(url, autocommit=True) as new:
        on_old = set(old.execute(query, (since,)).fetchall())
        on_new = set(new.execute(query, (since,)).fetchall())
    return len(on_old - on_new)


def scenario(kind: str, *, url: str, port: int, clients: int, first: int, before: float = 8, after: float = 10) -> dict:
    old_leader = cluster("leader")
    with Load(port, clients, first) as load:
        time.sleep(before)
        fault_at = time.time()
        demotion: dict = {}
        if kind == "crash":
            cluster("crash", old_leader)
        elif kind == "partition":
            cluster("partition", old_leader)
            watcher = threading.Thread(target=_watch_demotion, args=(old_leader, fault_at, demotion), daemon=True)
            watcher.start()
        else:
            cluster("switchover")
        # until heartbeats have been stored without a failure for AFTER seconds
        deadline = fault_at + 120
        while time.time() < deadline:
            replies = list(load.replies)
            last_failure = max((answered for _, answered, s, _ in replies if s != 201), default=fault_at)
            if time.time() - max(last_failure, fault_at) >= after and any(
                    s == 201 and sent > max(last_failure, fault_at + 1) for sent, _, s, _ in replies):
                break
            time.sleep(0.2)
    replies = load.replies
    ok = Counter(name for _, _, s, name in replies if s == 201)
    stored = _stored(url, first, clients * SERVICES_PER_CLIENT)
    statuses = Counter(str(s) for *_, s, _ in replies)
    answered_ok = sorted(answered for _, answered, s, _ in replies if s == 201)
    gaps = [(b - a, a, b) for a, b in zip(answered_ok, answered_ok[1:])]
    gap, gap_start, gap_end = max(gaps, default=(0, fault_at, fault_at))
    during = Counter(str(s) for _, answered, s, _ in replies if gap_start < answered < gap_end)
    result = {
        "scenario": kind,
        "old_leader": f"node{old_leader}",
        "new_leader": f"node{cluster('leader')}",
        "requests": len(replies),
        "statuses": dict(statuses),
        "statuses_during_gap": dict(during),
        # what a client sees: the longest time without any heartbeat stored
        "seconds_without_a_201": round(gap, 2),
        "gap_began_after_fault_s": round(gap_start - fault_at, 2),
        "answered_201": sum(ok.values()),
        "stored_rows": sum(stored.values()),
        "lost": sum(max(0, ok[name] - stored[name]) for name in ok),
        "stored_without_201": sum(max(0, stored[name] - ok[name]) for name in stored),
    }
    if kind == "partition":
        watcher.join(timeout=120)
        result["seconds_to_old_primary_demoted"] = demotion.get("seconds")
        # committed on the cut-off primary while its commits waited for a standby that
        # could not answer: never acknowledged (no 201), discarded by pg_rewind at rejoin
        result["unacknowledged_rows_left_on_old_primary"] = _writes_only_on(old_leader, url, fault_at)
        cluster("heal", old_leader)
        _wait_replica(old_leader)
    common.log(f"failover {kind}: {result}")
    if kind == "crash":
        cluster("start", old_leader)  # rejoins as a replica through pg_rewind
    return result


def _beat_all(port: int, names: list[str]) -> None:
    """One UP heartbeat per service, retried through 503s: the incidents recover."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    for name in names:
        for _ in range(100):
            try:
                conn.request("POST", "/heartbeat", json.dumps({"heartbeat_name": name, "status": "UP"}),
                             {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status == 201:
                    break
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            time.sleep(0.2)


def _until(predicate, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _slack_notification(message) -> object:
    metadata = (message or {}).get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return metadata.get("event_payload", {}).get("notification_id")


def workers_scenario(*, url: str, port: int, first: int, incidents: int = 100) -> dict:
    """Two `medic worker` processes page INCIDENTS services that are already overdue
    while the primary crashes mid-delivery; after the failover the services recover.
    Every incident must page once and resolve once, on PagerDuty and on Slack."""
    from tests.fakes.providers import fake_pagerduty, fake_slack, provider_env

    names = [f"bench-{i}" for i in range(first, first + incidents)]
    seed.seed_services(url, incidents, datetime.now(timezone.utc), first=first, deadline_offset=-1)
    old_leader = cluster("leader")
    with fake_pagerduty() as pagerduty, fake_slack() as slack:
        pagerduty.slow_down(0.2)  # deliveries span the failover
        env = common.medic_env(url, WORKER_INTERVAL_SECONDS="1", WORKER_METRICS_PORT="0", LOG_LEVEL="WARNING",
                               **provider_env(pagerduty, slack))
        workers = []
        for n in range(2):
            env_n = {**env, "WORKER_LIVENESS_FILE": f"/tmp/medic-failover-worker-{n}.alive"}
            log = open(common.LOG_DIR / f"failover-worker-{n}.log", "ab")
            workers.append(subprocess.Popen([common.MEDIC, "worker"], env=env_n, cwd=common.ROOT,
                                            stdout=log, stderr=subprocess.STDOUT))

        def actions(kind: str) -> Counter:
            return Counter(r.json["dedup_key"] for r in pagerduty.requests
                           if r.json and r.json.get("event_action") == kind)

        try:
            _until(lambda: len(actions("trigger")) >= incidents // 3, 60)
            fault_at = time.time()
            cluster("crash", old_leader)
            triggered = _until(lambda: len(actions("trigger")) >= incidents, 180)
            recovered_at = time.time()
            _beat_all(port, names)
            resolved = _until(lambda: len(actions("resolve")) >= incidents, 180)
            time.sleep(3)  # a late duplicate would arrive now
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=60)
        pd_requests, slack_requests = list(pagerduty.requests), list(slack.requests)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT a.alert_id, a.external_reference_id, a.service_id FROM alerts a "
            "JOIN services s ON s.service_id = a.service_id WHERE s.heartbeat_name = ANY(%s)", (names,)).fetchall()
        slack_ids = {str(n) for (n,) in conn.execute(
            "SELECT notification_id FROM notifications WHERE channel = 'slack' AND alert_id = ANY(%s)",
            ([r[0] for r in rows],)).fetchall()}
    alerts = (len(rows), len({r[2] for r in rows}))
    keys = {r[1] for r in rows}  # only these incidents' pages count (PagerDuty's dedup_key)
    triggers = Counter(r.json["dedup_key"] for r in pd_requests
                       if r.json and r.json.get("event_action") == "trigger" and r.json["dedup_key"] in keys)
    resolves = Counter(r.json["dedup_key"] for r in pd_requests
                       if r.json and r.json.get("event_action") == "resolve" and r.json["dedup_key"] in keys)
    posts = Counter(n for r in slack_requests if "chat.postMessage" in r.path
                    if (n := str(_slack_notification(r.data))) in slack_ids)
    result = {
        "scenario": "workers",
        "incidents": incidents,
        "old_leader": f"node{old_leader}",
        "new_leader": f"node{cluster('leader')}",
        "alerts_opened": alerts[0],
        "services_with_an_alert": alerts[1],
        "pagerduty_triggers_distinct": len(triggers),
        "pagerduty_resolves_distinct": len(resolves),
        "pagerduty_repeated_sends": sum(n - 1 for n in triggers.values()) + sum(n - 1 for n in resolves.values()),
        "slack_posts": sum(posts.values()),
        "slack_repeated_posts": sum(n - 1 for n in posts.values() if n > 1),
        "all_triggered": triggered,
        "all_resolved": resolved,
        "seconds_from_crash_to_last_trigger": round(recovered_at - fault_at, 1),
    }
    common.log(f"failover workers: {result}")
    cluster("start", old_leader)
    return result


def _wait_replica(node: str) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with psycopg.connect(_direct(node), autocommit=True) as conn:
                if conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone():
                    return
        except psycopg.Error:
            pass
        time.sleep(0.5)


def _get(port: int, path: str) -> tuple[int, dict | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if body else None)
    except (OSError, http.client.HTTPException, ValueError):
        return 0, None
    finally:
        conn.close()


def _replica_status(port: int) -> str | None:
    status, body = _get(port, "/health")
    return ((body or {}).get("results") or {}).get("read_replica", {}).get("status")


def _startup_pid(node: str) -> int:
    """The standby's startup process: the one that replays WAL."""
    postmaster = (Path(CLUSTER_DIR) / f"node{node}" / "data" / "postmaster.pid").read_text().split()[0]
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", postmaster], capture_output=True, text=True).stdout
    return next(int(line.split()[0]) for line in out.splitlines() if "startup" in line)


def replica_scenario(*, url: str, read_url: str, port: int, clients: int, first: int) -> dict:
    """The standby serving reads falls behind (its replay stopped), then crashes, while
    heartbeats are written: reads must fall back to the primary, writes go on."""
    with psycopg.connect(read_url, autocommit=True) as conn:
        node = str(conn.execute("SELECT inet_server_port()").fetchone()[0] - 54320)
    result: dict = {"scenario": "replica", "reading_from": f"node{node}"}
    reads: Counter = Counter()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            reads[str(_get(port, f"/service/bench-{first}")[0])] += 1
            time.sleep(0.02)

    with Load(port, clients, first) as load:
        threading.Thread(target=reader, daemon=True).start()
        time.sleep(3)
        result["replica_status_before"] = _replica_status(port)
        # Stop the standby's replay (its startup process) while its WAL receiver goes on,
        # as a replay stuck behind a long query would; Patroni undoes pg_wal_replay_pause().
        startup = _startup_pid(node)
        os.kill(startup, signal.SIGSTOP)
        paused_at = time.time()
        _until(lambda: _replica_status(port) == "lagging", 60)
        result["seconds_to_fall_back_when_lagging"] = round(time.time() - paused_at, 1)
        # a service registered now is on the primary only: a read must find it
        conn_http = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn_http.request("POST", "/service", json.dumps({"heartbeat_name": "after-pause", "service_name": "svc",
                                                           "alert_interval": 5}), {"Content-Type": "application/json"})
        conn_http.getresponse().read()
        result["read_of_a_write_made_while_lagging"] = _get(port, "/service/after-pause")[0]
        os.kill(startup, signal.SIGCONT)
        resumed_at = time.time()
        _until(lambda: _replica_status(port) == "up", 60)
        result["seconds_to_use_it_again"] = round(time.time() - resumed_at, 1)
        writes_before = len(load.replies)
        crashed_at = time.time()
        cluster("crash", node)
        _until(lambda: _replica_status(port) in ("down", "lagging"), 60)
        time.sleep(10)
        after = load.replies[writes_before:]
        stop.set()
    ok = sorted(answered for _, answered, s, _ in after if s == 201)
    gaps = [b - a for a, b in zip([crashed_at, *ok], ok)]
    result.update({
        "reads": dict(reads),
        "writes_after_standby_crash": dict(Counter(str(s) for *_, s, _ in after)),
        "seconds_without_a_201_after_standby_crash": round(max(gaps, default=0), 2),
    })
    common.log(f"failover replica: {result}")
    cluster("start", node)
    return result


def no_standby_scenario(*, url: str, port: int, clients: int, first: int, hold: float = 15) -> dict:
    """Both standbys crash under load: in strict synchronous mode the primary acknowledges
    nothing (a 201 is on two nodes or not at all) until one of them is back."""
    seed.seed_services(url, clients * SERVICES_PER_CLIENT, datetime.now(timezone.utc), first=first)
    leader = cluster("leader")
    standbys = [n for n in ("1", "2", "3") if n != leader]
    with Load(port, clients, first) as load:
        time.sleep(5)
        fault_at = time.time()
        for node in standbys:
            cluster("crash", node)
        time.sleep(hold)
        restart_at = time.time()
        cluster("start", standbys[0])  # waits until it replicates again
        _until(lambda: any(s == 201 and sent > restart_at for sent, _, s, _ in list(load.replies)), 120)
        time.sleep(5)
    held = [s for sent, answered, s, _ in load.replies if sent > fault_at + 1 and answered < restart_at]
    back = sorted(answered for sent, answered, s, _ in load.replies if s == 201 and sent > restart_at)
    ok = Counter(name for _, _, s, name in load.replies if s == 201)
    stored = _stored(url, first, clients * SERVICES_PER_CLIENT)
    result = {
        "scenario": "no_standby",
        "old_leader": f"node{leader}", "new_leader": f"node{cluster('leader')}",
        "held_seconds": hold,
        "acknowledged_with_no_standby": sum(1 for s in held if s == 201),
        "statuses_with_no_standby": dict(Counter(str(s) for s in held)),
        "seconds_from_standby_start_to_first_201": round(back[0] - restart_at, 2) if back else None,
        "answered_201": sum(ok.values()), "stored_rows": sum(stored.values()),
        "lost": sum(max(0, ok[name] - stored[name]) for name in ok),
    }
    common.log(f"failover no_standby: {result}")
    cluster("start", standbys[1])
    return result


SCENARIOS = ("crash", "switchover", "partition")
ALL_SCENARIOS = (*SCENARIOS, "replica", "workers", "no_standby")


def run(*, clients: int = 16, reuse: bool = False, only: set[str] | None = None) -> dict:
    if not reuse:
        cluster("up")  # refuses when a cluster is already there; then nothing is torn down
    try:
        url = cluster("url")
        for node in ("1", "2", "3"):
            cluster("heal", node)  # a run stopped half-way may have left one cut off
        with psycopg.connect(url.replace("/medic?", "/postgres?"), autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS medic WITH (FORCE)")
            conn.execute("CREATE DATABASE medic")
        seed.migrate(url)
        seed.seed_services(url, (len(SCENARIOS) + 1) * clients * SERVICES_PER_CLIENT + 200, datetime.now(timezone.utc))
        with psycopg.connect(url, autocommit=True) as conn:  # none of these go down during the run
            conn.execute("UPDATE services SET alert_interval = 120, deadline = extract(epoch FROM now()) + 7200")
        read_url = url.replace("target_session_attrs=read-write", "target_session_attrs=standby")
        server = common.start_medic_serve(url, name="medic-serve-cluster", LOG_LEVEL="WARNING",
                                          MEDIC_DATABASE_READ_URL=read_url)
        wanted = lambda kind: only is None or kind in only  # noqa: E731
        with common.running(server):
            runs = []
            for i, kind in enumerate(SCENARIOS):
                if wanted(kind):
                    runs.append(scenario(kind, url=url, port=server.port, clients=clients,
                                         first=i * clients * SERVICES_PER_CLIENT))
                    time.sleep(5)  # let the cluster settle (sync standby assigned) before the next fault
            if wanted("replica"):
                runs.append(replica_scenario(url=url, read_url=read_url, port=server.port, clients=clients,
                                             first=len(SCENARIOS) * clients * SERVICES_PER_CLIENT + 200))
                time.sleep(5)
            if wanted("workers"):
                runs.append(workers_scenario(url=url, port=server.port,
                                             first=(len(SCENARIOS) + 1) * clients * SERVICES_PER_CLIENT + 200))
                time.sleep(5)
            if wanted("no_standby"):
                runs.append(no_standby_scenario(url=url, port=server.port, clients=clients,
                                                first=(len(SCENARIOS) + 1) * clients * SERVICES_PER_CLIENT + 300))
        return {"clients": clients, "runs": runs, "cluster": "deploy/cluster/cluster.sh (3 nodes, synchronous_mode_strict, ttl 10 s, loop_wait 2 s)"}
    finally:
        if not reuse:
            cluster("down")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--reuse", action="store_true", help="use a cluster already started with cluster.sh up")
    parser.add_argument("--only", nargs="+", choices=ALL_SCENARIOS,
                        help="run these scenarios; the others' results already saved are kept")
    args = parser.parse_args()
    if (not args.only or "partition" in args.only) and shutil.which("iptables") is None:
        parser.exit(2, "the partition scenario needs iptables (apt-get install iptables); "
                       "or leave it out with --only\n")  # found before minutes of other scenarios
    env = environment.describe()
    result = run(clients=args.clients, reuse=args.reuse, only=set(args.only) if args.only else None)
    if args.only and (saved := common.load("full/failover")):
        kept = [r for r in saved["runs"] if r["scenario"] not in args.only]
        result["runs"] = sorted(kept + result["runs"], key=lambda r: ALL_SCENARIOS.index(r["scenario"]))
    result["environment"] = env
    result["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    common.save("full/failover", result)
    common.log(f"wrote {report.write('full')}")


if __name__ == "__main__":
    main()
