"""Slack reminders while an alert stays open (REMINDER_INTERVAL_MINUTES; off by default)."""

from __future__ import annotations

import pytest

from tests.fakes.providers import provider_env


@pytest.fixture
def settings_env(pagerduty, slack, webhook):
    return {**provider_env(pagerduty, slack, webhook), "REMINDER_INTERVAL_MINUTES": "30"}


def test_reminders_go_to_chat_at_the_configured_cadence(medic, worker, clock, pagerduty, slack, webhook):
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    assert len(slack.requests) == 1
    clock.advance(minutes=29)
    worker.run_once()
    assert len(slack.requests) == 1
    clock.advance(minutes=1)
    worker.run_once()
    worker.run_once()
    assert len(slack.requests) == 2
    reminder = slack.requests[1].data
    assert reminder["thread_ts"] is not None
    assert [r.json["event"] for r in webhook.requests] == ["trigger", "reminder"]
    assert len(pagerduty.requests) == 1  # PagerDuty escalates on its own; no second page
    clock.advance(minutes=30)
    worker.run_once()
    assert len(slack.requests) == 3


def test_no_reminders_while_muted(medic, worker, clock, slack):
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    medic.update(muted=True)
    clock.advance(hours=2)
    worker.run_once()
    assert len(slack.requests) == 1


def test_no_reminders_during_a_maintenance_window_then_they_resume(medic, api, worker, clock, slack, webhook):
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()  # 12:01 trigger
    response = api.post("/v2/maintenance", json={"services": ["svc-hb"], "end": "2026-01-05T14:00:00Z",
                                                 "reason": "fixing it"})
    assert response.status_code == 201, response.text
    for _ in range(4):
        clock.advance(minutes=29)
        worker.run_once()
    assert [r.json["event"] for r in webhook.requests] == ["trigger"]  # 13:57: none while in force
    clock.set(clock().replace(hour=14, minute=0))
    worker.run_once()
    assert [r.json["event"] for r in webhook.requests] == ["trigger", "reminder"]
    assert len(slack.requests) == 2
