"""Ceilings: the same gunicorn settings serving less and less, to show where ingest time goes.

- raw WSGI: reads the body, answers a fixed 201 (gunicorn's own cost);
- Flask: parses the JSON, answers with jsonify (the framework's cost);
- Medic without a database: Medic's real app (validation, auth and rate-limit hooks,
  access log, metrics, reply envelope) with the store replaced by an in-memory stub.
A heartbeat Medic stores can cost no less than the third line; the baseline's whole
request (Flask plus one INSERT) sits between the second and the third.
"""

from __future__ import annotations

from bench import common

APPS = {
    "raw WSGI": "bench.ceiling:wsgi_app",
    "Flask, no database": "bench.ceiling:flask_app",
    "Medic, store stubbed out": "bench.ceiling:medic_without_database()",
}


def run(*, runs: int, seconds: int, connections=(16, 64)) -> dict:
    out: dict = {"apps": {name: {str(c): [] for c in connections} for name in APPS}, "seconds": seconds, "runs": runs,
                 "settings": {"web_worker_class": common.WEB_WORKER_CLASS, "web_concurrency": common.WEB_CONCURRENCY,
                              "web_connections": common.WEB_CONNECTIONS, "web_threads": common.WEB_THREADS}}
    url = common.pg_url("medic_bench")  # only read by Medic's settings; the stub never writes
    for run in range(runs):
        for name, target in APPS.items():
            port = common.free_port()
            argv = [common.GUNICORN, "--bind", f"127.0.0.1:{port}", *common.gunicorn_settings(), target]
            server = common.Server("ceiling", argv, common.medic_env(url), port)
            with common.running(server):
                common.wrk(server.url, connections=16, seconds=1)
                for c in connections:
                    with common.CpuMeter(server, None) as cpu:
                        r = common.wrk(server.url, connections=c, seconds=seconds)
                    r["cpu_ms_per_request"] = 1000 * cpu.seconds["server"] / max(r["requests"], 1)
                    out["apps"][name][str(c)].append(r)
                    common.log(f"ceiling {name} c={c} run {run + 1}/{runs}: {r['rps']:.0f} req/s, "
                               f"p99 {r['p99_us'] / 1000:.1f} ms, CPU {r['cpu_ms_per_request']:.2f} ms/request")
    return out
