"""Take the dashboard screenshots in docs/ (`python scripts/screenshots.py`).

Builds a small realistic fleet on a throwaway SQLite database through the JSON API
(a few dozen services across teams, interval services and jobs, some failing, one
down, one muted), runs the real worker with no channels over a simulated day, then
photographs the pages with Debian's chromium through Playwright. `--serve` (`make demo`)
keeps the server running on 127.0.0.1:PORT instead, with heartbeats simulated live.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medic.config import load_settings  # noqa: E402
from medic.store.engine import make_engine  # noqa: E402
from medic.store.migrate import upgrade  # noqa: E402
from medic.web import create_app  # noqa: E402
from medic.worker.loop import Worker  # noqa: E402

TEAMS = ["payments", "search", "platform", "data", "growth"]


class Clock:
    """Simulated time while the history is built, then (``live = True``) the real time."""

    def __init__(self, start: datetime):
        self.now = start
        self.live = False

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) if self.live else self.now


def simulate(app, clock: Clock, stop: threading.Event, period: float = 5.0) -> None:
    """Keep the demo fleet alive: heartbeats every `period` seconds (ledger stays silent,
    two services flap), a job run a minute, and a worker cycle after each round."""
    client = app.test_client()
    settings = app.extensions["medic"].settings
    worker = Worker(settings, app.extensions["medic"].engine, clock=clock, channels={}, run_daily_cleanup=False)
    rng = random.Random(16)
    mark = app.extensions["medic"].web_mark  # "the web is up", on the demo's clock (the app starts no mark thread on it)
    names = [row["heartbeat_name"] for row in client.get("/service").get_json()["results"]]
    rounds = 0
    while not stop.wait(period):
        rounds += 1
        for name in names:
            if name in ("ledger-hb", "nightly-export", "hourly-rollup", "invoice-run"):
                continue
            status = "DOWN" if name in ("fraud-score-hb", "crawler-hb") and rng.random() < 0.1 else "UP"
            client.post("/heartbeat", json={"heartbeat_name": name, "status": status})
        if rounds % 12 == 0:
            run = client.post("/v2/heartbeat/hourly-rollup/start", json={}).get_json()["results"]["run_id"]
            client.post("/v2/heartbeat/hourly-rollup/complete", json={"run_id": run})
        mark.write()
        worker.cycle()


def build(url: str, clock: Clock):
    engine = make_engine(url)
    upgrade(engine)
    # The day is simulated in 5-minute steps (a web mark and a worker cycle each): a longer
    # gap threshold than those steps, or each step would count as Medic's own outage.
    settings = load_settings({"MEDIC_DATABASE_URL": url, "MEDIC_GAP_SECONDS": "900"})
    app = create_app(settings, engine=engine, clock=clock)
    client = app.test_client()
    worker = Worker(settings, engine, clock=clock, channels={}, run_daily_cleanup=False)
    mark = app.extensions["medic"].web_mark
    rng = random.Random(15)
    services = []
    for i, base in enumerate(["checkout", "ledger", "refunds", "indexer", "query-api", "crawler", "auth", "gateway",
                              "scheduler", "warehouse-sync", "etl-orders", "recommender", "emailer", "signup",
                              "billing", "invoices", "cdn-purge", "metrics-relay", "backup", "reports",
                              "geo-lookup", "search-suggest", "fraud-score", "ab-tests", "feature-flags",
                              "thumbnailer", "audit-log", "notifier", "session-store", "rate-card"]):
        team = TEAMS[i % len(TEAMS)]
        name = f"{base}-hb"
        client.post("/service", json={"heartbeat_name": name, "service_name": base, "alert_interval": 5 if i % 3 else 15,
                                      "team": team, "priority": f"p{1 + i % 4}",
                                      "runbook": f"https://wiki.example.com/runbooks/{base}"})
        services.append(name)
    for job in ("nightly-export", "hourly-rollup", "invoice-run"):
        client.post("/service", json={"heartbeat_name": job, "service_name": job, "alert_interval": 90, "team": "data",
                                      "priority": "p2", "max_duration_seconds": 1800})
    flaky = {"fraud-score-hb", "crawler-hb"}
    dead = "ledger-hb"
    start = clock.now
    for step in range(0, 24 * 12):  # every 5 minutes over a day
        clock.now = start + timedelta(minutes=5 * step)
        for name in services:
            if name == dead and step > 24 * 12 - 6:
                continue
            status = "DOWN" if name in flaky and rng.random() < 0.08 else "UP"
            client.post("/heartbeat", json={"heartbeat_name": name, "status": status})
        if step % 12 == 0:
            for job in ("nightly-export", "hourly-rollup", "invoice-run"):
                run = client.post(f"/v2/heartbeat/{job}/start", json={}).get_json()["results"]["run_id"]
                clock.now += timedelta(seconds=rng.randint(60, 600))
                action = "fail" if job == "invoice-run" and rng.random() < 0.2 else "complete"
                client.post(f"/v2/heartbeat/{job}/{action}", json={"run_id": run})
                clock.now = start + timedelta(minutes=5 * step)
        mark.write()  # "the web is up": without it the worker holds every page of the simulated day
        worker.cycle()
    client.post("/service/recommender-hb", json={"muted": True})
    clock.now += timedelta(minutes=2)
    mark.write()
    worker.cycle()
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=19401)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args()
    clock = Clock(datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1))
    with tempfile.TemporaryDirectory() as tmp:
        app = build(f"sqlite:///{tmp}/demo.db", clock)
        server = make_server("127.0.0.1", args.port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{args.port}"
        if args.serve:
            clock.live = True
            stop = threading.Event()
            threading.Thread(target=simulate, args=(app, clock, stop), daemon=True).start()
            print(f"demo dashboard: {base}/ui/ (heartbeats simulated live; Ctrl-C to stop)")
            try:
                thread.join()
            except KeyboardInterrupt:
                stop.set()
            return 0
        from playwright.sync_api import sync_playwright

        from tests.ui.browser import launch

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for name, path in [("dashboard-services", "/ui/"), ("dashboard-service", "/ui/service/ledger-hb"),
                               ("dashboard-job", "/ui/service/invoice-run")]:
                page.goto(base + path)
                page.screenshot(path=str(out / f"{name}.png"), full_page=name != "dashboard-services")
                print(out / f"{name}.png")
            browser.close()
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
