"""Apprise through the outbox: API -> database -> worker -> a JSON stand-in reached by an Apprise URL."""

from __future__ import annotations

import logging
import threading

import pytest

from medic.store import outbox
from tests.fakes.providers import Response

TOKEN = "apprise-token-in-the-outbox-test"


@pytest.fixture
def settings_env(webhook, pagerduty) -> dict[str, str]:
    return {
        "PAGERDUTY_ROUTING_KEY": "rk", "PAGERDUTY_EVENTS_URL": pagerduty.endpoint,
        "APPRISE_URL": f"json://127.0.0.1:{webhook.port}/apprise/{TOKEN}",
        "NOTIFY_TIMEOUT_SECONDS": "2",
    }


def kinds(webhook) -> list[str]:
    return [r.json["type"] for r in webhook.requests]


def test_one_trigger_and_one_resolve(medic, worker, clock, webhook, engine, api):
    assert api.get("/health").json()["results"]["channels"]["apprise"] is True
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    for _ in range(4):
        clock.advance(seconds=15)
        worker.run_once()
    assert kinds(webhook) == ["failure"]
    medic.beat()
    worker.run_once()
    worker.run_once()
    assert kinds(webhook) == ["failure", "success"]
    with engine.connect() as conn:
        rows = [r for r in outbox.list_for_alert(conn, medic.alerts()[0]["alert_id"]) if r.channel == "apprise"]
    assert [(r.kind, r.state) for r in rows] == [("trigger", "delivered"), ("resolve", "delivered")]


def test_a_failing_target_is_retried_with_backoff_then_delivered_once(medic, worker, clock, webhook, pagerduty):
    webhook.queue(Response(503), Response(502))
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    worker.deliver()
    assert len(webhook.requests) == 1 and len(pagerduty.requests) == 1  # backing off; PagerDuty not held up
    for _ in range(3):
        clock.advance(seconds=10)
        worker.deliver()
    assert kinds(webhook) == ["failure"] * 3
    clock.advance(minutes=10)
    worker.run_once()
    assert len(webhook.requests) == 3


def test_a_permanent_failure_is_recorded_without_the_token(medic, worker, clock, webhook, engine):
    webhook.queue(Response(401))
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    for _ in range(3):
        clock.advance(minutes=6)
        worker.run_once()
    assert len(webhook.requests) == 1
    with engine.connect() as conn:
        [row] = [r for r in outbox.list_for_alert(conn, medic.alerts()[0]["alert_id"]) if r.channel == "apprise"]
    assert row.state == "failed" and row.last_error == "Apprise target: JSON: HTTP 401"


def test_metrics_and_startup_lines_name_the_channel_not_the_url(medic, make_worker, worker, clock, webhook, api, caplog):
    from tests.worker.test_worker_metrics import sample, scraped

    failed = sample("medic_notifications_total", channel="apprise", outcome="failed")
    webhook.queue(Response(400))
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.evaluate()
    assert scraped(api, 'medic_outbox_pending{channel="apprise"}') == 1
    worker.deliver()
    assert sample("medic_notifications_total", channel="apprise", outcome="failed") == failed + 1
    assert scraped(api, 'medic_outbox_pending{channel="apprise"}') == 0

    stop = threading.Event()
    stop.set()
    with caplog.at_level(logging.INFO, logger="medic.worker"):
        make_worker().run_forever(stop)
    assert "channel apprise: 1 target(s): json://" in caplog.text
    assert TOKEN not in caplog.text
