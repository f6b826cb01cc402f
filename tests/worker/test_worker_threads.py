"""The long-running worker: channels deliver independently of each other."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from medic.store.tables import notifications
from tests.fakes.providers import Response, provider_env


@pytest.fixture
def settings_env(pagerduty, slack, webhook):
    return {**provider_env(pagerduty, slack, webhook), "NOTIFY_TIMEOUT_SECONDS": "30", "WORKER_INTERVAL_SECONDS": "0.2"}


def test_a_hanging_provider_does_not_hold_up_the_others(medic, make_worker, clock, pagerduty, slack, engine):
    release = threading.Event()

    def hang(_request):  # PagerDuty answers only when the test lets it
        release.wait(30)
        return Response(202, {"status": "success"})

    pagerduty.set_default(hang)
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker = make_worker()
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        # Both channels are reached while PagerDuty's first attempt is still hanging:
        # wait for each, in either order, before the hang is released.
        pagerduty.wait_for(1, timeout=20)
        slack.wait_for(1, timeout=20)
        with engine.connect() as conn:
            pd_state = conn.execute(select(notifications.c.state).where(notifications.c.channel == "pagerduty")).scalar_one()
        assert pd_state == "sending"
    finally:
        release.set()
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    with engine.connect() as conn:
        assert conn.execute(select(notifications.c.state).where(notifications.c.channel == "pagerduty")).scalar_one() == "delivered"
