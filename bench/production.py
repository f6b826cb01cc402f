"""Ingest as production runs it: authentication on, a new connection per heartbeat, and
many idle keep-alive connections (issue "Performance", targets 3 to 5).

- auth: `medic serve` with MEDIC_AUTH=required and 100 keys scoped `heartbeat`, wrk
  sending them in turn, against the same server settings with authentication disabled;
  runs interleaved, the stored/s ratio taken run by run.
- no keep-alive: every request on a new connection (Connection: close, as `curl` from
  cron), Medic and the baseline at the same concurrency, runs interleaved.
- idle connections: IDLE keep-alive connections held open on `medic serve` (each sent
  one heartbeat first), the web processes' peak RSS read while they are open, and a
  heartbeat on a fresh connection timed meanwhile.

    python -m bench.production [--runs 3] [--seconds 10] [--connections 64] [--idle 2000]

Results: bench/results/full/production.json and the "Ingest as in production" section
of bench/RESULTS.md. Rate limiting is off in every server here, as in the other ingest
figures (it is per key and would cap the load generator, not measure Medic).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import common, environment, report
from bench.ingest import _measure, _report, _warm, baseline_rows, databases, medic_rows

KEYS = 100
REQUEST = (b"POST /heartbeat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n%s")


def _keys(url: str, directory: Path) -> Path:
    """KEYS keys scoped heartbeat, written one per line for the wrk script."""
    from medic.auth.manage import create_key
    from medic.store.engine import make_engine

    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    try:
        secrets = [create_key(engine, f"team-{n}", "heartbeat", now).key for n in range(KEYS)]
    finally:
        engine.dispose()
    path = directory / "keys.txt"
    path.write_text("\n".join(secrets) + "\n")
    return path


def _ratios(a: list[dict], b: list[dict]) -> list[float]:
    return [round(y["stored_per_s"] / x["stored_per_s"], 3) for x, y in zip(a, b)]


def auth(medic_url: str, keys_file: Path, *, runs: int, seconds: int, connections: int) -> dict:
    out: dict = {"disabled": [], "required": []}
    servers = {
        "disabled": common.start_medic_serve(medic_url, name="medic-serve-auth-off"),
        "required": common.start_medic_serve(medic_url, name="medic-serve-auth-on", MEDIC_AUTH="required",
                                              MEDIC_ANONYMOUS_HEARTBEATS="false"),
    }
    try:
        for server in servers.values():
            server.wait_ready()
        _warm(servers["disabled"], 2)
        common.wrk(servers["required"].url, connections=16, seconds=2, keys_file=keys_file)
        for run in range(runs):
            for label, server in servers.items():
                common.log(f"auth {label}, c={connections}, run {run + 1}/{runs}")
                r = _measure(server, lambda: medic_rows(medic_url), connections=connections, seconds=seconds,
                             database="medic_bench", keys_file=keys_file if label == "required" else None)
                _report(r)
                out[label].append(r)
    finally:
        for server in servers.values():
            server.stop()
    out["stored_ratio_per_run"] = _ratios(out["disabled"], out["required"])
    return out


def no_keepalive(medic_url: str, base_url: str, *, runs: int, seconds: int, connections: int) -> dict:
    out: dict = {"medic": [], "baseline": []}
    # One server at a time, as in the ingest bench (PostgreSQL's max_connections).
    starts = {"medic": (lambda: common.start_medic_serve(medic_url, name="medic-serve-close"),
                        lambda: medic_rows(medic_url), "medic_bench"),
              "baseline": (lambda: common.start_baseline(base_url, "baseline-close"),
                           lambda: baseline_rows(base_url), "medic_bench_baseline")}
    for run in range(runs):
        for label, (start, rows, database) in starts.items():
            server = start()
            try:
                server.wait_ready()
                common.wrk(server.url, connections=16, seconds=2, close=True)
                common.log(f"no keep-alive {label}, c={connections}, run {run + 1}/{runs}")
                r = _measure(server, rows, connections=connections, seconds=seconds, database=database, close=True)
                _report(r)
                out[label].append(r)
            finally:
                server.stop()
    out["stored_ratio_per_run"] = _ratios(out["baseline"], out["medic"])
    return out


def _open_idle(port: int, count: int) -> tuple[list[socket.socket], int]:
    """``count`` connections, each answered one heartbeat and then left idle."""
    held, answered = [], 0
    for n in range(count):
        body = b'{"heartbeat_name":"bench-%d","status":"UP"}' % (n % 1000)
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.append(sock)
        sock.sendall(REQUEST % (len(body), body))
        try:
            reply = sock.recv(65536)
        except TimeoutError:
            continue  # no answer within 10 s: counted as not answered
        answered += reply.startswith(b"HTTP/1.1 201")
    return held, answered


def idle(medic_url: str, *, count: int) -> dict:
    # Keep-alive long enough for every connection to stay open while it is measured, and
    # room for them: an open connection holds one of WEB_CONNECTIONS per process until
    # WEB_KEEPALIVE_SECONDS of silence close it, so at the default 2 x 1,000 the 2,001st
    # would wait.
    per_process = str(count // int(common.WEB_CONCURRENCY) + 500)
    server = common.start_medic_serve(medic_url, name="medic-serve-idle", WEB_KEEPALIVE_SECONDS="300",
                                      WEB_CONNECTIONS=per_process)
    held: list[socket.socket] = []
    try:
        server.wait_ready()
        before = {pid: common.peak_rss_kib(pid) for pid in server.children()}
        started = time.monotonic()
        held, answered = _open_idle(server.port, count)
        opened_s = time.monotonic() - started
        probe_started = time.monotonic()
        fresh, fresh_answered = _open_idle(server.port, 1)
        probe_ms = 1000 * (time.monotonic() - probe_started)
        held += fresh
        after = {pid: common.peak_rss_kib(pid) for pid in server.children()}
    finally:
        for sock in held:
            sock.close()
        server.stop()
    result = {
        "connections": count, "answered_201": answered, "opened_seconds": round(opened_s, 2),
        "fresh_heartbeat_ms": round(probe_ms, 1), "fresh_answered": bool(fresh_answered),
        "web_peak_rss_mib_before": max(v for v in before.values() if v) / 1024,
        "web_peak_rss_mib_with_idle": max(v for v in after.values() if v) / 1024,
        "web_processes": len(after), "web_connections_per_process": int(per_process),
    }
    common.log(f"idle: {answered}/{count} answered, web peak RSS {result['web_peak_rss_mib_before']:.0f} -> "
               f"{result['web_peak_rss_mib_with_idle']:.0f} MiB; a fresh heartbeat meanwhile {probe_ms:.0f} ms")
    return result


def run(*, runs: int, seconds: int, connections: int, idle_count: int) -> dict:
    medic_url, base_url = databases()
    directory = Path(tempfile.mkdtemp(prefix="medic-bench-keys-"))
    keys_file = _keys(medic_url, directory)
    results = {
        "connections": connections, "seconds": seconds, "keys": KEYS,
        "auth": auth(medic_url, keys_file, runs=runs, seconds=seconds, connections=connections),
        "no_keepalive": no_keepalive(medic_url, base_url, runs=runs, seconds=seconds, connections=connections),
        "idle": idle(medic_url, count=idle_count),
    }
    results["auth"]["median_ratio"] = statistics.median(results["auth"]["stored_ratio_per_run"])
    results["no_keepalive"]["median_ratio"] = statistics.median(results["no_keepalive"]["stored_ratio_per_run"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--idle", type=int, default=2000)
    args = parser.parse_args()
    data = {"environment": environment.describe(),
            **run(runs=args.runs, seconds=args.seconds, connections=args.connections, idle_count=args.idle)}
    common.save("full/production", data)
    common.log(f"wrote {report.write('full')}")


if __name__ == "__main__":
    main()
