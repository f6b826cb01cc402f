"""`python -m bench.dashboard [--pg URL] [--sqlite PATH] [--services N]`: server time of the
dashboard's pages on a large fleet, through the real Flask app (no network in between).

Seeds N services (default 10,000) across 20 teams, 1 in 50 down and 1 in 100 muted, each
with one heartbeat an hour for the last 24 hours (the overview's strips), plus one service
with 30 days of one-minute heartbeats (43,200 rows). Then times each page 60 times
(10 warm-up), counts its SQL statements, and writes bench/RESULTS-dashboard.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event, insert, text

from medic.config import load_settings
from medic.store.engine import make_engine
from medic.store.migrate import upgrade
from medic.store.tables import heartbeat_events, metadata, services
from medic.web import create_app

HERE = Path(__file__).resolve().parent
NOW = datetime.now(timezone.utc).replace(microsecond=0)
BIG = "big-history-hb"
PAGES = [
    ("overview, first page", "/ui/"),
    ("overview, filtered (team + state)", "/ui/?team=team-07&state=up&state=down"),
    ("overview, search", "/ui/?q=svc-99"),
    ("overview, page 100", "/ui/?page=100"),
    ("service page, 24 h (43,200 heartbeats in 30 d)", f"/ui/service/{BIG}"),
    ("service page, 30 d (43,200 heartbeats)", f"/ui/service/{BIG}?range=30d"),
    ("alerts page", "/ui/alerts"),
]


def seed(engine, count: int) -> None:
    if engine.dialect.name == "postgresql":
        from medic.store import partitions

        with engine.begin() as conn:
            names = ", ".join(t.name for t in reversed(metadata.sorted_tables))
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            first = (NOW - timedelta(days=31)).date()
            partitions.ensure_days(conn, first, NOW.date(), NOW.date())
    added = NOW - timedelta(days=31)
    rows = []
    for i in range(count):
        down = i % 50 == 0
        rows.append(dict(
            heartbeat_name=f"svc-{i}-hb", service_name=f"svc-{i}", active=True, alert_interval=60, threshold=1,
            team=f"team-{i % 20:02d}", priority=f"p{1 + i % 5}", muted=i % 100 == 1, down=down,
            grace_period_seconds=0, date_added=added, date_modified=added,
            last_heartbeat_at=NOW - timedelta(minutes=90 if down else 30), last_status="UP",
            deadline=NOW.timestamp() + (-1800 if down else 1800 + i),
        ))
    rows.append(dict(heartbeat_name=BIG, service_name="big", active=True, alert_interval=5, threshold=1,
                     team="team-00", priority="p1", muted=False, down=False, grace_period_seconds=0,
                     date_added=added, date_modified=added, last_heartbeat_at=NOW, last_status="UP",
                     deadline=NOW.timestamp() + 300))
    with engine.begin() as conn:
        conn.execute(insert(services), rows)
        ids = dict(conn.execute(text("SELECT heartbeat_name, service_id FROM services")).all())
    beats = []
    for i in range(count):
        sid = ids[f"svc-{i}-hb"]
        for h in range(24):
            beats.append({"service_id": sid, "time": NOW - timedelta(hours=h, minutes=30), "status": "UP"})
    big = ids[BIG]
    beats += [{"service_id": big, "time": NOW - timedelta(minutes=m), "status": "DOWN" if m % 997 == 0 else "UP"}
              for m in range(43_200)]
    with engine.begin() as conn:
        for start in range(0, len(beats), 20_000):
            conn.execute(insert(heartbeat_events), beats[start:start + 20_000])
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def measure(engine, url: str, runs: int = 60, warmup: int = 10) -> list[tuple[str, float, float, int]]:
    app = create_app(load_settings({"MEDIC_DATABASE_URL": url}), engine=engine, clock=lambda: NOW)
    client = app.test_client()
    out = []
    for label, path in PAGES:
        for _ in range(warmup):
            assert client.get(path).status_code == 200, path
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        seen = []
        listener = lambda *a: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        client.get(path)
        event.remove(engine, "before_cursor_execute", listener)
        p95 = statistics.quantiles(times, n=100, method="inclusive")[94]
        out.append((label, statistics.median(times), p95, len(seen)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("MEDIC_BENCH_PG_URL"))
    parser.add_argument("--services", type=int, default=10_000)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite:///{tmp}/bench.db")] + ([("PostgreSQL", args.pg)] if args.pg else [])
        for name, url in targets:
            engine = make_engine(url)
            upgrade(engine)
            started = time.perf_counter()
            seed(engine, args.services)
            print(f"{name}: seeded in {time.perf_counter() - started:.1f} s", flush=True)
            results[name] = measure(engine, url)
            for line in results[name]:
                print(name, *line, flush=True)
            engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "# Dashboard page times",
        "",
        f"`python -m bench.dashboard` ({args.services:,} services, 24 hourly heartbeats each, plus one service with "
        "43,200 one-minute heartbeats). Server time through the Flask app, 60 requests per page after 10 warm-up "
        "requests, on this machine (2 shared cores).",
        "",
        "| backend | page | median ms | p95 ms | SQL statements |",
        "|---|---|---:|---:|---:|",
    ]
    for name, rows in results.items():
        for label, median, p95, statements in rows:
            lines.append(f"| {name} | {label} | {median:.1f} | {p95:.1f} | {statements} |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", f"Peak RSS of the benchmark process (seeding included): {rss:.0f} MiB. "
              f"Load average when it finished: {load} (other work shares the cores: figures vary with it).", ""]
    (HERE / "RESULTS-dashboard.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
