"""Email through the outbox: API -> database -> worker -> a real SMTP server."""

from __future__ import annotations

import logging
import threading

import pytest

from medic.store import outbox
from medic.worker.dispatch import lease_for
from tests.fakes.smtp import FakeSMTP

PASSWORD = "smtp-secret-in-the-outbox-test"


@pytest.fixture
def smtp():
    with FakeSMTP(username="medic", password=PASSWORD) as server:
        yield server


@pytest.fixture
def settings_env(smtp, pagerduty) -> dict[str, str]:
    return {
        "PAGERDUTY_ROUTING_KEY": "rk", "PAGERDUTY_EVENTS_URL": pagerduty.endpoint,
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_TLS": "none",
        "SMTP_USER": "medic", "SMTP_PASSWORD": PASSWORD,
        "SMTP_FROM": "Medic <medic@example.com>", "SMTP_TO": "oncall@example.com",
        "NOTIFY_TIMEOUT_SECONDS": "2", "REMINDER_INTERVAL_MINUTES": "30",
    }


def subjects(smtp) -> list[str]:
    return [mail.message["Subject"] for mail in smtp.received]


def test_one_trigger_reminders_and_one_threaded_resolve(medic, worker, clock, smtp, pagerduty, engine):
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    for _ in range(4):
        clock.advance(seconds=15)
        worker.run_once()
    assert subjects(smtp) == ["[Medic] svc-hb (svc): never sent a heartbeat"]
    clock.advance(minutes=30)
    worker.run_once()  # a reminder, in the thread
    medic.beat()
    worker.run_once()
    worker.run_once()
    trigger, reminder, resolve = (mail.message for mail in smtp.received)
    assert [m["X-Medic-Event"] for m in (trigger, reminder, resolve)] == ["trigger", "reminder", "resolve"]
    assert reminder["In-Reply-To"] == resolve["In-Reply-To"] == trigger["Message-ID"]
    assert resolve["Subject"] == "Re: " + trigger["Subject"]
    assert [r.json["event_action"] for r in pagerduty.requests] == ["trigger", "resolve"]  # no PagerDuty reminder
    with engine.connect() as conn:
        rows = [r for r in outbox.list_for_alert(conn, medic.alerts()[0]["alert_id"]) if r.channel == "email"]
    assert [(r.kind, r.state) for r in rows] == [("trigger", "delivered"), ("reminder", "delivered"), ("resolve", "delivered")]
    assert rows[0].provider_ref == trigger["Message-ID"]


def test_a_transient_refusal_is_retried_with_backoff_and_sent_once(medic, worker, clock, smtp, api):
    smtp.queue("451 4.3.0 Try again later", "421 4.7.0 Busy")
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    assert smtp.attempts == 1 and smtp.received == []
    assert api.get("/health").json()["results"]["outbox"]["by_channel"] == {"email": 1}
    worker.deliver()
    assert smtp.attempts == 1  # backing off, not hammering
    for _ in range(2):
        clock.advance(seconds=10)
        worker.deliver()
    assert smtp.attempts == 3 and len(smtp.received) == 1
    clock.advance(minutes=10)
    worker.run_once()
    assert len(smtp.received) == 1
    health = api.get("/health").json()["results"]
    assert health["outbox"]["pending"] == 0 and health["channels"]["email"] is True


def test_a_permanent_refusal_is_recorded_and_not_retried(medic, worker, clock, smtp, pagerduty, engine):
    smtp.queue("554 5.7.1 Relay access denied")
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    for _ in range(3):
        clock.advance(minutes=6)  # past the longest backoff, short of the first reminder
        worker.run_once()
    assert smtp.attempts == 1
    with engine.connect() as conn:
        rows = {r.channel: r for r in outbox.list_for_alert(conn, medic.alerts()[0]["alert_id"])}
    assert rows["email"].state == "failed" and "554" in rows["email"].last_error
    assert PASSWORD not in rows["email"].last_error
    assert rows["pagerduty"].state == "delivered"


def test_a_send_cut_short_by_a_dead_worker_is_sent_again(medic, make_worker, clock, smtp, engine):
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    make_worker().evaluate()
    lease = lease_for(2)
    with engine.begin() as conn:  # a worker claims the email, then dies before recording
        assert outbox.claim_due(conn, clock(), lease, 10, channel="email")
    survivor = make_worker()
    survivor.deliver()
    assert smtp.received == []
    clock.advance(seconds=lease.total_seconds() + 1)
    survivor.deliver()
    [mail] = smtp.received  # email cannot ask whether it went out: it is sent (again)
    assert mail.message["X-Medic-Event"] == "trigger"


def test_metrics_and_startup_lines_name_the_channel(medic, make_worker, worker, clock, smtp, api, caplog):
    from tests.worker.test_worker_metrics import sample, scraped

    sent = sample("medic_notifications_total", channel="email", outcome="sent")
    assert scraped(api, 'medic_outbox_pending{channel="email"}') == 0
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.evaluate()
    assert scraped(api, 'medic_outbox_pending{channel="email"}') == 1
    worker.deliver()
    assert sample("medic_notifications_total", channel="email", outcome="sent") == sent + 1
    assert scraped(api, 'medic_outbox_pending{channel="email"}') == 0

    stop = threading.Event()
    stop.set()
    with caplog.at_level(logging.INFO, logger="medic.worker"):
        make_worker().run_forever(stop)
    assert "channels: pagerduty, email" in caplog.text
    assert f"channel email: 127.0.0.1:{smtp.port} (none, as medic) to 1 recipient(s)" in caplog.text
    assert PASSWORD not in caplog.text
