"""Mass outage: 10,000 of 100,000 services go silent at once.

Seeded with their deadline one second in the past (as if their last heartbeat were
exactly one window ago), PagerDuty and Slack configured to local stand-ins that accept
everything (tests/fakes: real HTTP servers on 127.0.0.1). Timed: one evaluation, from
its start until all 10,000 are marked down with their alert and both outbox rows
committed; then delivery of the 20,000 notifications until the outbox is empty.
Checked in the database and at the stand-ins: nothing missing, nothing twice.
With ROUTES > 0 the silent services are split over that many teams, each routed to a
PagerDuty key and a Slack channel of its own (two targets per route), so every alert's
two rows are route-target rows instead of the default route's.
"""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from bench import common, seed
from bench.worker_cycle import run_cycle
from tests.fakes.providers import fake_pagerduty, fake_slack, provider_env

DB = "medic_bench_outage"


def _counts(url: str) -> dict:
    with psycopg.connect(url) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "services_down": one("SELECT count(*) FROM services WHERE down"),
            "active_alerts": one("SELECT count(*) FROM alerts WHERE active"),
            "notifications": one("SELECT count(*) FROM notifications"),
            "notifications_delivered": one("SELECT count(*) FROM notifications WHERE state = 'delivered'"),
            "duplicate_alerts": one(
                "SELECT count(*) FROM (SELECT service_id FROM alerts GROUP BY service_id HAVING count(*) > 1) AS d"
            ),
        }


def _add_routes(url: str, routes: int, now: datetime, secret_key: str) -> None:
    from medic.secretbox import SecretBox
    from medic.store import routes as store_routes
    from medic.store.engine import make_engine

    with psycopg.connect(url) as conn:
        conn.execute("UPDATE services SET team = 'team-' || (service_id %% %s)", (routes,))
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for t in range(routes):
                store_routes.create(conn, {"name": f"team-{t}", "match": {"team": f"team-{t}"}, "targets": [
                    {"type": "pagerduty", "routing_key": f"routing-key-{t}"},
                    {"type": "slack", "channel": f"CTEAM{t}"}]}, SecretBox(secret_key), now)
    finally:
        engine.dispose()


def postgres(*, runs: int, deliver_runs: int, silent: int = 10_000, total: int = 100_000, routes: int = 0) -> dict:
    out: dict = {"silent": silent, "total_services": total, "routes": routes, "runs": []}
    for run in range(runs):
        url = common.recreate_database(DB)
        try:
            now = datetime.now(timezone.utc)
            seed.migrate(url)
            seed.seed_services(url, silent, now, deadline_offset=-1)
            seed.seed_services(url, total - silent, now, first=silent)
            seed.claim_cleanup_today(url, now)
            env: dict[str, str] = {}
            if routes:
                from cryptography.fernet import Fernet

                env["MEDIC_SECRET_KEY"] = Fernet.generate_key().decode()
                _add_routes(url, routes, now, env["MEDIC_SECRET_KEY"])
            with fake_pagerduty() as pagerduty, fake_slack() as slack:
                deliver = run < deliver_runs
                result = run_cycle(url, cycles=0, deliver=deliver, extra_env={**provider_env(pagerduty, slack), **env},
                                   evaluate_first=True)
                received = {"pagerduty": len(pagerduty.requests), "slack": len(slack.requests)}
                dedup = {r.json.get("dedup_key") for r in pagerduty.requests}
            result.update(counts=_counts(url), received=received, distinct_pagerduty_dedup_keys=len(dedup))
            delivered = f"delivered {sum(received.values())} in {result['deliver_seconds']:.1f}s" if deliver else ""
            common.log(
                f"outage run {run + 1}/{runs}: {silent} down in {result['evaluate']['seconds']:.2f}s "
                f"(opened {result['evaluate']['opened']}); {delivered}; db {result['counts']}"
            )
            out["runs"].append(result)
        finally:
            common.drop_database(DB)
    return out
