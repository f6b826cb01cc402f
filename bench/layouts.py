"""gunicorn layouts: Medic and the baseline under several worker classes and process counts.

What chose `medic serve`'s defaults (gevent, 2 processes on PostgreSQL; gevent's WSGI
server rather than gunicorn's HTTP parser), and a check that
the baseline the ingest target compares against runs under its own best layout too. Same
databases, wrk load and measurement as the ingest part (bench/ingest.py), runs interleaved.
"""

from __future__ import annotations

from bench import common, ingest

# name: (WEB_WORKER_CLASS, WEB_CONCURRENCY); WEB_THREADS stays at 16 for gthread.
MEDIC = {"gthread 4x16": ("gthread", "4"), "gevent 2": ("gevent", "2"), "gevent 4": ("gevent", "4")}
GEVENT = common.gunicorn_worker_class("gevent")
# gunicorn's own gevent worker (gunicorn's HTTP parser rather than gevent's WSGI server),
# which `medic serve` used before: the baseline, and Medic's app through bench.ceiling:medic_app().
GUNICORN_PARSER = ["--worker-class", "gevent", "--workers", "2", "--worker-connections", "1000"]
BASELINE = {
    "sync 4": ["--worker-class", "sync", "--workers", "4"],
    "gthread 4x16": ["--worker-class", "gthread", "--workers", "4", "--threads", "16"],
    "gevent 2": ["--worker-class", GEVENT, "--workers", "2", "--worker-connections", "1000"],
    "gevent 4": ["--worker-class", GEVENT, "--workers", "4", "--worker-connections", "1000"],
    "gevent 2, gunicorn's parser": GUNICORN_PARSER,
}


def run(*, runs: int, seconds: int, warm_seconds: int = 2, connections=(16, 64)) -> dict:
    medic_url, base_url = ingest.databases()
    servers = {f"medic, {name}": (lambda wc=wc, n=n: common.start_medic_serve(medic_url, WEB_WORKER_CLASS=wc,
                                                                               WEB_CONCURRENCY=n),
                                  lambda: ingest.medic_rows(medic_url), ingest.MEDIC_DB)
               for name, (wc, n) in MEDIC.items()}
    servers["medic, gevent 2, gunicorn's parser"] = (
        lambda: common.start_gunicorn_app(medic_url, "medic-gunicorn-parser", GUNICORN_PARSER, "bench.ceiling:medic_app()"),
        lambda: ingest.medic_rows(medic_url), ingest.MEDIC_DB)
    servers.update({f"baseline, {name}": (lambda args=args: common.start_baseline(base_url, "baseline", args + ["--keep-alive", "5"]),
                                          lambda: ingest.baseline_rows(base_url), ingest.BASELINE_DB)
                    for name, args in BASELINE.items()})
    out: dict = {"layouts": {name: {str(c): [] for c in connections} for name in servers},
                 "seconds": seconds, "runs": runs}
    for run_index in range(runs):
        for name, (start, rows, database) in servers.items():
            server = start()
            try:
                server.wait_ready()
                ingest._warm(server, warm_seconds)
                for c in connections:
                    common.log(f"layouts {name} c={c} run {run_index + 1}/{runs}")
                    r = ingest._measure(server, rows, connections=c, seconds=seconds, database=database)
                    ingest._report(r)
                    out["layouts"][name][str(c)].append(r)
            finally:
                server.stop()
    return out
