"""Soak: a bounded bad day for `medic serve` and two `medic worker` processes on PostgreSQL.

`python -m bench.soak [--minutes 20] [--services 5000] [--rate 300] [--kill-every 240]`

- A throwaway PostgreSQL cluster of its own (initdb into /tmp/medic-soak-pg, port 19010),
  restarted once mid-run and removed at the end, so no other user of the machine's
  database server is disturbed.
- 5,000 services (alert_interval 1 minute, threshold 1, no grace), heartbeats at a steady
  rate spread evenly over them by a separate load process that counts every 201 per service.
- Flapping: every 45 s a block of 1% of the services goes silent for 110 s, so each block
  is paged (trigger) and then resolved.
- PagerDuty and Slack stand-ins (tests/fakes/providers.py, real HTTP servers on 127.0.0.1)
  failing in bursts: 500s, 429s with Retry-After, and 5 s answers around each kill.
- Worker "b" is killed with SIGKILL every --kill-every seconds (during a slow burst, so
  sends are in flight) and restarted 5 s later; worker "a" lives through the whole run (its
  RSS at start and end is the leak check).

Every worker process incarnation talks to the stand-ins under its own URL prefix (/a0/,
/b0/, /b1/, ...), so each delivery the stand-ins accept is attributed to the process that
sent it. Right after each kill the outbox rows still claimed ("sending") are recorded: a
second delivery of a notification is *in a crash window* only when the killed process had
sent a copy and the row was still claimed when it died; any other second delivery is a
duplicate outside a crash window.

Results go to bench/results/soak.json (`--quick`: soak-quick.json); the full run also
rewrites bench/RESULTS.md, whose "Soak" section comes from soak.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from bench import common, seed

PG_DIR = Path("/tmp/medic-soak-pg")
PG_PORT = 19010
WEB_PORT = 19001
PAGERDUTY_PORT, SLACK_PORT = 19030, 19031
METRICS_PORTS = {"a": 19021, "b": 19022}
DB = "medic_soak"
LOG_DIR = Path("/tmp/medic-soak-logs")
WORKER_INTERVAL_SECONDS = 5
NOTIFY_TIMEOUT_SECONDS = 10  # the lease is 4 x this + 20 s = 60 s
SLOW_SECONDS = 5.0  # a slow provider's answer, under the send timeout
WAVE_EVERY, SILENT_FOR = 45.0, 110.0
LOAD_THREADS = 32
DRAIN_SECONDS = 240.0
PG_DOWN_SECONDS = 5.0


# -- the plan -------------------------------------------------------------------


@dataclasses.dataclass
class Plan:
    seconds: float
    services: int
    rate: float
    waves: list[tuple[float, float, int, int]]  # (start, end, first service, count), seconds from t0
    kills: list[float]
    pg_restart: float
    bursts: list[tuple[float, float, str, str]]  # (start, end, channel, mode: 500 | 429 | slow)


def make_plan(minutes: float, services: int, rate: float, kill_every: float) -> Plan:
    seconds = minutes * 60
    block = max(1, services // 100)
    waves, start, k = [], 20.0, 0
    while start + SILENT_FOR <= seconds - 10:
        waves.append((start, start + SILENT_FOR, (k * block) % services, block))
        start += WAVE_EVERY
        k += 1
    # Kills land while a wave's triggers go out (about 75 s after it went silent), the
    # first once pages have started, none in the last 30 s (the drain covers their reclaims).
    kills, t = [], max(kill_every * 0.75, 90.0)
    while True:
        t = _while_paging(t)
        if t > seconds - 30:
            break
        kills.append(t)
        t += kill_every
    # Failure bursts and the database restart go between kills, while pages are going out.
    marks = [0.0, *kills, seconds]
    gaps = [(a + b) / 2 for a, b in zip(marks, marks[1:]) if 80 <= (a + b) / 2 <= seconds - 20]
    pg_restart = min(gaps, key=lambda g: abs(g - seconds / 2))
    bursts = []
    for kill in kills:
        bursts += [(kill - 15, kill + 5, "pagerduty", "slow"), (kill - 15, kill + 5, "slack", "slow")]
    modes = [[("pagerduty", "500", 30)], [("slack", "500", 30)], [("pagerduty", "429", 20), ("slack", "429", 20)]]
    for i, gap in enumerate(g for g in gaps if g != pg_restart):
        for channel, mode, length in modes[i % len(modes)]:
            bursts.append((gap, gap + length, channel, mode))
    return Plan(seconds, services, rate, waves, kills, pg_restart, sorted(bursts))


def _while_paging(t: float) -> float:
    """The first time >= t that is 75 s after the start of a wave (first wave at 20 s)."""
    phase = (20.0 + 75.0) % WAVE_EVERY
    return t + (phase - t) % WAVE_EVERY


def silenced(waves: list[tuple[float, float, int, int]], services: int, index: int, t: float) -> bool:
    """Whether service ``index`` is silent at ``t`` (same clock as the waves)."""
    for start, end, first, count in waves:
        if start <= t < end and (index - first) % services < count:
            return True
    return False


# -- accounting -------------------------------------------------------------------


def classify_duplicates(deliveries: list[tuple[int, str, float]], kills: list[dict]) -> dict:
    """Split extra deliveries into those a worker kill explains and the rest.

    ``deliveries``: (notification id, sending process tag, time) for every delivery a
    stand-in accepted. ``kills``: {"tag", "at", "in_flight": notification ids still
    claimed right after the kill}. A notification delivered n times has n - 1 extra
    copies; each kill whose process sent a copy before dying while the row was still
    claimed explains one of them.
    """
    by_id: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for nid, tag, at in deliveries:
        by_id[nid].append((tag, at))
    in_window = outside = 0
    unexplained = []
    for nid, copies in sorted(by_id.items()):
        extra = len(copies) - 1
        if extra <= 0:
            continue
        explained = sum(
            1 for kill in kills
            if nid in kill["in_flight"] and any(tag == kill["tag"] and at <= kill["at"] for tag, at in copies)
        )
        in_window += min(extra, explained)
        if extra > explained:
            outside += extra - explained
            unexplained.append({"notification_id": nid, "copies": sorted(copies, key=lambda c: c[1])})
    return {"extra_copies_in_crash_window": in_window, "extra_copies_outside_crash_window": outside,
            "outside": unexplained}


def lost_heartbeats(answered: dict[str, int], stored: dict[str, int]) -> dict:
    """Per service: answers (201) beyond the rows stored are lost heartbeats."""
    lost = {name: n - stored.get(name, 0) for name, n in answered.items() if n > stored.get(name, 0)}
    unanswered = sum(max(0, n - answered.get(name, 0)) for name, n in stored.items())
    return {"lost": sum(lost.values()), "services_with_loss": sorted(lost)[:20],
            "stored_without_201": unanswered}


# -- PostgreSQL cluster ------------------------------------------------------------------


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise SystemExit("no PostgreSQL server binaries under /usr/lib/postgresql")
    return versions[-1].parent


class Cluster:
    """A PostgreSQL cluster of the soak's own, run as the postgres user when root."""

    def __init__(self, directory: Path = PG_DIR, port: int = PG_PORT):
        self.dir, self.port, self.bin = directory, port, _pg_bin()
        self.opts = f"-p {port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on"

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, text=True)

    def init(self) -> None:
        self.remove()
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.dir), "-A", "trust", "-U", "postgres", "--no-sync")

    def _ctl(self, action: str, *extra: str) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
                  "-o", self.opts, *extra, action)

    def start(self) -> None:
        self._ctl("start")

    def restart(self, down_seconds: float = 0) -> None:
        """Stop (fast: sessions cut), stay down ``down_seconds``, start again."""
        self._ctl("stop", "-m", "fast")
        time.sleep(down_seconds)
        self._ctl("start")

    def remove(self) -> None:
        if (self.dir / "postmaster.pid").exists():
            try:
                self._ctl("stop", "-m", "fast")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"


# -- load -------------------------------------------------------------------------


def _load_process(port: int, services: int, rate: float, waves: list, t0: float, stop, out_path: str) -> None:
    """Heartbeats at ``rate``/s, each service every services/rate seconds, silent ones skipped."""
    answered = [0] * services
    statuses: Counter = Counter()
    errors: Counter = Counter()
    lock = threading.Lock()
    per = LOAD_THREADS / rate
    abs_waves = [(t0 + a, t0 + b, f, c) for a, b, f, c in waves]

    def run(i: int) -> None:
        conn = None
        mine = list(range(i, services, LOAD_THREADS))
        start, k = time.time(), 0
        while not stop.is_set():
            for s in mine:
                if stop.is_set():
                    break
                k += 1
                delay = start + k * per - time.time()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -5:  # far behind (the database was down): do not storm
                    start, k = time.time(), 0
                if silenced(abs_waves, services, s, time.time()):
                    continue
                body = json.dumps({"heartbeat_name": f"bench-{s}", "status": "UP"})
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("POST", "/heartbeat", body, {"Content-Type": "application/json"})
                    reply = conn.getresponse()
                    reply.read()
                    with lock:
                        statuses[reply.status] += 1
                        if reply.status == 201:
                            answered[s] += 1
                    if reply.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as exc:
                    with lock:
                        errors[type(exc).__name__] += 1
                    if conn is not None:
                        conn.close()
                    conn = None

    began = time.time()
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(LOAD_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    Path(out_path).write_text(json.dumps({
        "answered": {f"bench-{i}": n for i, n in enumerate(answered) if n},
        "statuses": {str(k): v for k, v in statuses.items()}, "errors": dict(errors),
        "seconds": time.time() - began,
    }))


# -- stand-ins ------------------------------------------------------------------------


class StandIns:
    """PagerDuty and Slack stand-ins that fail by the plan and record accepted deliveries."""

    def __init__(self, bursts_abs: list[tuple[float, float, str, str]]):
        from tests.fakes.providers import fake_pagerduty, fake_slack

        self.bursts = bursts_abs
        self.lock = threading.Lock()
        self.deliveries: list[dict] = []  # {"channel", "key", "tag", "at"}
        self.refused: Counter = Counter()
        self.requests: Counter = Counter()
        self.pagerduty = fake_pagerduty().start(PAGERDUTY_PORT)
        self.slack = fake_slack().start(SLACK_PORT)
        self._wrap(self.pagerduty, "pagerduty")
        self._wrap(self.slack, "slack")

    def mode(self, channel: str, t: float) -> str | None:
        for start, end, ch, mode in self.bursts:
            if ch == channel and start <= t < end:
                return mode
        return None

    def _wrap(self, provider, channel: str) -> None:
        from tests.fakes.providers import Response

        original = provider.set_default(Response(500))

        def reply(req):
            tag = req.path.split("/")[1]
            now = time.time()
            mode = self.mode(channel, now)
            with self.lock:
                self.requests[f"{channel}:{tag}"] += 1
            if mode == "500":
                with self.lock:
                    self.refused[f"{channel}:500"] += 1
                return Response(500, {"error": "soak burst"})
            if mode == "429":
                with self.lock:
                    self.refused[f"{channel}:429"] += 1
                body = {"ok": False, "error": "ratelimited"} if channel == "slack" else {"status": "throttled"}
                return Response(429, body, headers={"Retry-After": "5"})
            answer = original(req)
            key = self._key(channel, req, answer)
            if key is not None:
                with self.lock:
                    self.deliveries.append({"channel": channel, "key": key, "tag": tag, "at": now})
            return dataclasses.replace(answer, delay=SLOW_SECONDS) if mode == "slow" else answer

        provider.set_default(reply)

    @staticmethod
    def _key(channel: str, req, answer):
        if channel == "pagerduty":
            if answer.status == 202 and isinstance(req.json, dict):
                return (req.json.get("dedup_key"), req.json.get("event_action"))
            return None
        if not req.path.endswith("/chat.postMessage") or not (answer.json or {}).get("ok"):
            return None
        metadata = (req.data or {}).get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        return int(((metadata or {}).get("event_payload") or {}).get("notification_id") or -1)

    def stop(self) -> None:
        self.pagerduty.stop()
        self.slack.stop()


# -- processes ------------------------------------------------------------------------


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


METRIC = re.compile(r"^(medic_notification_(?:reclaims|resends_avoided)_total)\{[^}]*\}\s+([0-9.e+]+)$", re.M)


def _scrape(port: int) -> dict[str, float] | None:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    totals: dict[str, float] = defaultdict(float)
    for name, value in METRIC.findall(text):
        totals[name] += float(value)
    return dict(totals)


class Workers:
    def __init__(self, url: str):
        self.url = url
        self.count = Counter()
        self.live: dict[str, tuple[str, common.Server]] = {}
        self.metrics: dict[str, dict[str, float]] = {}  # last scrape per incarnation

    def start(self, slot: str) -> str:
        tag = f"{slot}{self.count[slot]}"
        self.count[slot] += 1
        env = common.medic_env(
            self.url,
            WORKER_INTERVAL_SECONDS=str(WORKER_INTERVAL_SECONDS),
            NOTIFY_TIMEOUT_SECONDS=str(NOTIFY_TIMEOUT_SECONDS),
            WORKER_METRICS_PORT=str(METRICS_PORTS[slot]),
            WORKER_LIVENESS_FILE=f"/tmp/medic-soak-worker-{slot}.alive",
            PAGERDUTY_ROUTING_KEY="soak-routing-key",
            PAGERDUTY_EVENTS_URL=f"http://127.0.0.1:{PAGERDUTY_PORT}/{tag}/v2/enqueue",
            SLACK_API_TOKEN="xoxb-soak-token",
            SLACK_CHANNEL_ID="CSOAK",
            SLACK_API_URL=f"http://127.0.0.1:{SLACK_PORT}/{tag}/api/",
        )
        server = common.Server(f"soak-worker-{tag}", [common.MEDIC, "worker"], env, METRICS_PORTS[slot])
        server.wait_ready(timeout=60)
        self.live[slot] = (tag, server)
        return tag

    def scrape(self) -> None:
        for slot, (tag, _) in list(self.live.items()):
            got = _scrape(METRICS_PORTS[slot])
            if got is not None:
                self.metrics[tag] = got

    def kill(self, slot: str) -> tuple[str, float]:
        tag, server = self.live.pop(slot)
        self.scrape_one(slot, tag)
        at = time.time()
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        server._log.close()
        return tag, at

    def scrape_one(self, slot: str, tag: str) -> None:
        got = _scrape(METRICS_PORTS[slot])
        if got is not None:
            self.metrics[tag] = got

    def pids(self) -> dict[str, int]:
        return {slot: server.proc.pid for slot, (_, server) in self.live.items()}

    def stop(self) -> None:
        for slot in list(self.live):
            _, server = self.live.pop(slot)
            server.stop()

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for values in self.metrics.values():
            for name, value in values.items():
                out[name] += value
        return dict(out)


def _rss(web: common.Server, workers: Workers) -> dict:
    return {
        "web_master_kib": _rss_kib(web.proc.pid),
        "web_workers_kib": [_rss_kib(pid) for pid in web.children()],
        **{f"worker_{slot}_kib": _rss_kib(pid) for slot, pid in workers.pids().items()},
        **{f"worker_{slot}_tag": tag for slot, (tag, _) in workers.live.items()},
    }


def _query(url: str, sql: str, params=None, attempts: int = 30) -> list:
    for attempt in range(attempts):
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
                cur = conn.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except psycopg.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    return []


# -- the run ----------------------------------------------------------------------------


def run(minutes: float, services: int, rate: float, kill_every: float) -> dict:
    common.LOG_DIR = LOG_DIR
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    plan = make_plan(minutes, services, rate, kill_every)
    common.log(f"soak: {minutes} min, {services} services, {rate}/s, {len(plan.waves)} waves, kills at "
               f"{[round(k) for k in plan.kills]} s, PostgreSQL restart at {plan.pg_restart:.0f} s")
    cluster = Cluster()
    cluster.init()
    cluster.start()
    web = stand = load = None
    workers: Workers | None = None
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DB}"')
        url = cluster.url(DB)
        seed.migrate(url)
        seed.seed_services(url, services, datetime.now(timezone.utc))
        _query(url, "UPDATE services SET alert_interval = 1, deadline = extract(epoch FROM now()) + 90")

        t0 = time.time() + 15  # the web and workers start meanwhile
        stand = StandIns([(t0 + a, t0 + b, ch, m) for a, b, ch, m in plan.bursts])
        web = common.Server("soak-web", [common.MEDIC, "serve"], common.medic_env(url, PORT=str(WEB_PORT)), WEB_PORT)
        web.wait_ready(timeout=60)
        workers = Workers(url)
        workers.start("a")
        workers.start("b")

        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        load_out = LOG_DIR / "load.json"
        load = ctx.Process(target=_load_process, args=(WEB_PORT, services, rate, plan.waves, t0, stop, str(load_out)))
        load.start()

        events = [(t0 + k, "kill") for k in plan.kills] + [(t0 + plan.pg_restart, "pg")]
        events.sort()
        kills, pg = [], {}
        rss_start = None
        samples = []
        next_sample = t0 + 30
        while time.time() < t0 + plan.seconds:
            now = time.time()
            if events and now >= events[0][0]:
                _, what = events.pop(0)
                if what == "kill":
                    tag, at = workers.kill("b")
                    in_flight = [r[0] for r in _query(url, "SELECT notification_id FROM notifications WHERE state = 'sending'")]
                    kills.append({"tag": tag, "at": at, "at_s": round(at - t0, 1), "in_flight": in_flight})
                    common.log(f"  killed worker {tag} at {at - t0:.0f} s with {len(in_flight)} claimed notification(s)")
                    time.sleep(5)
                    common.log(f"  started worker {workers.start('b')}")
                else:
                    started = time.time()
                    cluster.restart(PG_DOWN_SECONDS)
                    pg = {"at": started - t0, "seconds": time.time() - started}
                    common.log(f"  PostgreSQL restarted at {pg['at']:.0f} s in {pg['seconds']:.1f} s")
            if now >= next_sample:
                workers.scrape()
                sample = {"t": round(now - t0), **_rss(web, workers)}
                samples.append(sample)
                rss_start = rss_start or sample
                next_sample += 30
                common.log(f"  {sample['t']} s: RSS web {sample['web_workers_kib']} KiB, workers "
                           f"{sample.get('worker_a_kib')}/{sample.get('worker_b_kib')} KiB, "
                           f"stand-ins accepted {len(stand.deliveries)}")
            time.sleep(0.5)

        common.log("  load window over; draining the outbox")
        drain_started = time.time()
        while time.time() < drain_started + DRAIN_SECONDS:
            (open_rows,), = _query(url, "SELECT count(*) FROM notifications WHERE state IN ('pending', 'sending')")
            (down,), = _query(url, "SELECT count(*) FROM services WHERE down")
            if open_rows == 0 and down == 0:
                break
            workers.scrape()
            time.sleep(2)
        drain_seconds = time.time() - drain_started
        workers.scrape()
        rss_end = {"t": round(time.time() - t0), **_rss(web, workers)}
        stop.set()
        load.join(timeout=30)
        time.sleep(1)
        (LOG_DIR / "raw.json").write_text(json.dumps(  # for a second look if the analysis fails
            {"t0": t0, "kills": kills, "pg": pg, "deliveries": stand.deliveries, "samples": samples}, default=str))
        data = _analyse(url, plan, load_out, stand, workers, kills, pg, rss_start, rss_end, samples, drain_seconds)
        data["t0"] = t0
        from bench import environment

        common.PG_ADMIN = cluster.url()  # describe the soak's own cluster
        data["environment"] = environment.describe()
        return data
    finally:
        if load is not None and load.is_alive():
            load.terminate()
        if workers is not None:
            workers.stop()
        if web is not None:
            web.stop()
        if stand is not None:
            stand.stop()
        cluster.remove()


def _analyse(url, plan, load_out, stand, workers, kills, pg, rss_start, rss_end, samples, drain_seconds) -> dict:
    load = json.loads(load_out.read_text())
    stored = dict(_query(url, "SELECT s.heartbeat_name, count(*) FROM heartbeat_events e "
                              "JOIN services s ON s.service_id = e.service_id GROUP BY s.heartbeat_name"))
    heartbeats = {"answered_201": sum(load["answered"].values()), "stored": sum(stored.values()),
                  "sent_per_s": (sum(load["statuses"].values()) + sum(load["errors"].values())) / load["seconds"],
                  **lost_heartbeats(load["answered"], stored), "statuses": load["statuses"], "errors": load["errors"]}

    rows = _query(url, "SELECT notification_id, channel, kind, state, attempts, payload->>'dedup_key' FROM notifications")
    by_pd_key = {(dedup, kind): nid for nid, channel, kind, _, _, dedup in rows if channel == "pagerduty"}
    deliveries = []
    for d in stand.deliveries:
        nid = by_pd_key.get(tuple(d["key"])) if d["channel"] == "pagerduty" else d["key"]
        deliveries.append((nid if nid is not None else -1, d["tag"], d["at"]))
    delivered_ids = Counter(nid for nid, _, _ in deliveries)
    states = Counter(state for _, _, _, state, _, _ in rows)
    (alerts, resolved), = _query(url, "SELECT count(*), count(*) FILTER (WHERE NOT active) FROM alerts")
    dup = classify_duplicates(deliveries, [{**k, "in_flight": set(k["in_flight"])} for k in kills])

    logs = "".join(p.read_text(errors="replace") for p in LOG_DIR.glob("soak-worker-*.log"))
    metrics = workers.totals()
    return {
        "command": f"python -m bench.soak --minutes {plan.seconds / 60:g} --services {plan.services} --rate {plan.rate:g}",
        "plan": dataclasses.asdict(plan),
        "settings": {"worker_interval_seconds": WORKER_INTERVAL_SECONDS, "notify_timeout_seconds": NOTIFY_TIMEOUT_SECONDS,
                     "lease_seconds": NOTIFY_TIMEOUT_SECONDS * 4 + 20, "slow_seconds": SLOW_SECONDS,
                     "alert_interval_minutes": 1, "threshold": 1, "wave_every": WAVE_EVERY, "silent_for": SILENT_FOR,
                     "web": f"medic serve, {common.WEB_WORKER_CLASS}, {common.WEB_CONCURRENCY} processes"},
        "heartbeats": heartbeats,
        "alerts": {"opened": alerts, "resolved": resolved},
        "notifications": {"rows": len(rows), "states": dict(states),
                          "never_reached_stand_in": sum(1 for nid, *_ in rows if delivered_ids[nid] == 0),
                          "max_attempts": max((r[4] for r in rows), default=0)},
        "deliveries": {"accepted": len(deliveries), "unmatched": delivered_ids.get(-1, 0),
                       "by_channel": dict(Counter(d["channel"] for d in stand.deliveries)),
                       "refused_in_bursts": dict(stand.refused), "requests_by_process": dict(stand.requests)},
        "duplicates": dup,
        "kills": [{"tag": k["tag"], "at_s": k["at_s"], "claimed_at_kill": len(k["in_flight"])} for k in kills],
        "pg_restart": pg,
        "resends_after_crash": {
            "reclaims_metric": metrics.get("medic_notification_reclaims_total", 0),
            "resends_avoided_metric": metrics.get("medic_notification_resends_avoided_total", 0),
            "reclaims_logged": logs.count("claim expired"),
            "claim_lost_logged": logs.count("claim lost before recording"),
            "record_db_errors_logged": logs.count("database error while recording"),
        },
        "rss_start": rss_start, "rss_end": rss_end, "rss_samples": samples,
        "drain_seconds": drain_seconds,
    }


def _interrupted(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--kill-every", type=float, default=210, help="seconds between kills of worker b")
    parser.add_argument("--quick", action="store_true", help="write soak-quick.json, leave RESULTS.md alone")
    args = parser.parse_args()
    # Stopped early (SIGTERM, or SIGINT even when started in the background): clean up.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _interrupted)
    started = time.perf_counter()
    data = run(args.minutes, args.services, args.rate, args.kill_every)
    data["elapsed_seconds"] = time.perf_counter() - started
    if args.kill_every != 210:
        data["command"] += f" --kill-every {args.kill_every:g}"
    key = "soak-quick" if args.quick else "soak"
    path = common.save(key, data)
    common.log(f"wrote {path}")
    d = data
    common.log(
        f"heartbeats answered 201 {d['heartbeats']['answered_201']}, stored {d['heartbeats']['stored']}, lost "
        f"{d['heartbeats']['lost']}; alerts {d['alerts']}; deliveries {d['deliveries']['accepted']}; extra copies in "
        f"crash windows {d['duplicates']['extra_copies_in_crash_window']}, outside "
        f"{d['duplicates']['extra_copies_outside_crash_window']}; re-sends {d['resends_after_crash']}"
    )
    if not args.quick:
        from bench import report

        common.log(f"wrote {report.write('full')}")


if __name__ == "__main__":
    main()
