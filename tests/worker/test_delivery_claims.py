"""Claims: a dispatcher claims exactly what it can send now, live sends never
expire under another worker, and a reclaimed row is flagged and counted."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from medic.notify.pagerduty import PagerDutyChannel
from medic.store import outbox
from medic.store.tables import notifications
from medic.worker.dispatch import ChannelDispatcher
from medic.worker.loop import Worker
from tests.support.clock import RunningClock


@pytest.fixture
def queue(medic, make_worker, clock):
    """queue(n): n services overdue, so each has one pending trigger per channel."""

    def make(count: int) -> None:
        for i in range(count):
            medic.register(f"claim-{i:03d}", alert_interval=1)
        clock.advance(minutes=2)
        assert len(make_worker().evaluate().opened) == count

    return make


def sending(engine) -> int:
    with engine.begin() as conn:
        return conn.execute(
            select(func.count()).where(notifications.c.state == "sending", notifications.c.channel == "pagerduty")
        ).scalar_one()


def test_claim_takes_exactly_the_limit(engine, clock, queue):
    queue(60)
    for _ in range(3):
        with engine.begin() as conn:
            rows = outbox.claim_due(conn, clock(), timedelta(seconds=60), 4, channel="pagerduty")
        assert len(rows) == 4
    assert sending(engine) == 12


def test_concurrent_claims_are_disjoint_and_capped(engine, clock, queue):
    queue(60)
    claimed: list[list] = []
    barrier = threading.Barrier(4, timeout=30)

    def claim():
        barrier.wait()
        with engine.begin() as conn:
            claimed.append(outbox.claim_due(conn, clock(), timedelta(seconds=60), 4, channel="pagerduty"))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    ids = [row.notification_id for rows in claimed for row in rows]
    assert all(len(rows) <= 4 for rows in claimed)
    assert len(ids) == len(set(ids)) == sending(engine)


def test_an_expired_claim_is_flagged_reclaimed(engine, clock, queue):
    queue(1)
    with engine.begin() as conn:
        [first] = outbox.claim_due(conn, clock(), timedelta(seconds=30), 4, channel="pagerduty")
    assert first.reclaimed is False
    clock.advance(seconds=31)  # the claiming worker died mid-send
    with engine.begin() as conn:
        [again] = outbox.claim_due(conn, clock(), timedelta(seconds=30), 4, channel="pagerduty")
    assert again.notification_id == first.notification_id
    assert again.reclaimed is True and again.attempts == 2


def test_a_send_longer_than_the_lease_is_never_taken_over(settings, engine, clock, queue, pagerduty):
    """The claim of a live send is extended: a second dispatcher finds nothing to take."""
    queue(1)
    clock = RunningClock(clock())
    pagerduty.slow_down(1.5)  # under the 2 s send timeout, over the 1 s lease
    lease = timedelta(seconds=1)
    first, second = (
        ChannelDispatcher(
            engine, "pagerduty", PagerDutyChannel.from_settings(settings), clock, send_timeout=2, lease=lease
        )
        for _ in range(2)
    )
    done = threading.Event()
    sender = threading.Thread(target=lambda: (first.run(), done.set()))
    sender.start()
    pagerduty.wait_for(1)
    while not done.is_set():  # what another worker does every second
        second.run()
        time.sleep(0.2)
    sender.join()
    first.close(), second.close()
    time.sleep(1.6)  # a duplicate, had one been started, would have arrived by now
    assert len(pagerduty.requests) == 1
    with engine.begin() as conn:
        state = select(notifications.c.state).where(notifications.c.channel == "pagerduty")
        assert conn.execute(state).scalar_one() == "delivered"


def test_reclaims_are_counted(settings, engine, clock, queue, pagerduty):
    queue(1)
    with engine.begin() as conn:
        outbox.claim_due(conn, clock(), timedelta(seconds=30), 4, channel="pagerduty")
    clock.advance(seconds=31)
    dispatcher = ChannelDispatcher(engine, "pagerduty", PagerDutyChannel.from_settings(settings), clock, send_timeout=2)

    def reclaims() -> float:
        sample = dispatcher.metrics.registry.get_sample_value("medic_notification_reclaims_total", {"channel": "pagerduty"})
        return sample or 0.0

    before = reclaims()
    assert dispatcher.run() == 1
    dispatcher.close()
    assert reclaims() - before == 1.0
    assert len(pagerduty.requests) == 1


def test_two_workers_and_a_slow_provider_page_exactly_once(backend, medic, engine, pagerduty, slack, webhook):
    """The reproduction: 60 services down at once, providers taking 5 s a request
    (under the 6 s timeout), two workers: exactly 60 of each notification."""
    if backend != "postgresql":
        pytest.skip("concurrent claims are PostgreSQL's (SQLite serialises writers)")
    from medic.config import load_settings
    from tests.fakes.providers import provider_env

    url = engine.url.render_as_string(hide_password=False)
    settings = load_settings(
        {"MEDIC_DATABASE_URL": url, "NOTIFY_TIMEOUT_SECONDS": "6", **provider_env(pagerduty, slack, webhook)}
    )
    for i in range(60):
        medic.register(f"slow-{i:02d}", alert_interval=1)
    clock = RunningClock()
    clock.advance(minutes=10)  # every service is overdue
    for provider in (pagerduty, slack, webhook):
        provider.slow_down(5)
    workers = [Worker(settings, engine, clock=clock, run_daily_cleanup=False) for _ in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run_forever, args=(stop,)) for w in workers]
    for t in threads:
        t.start()
    try:
        for provider in (pagerduty, slack, webhook):
            provider.wait_for(60, timeout=120)
        # Past the 44 s lease: a row left waiting in a pool would be re-sent by now.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with engine.begin() as conn:
                open_rows = conn.execute(
                    select(func.count()).where(notifications.c.state.in_(("pending", "sending")))
                ).scalar_one()
            if open_rows == 0:
                break
            time.sleep(0.5)
        time.sleep(5.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert Counter(r.json["event_action"] for r in pagerduty.requests) == {"trigger": 60}
    assert len({r.json["dedup_key"] for r in pagerduty.requests}) == 60
    assert len(slack.requests) == 60
    assert len({r.headers["x-medic-delivery"] for r in webhook.requests}) == len(webhook.requests) == 60


def test_database_errors_in_delivery_name_the_database(settings, tmp_path, caplog):
    """A database failure in the delivery threads is logged as one, without a traceback."""
    import logging

    from medic.store.engine import make_engine

    broken = make_engine(f"sqlite:///{tmp_path / 'never-migrated.db'}")  # no tables: every query fails
    worker = Worker(settings, broken, run_daily_cleanup=False)
    stop = threading.Event()
    with caplog.at_level(logging.INFO):
        thread = threading.Thread(target=worker.run_forever, args=(stop,))
        thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("outbox database error" in r.message for r in caplog.records):
            time.sleep(0.05)
        stop.set()
        thread.join(timeout=30)
    broken.dispose()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("outbox database error while delivering pagerduty notifications: OperationalError") for m in messages)
    assert any(m.startswith("worker cycle failed: database error: OperationalError") for m in messages)
    assert not any("pagerduty delivery failed" in m for m in messages)
    assert not [r for r in caplog.records if r.exc_info], "database errors are logged without a traceback"


def test_a_worker_killed_after_posting_to_slack_does_not_post_twice(settings, engine, clock, queue, worker, slack):
    """The dead worker's message reached Slack; its successor finds it and records it."""
    from medic.notify import Notification
    from medic.notify.slack import SlackChannel

    queue(1)
    lease = timedelta(seconds=30)
    with engine.begin() as conn:
        [row] = outbox.claim_due(conn, clock(), lease, 4, channel="slack")
    posted = SlackChannel.from_settings(settings).send(
        Notification(id=row.notification_id, channel="slack", kind="trigger", payload=row.payload)
    )
    clock.advance(seconds=31)  # ... and the worker is killed before recording it

    [dispatcher] = [d for d in worker.dispatchers if d.name == "slack"]

    def avoided() -> float:
        sample = dispatcher.metrics.registry.get_sample_value(
            "medic_notification_resends_avoided_total", {"channel": "slack"}
        )
        return sample or 0.0

    before = avoided()
    worker.deliver()
    assert [r.path for r in slack.requests].count("/api/chat.postMessage") == 1
    assert avoided() - before == 1
    with engine.begin() as conn:
        state, ref = conn.execute(
            select(notifications.c.state, notifications.c.provider_ref).where(notifications.c.channel == "slack")
        ).one()
    assert (state, ref) == ("delivered", posted.provider_ref)


def test_a_reclaimed_row_stays_flagged_after_a_failed_retry(engine, clock, queue):
    """The dead worker's attempt may have gone out whatever happens to the re-send:
    every later attempt is flagged, not only the one that took over the claim."""
    queue(1)
    with engine.begin() as conn:
        outbox.claim_due(conn, clock(), timedelta(seconds=30), 4, channel="slack")
    clock.advance(seconds=31)  # the claiming worker died mid-send
    with engine.begin() as conn:
        [again] = outbox.claim_due(conn, clock(), timedelta(seconds=30), 4, channel="slack")
        assert again.reclaimed and again.maybe_sent
        outbox.mark_retry(conn, again.notification_id, again.claimed_until, clock() + timedelta(seconds=5), "HTTP 500")
    clock.advance(seconds=6)
    with engine.begin() as conn:
        [third] = outbox.claim_due(conn, clock(), timedelta(seconds=30), 4, channel="slack")
    assert third.notification_id == again.notification_id and third.attempts == 3
    assert third.reclaimed is False  # not a new takeover: counted once
    assert third.maybe_sent is True


def test_a_message_posted_by_a_dead_worker_is_not_posted_again_after_slack_fails_the_first_check(
    settings, engine, clock, queue, slack
):
    """The soak's finding: a worker killed after Slack took its post; the re-send's history
    check and post both hit a Slack outage; the next attempt posted the message again."""
    from medic.notify import Notification
    from medic.notify.slack import SlackChannel
    from tests.fakes.providers import Response

    queue(1)
    channel = SlackChannel.from_settings(settings)
    with engine.begin() as conn:
        [row] = outbox.claim_due(conn, clock(), timedelta(seconds=30), 4, channel="slack")
    channel.send(Notification(id=row.notification_id, channel="slack", kind=row.kind, payload=row.payload))
    # ... and the worker died before recording it.
    clock.advance(minutes=2)
    slack.queue(Response(500), Response(500))  # the history check, then the re-post
    dispatcher = ChannelDispatcher(engine, "slack", channel, clock, send_timeout=2, jitter=lambda: 0.0)
    try:
        assert dispatcher.run() == 1
        clock.advance(minutes=10)
        assert dispatcher.run() == 1
    finally:
        dispatcher.close()
    posts = [r for r in slack.requests if r.path.endswith("chat.postMessage")]
    assert len(posts) == 2  # the dead worker's, and the re-post Slack refused with a 500
    with engine.begin() as conn:
        state = conn.execute(select(notifications.c.state).where(notifications.c.channel == "slack")).scalar_one()
    assert state == "delivered"


def test_a_record_lost_to_a_database_outage_is_retried_not_sent_again(settings, engine, clock, queue, pagerduty):
    """PagerDuty accepted the trigger, then the database went away (a failover) before
    the worker recorded it. The worker keeps trying to record it while its claim
    holds; it used to leave the row claimed, and once the claim expired another worker
    sent it again."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    queue(1)
    outage = {"records_to_fail": 3}

    def database_away(conn, cursor, statement, parameters, context, executemany):
        recording = statement.lstrip().upper().startswith("UPDATE NOTIFICATIONS") and "delivered" in repr(parameters)
        if recording and outage["records_to_fail"]:
            outage["records_to_fail"] -= 1
            raise OperationalError(statement, parameters, ConnectionError("server closed the connection unexpectedly"))

    channel = PagerDutyChannel.from_settings(settings)
    first = ChannelDispatcher(engine, "pagerduty", channel, clock, send_timeout=2, record_retry_seconds=0.05)
    event.listen(engine, "before_cursor_execute", database_away)
    try:
        assert first.run() == 1
    finally:
        event.remove(engine, "before_cursor_execute", database_away)
        first.close()
    assert outage["records_to_fail"] == 0
    clock.advance(seconds=first.lease.total_seconds() + 60)  # a claim left behind is now taken over
    second = ChannelDispatcher(engine, "pagerduty", channel, clock, send_timeout=2)
    second.run()
    second.close()
    assert len(pagerduty.requests) == 1
    with engine.begin() as conn:
        state = select(notifications.c.state).where(notifications.c.channel == "pagerduty")
        assert conn.execute(state).scalar_one() == "delivered"


def test_a_database_outage_is_one_worker_cycle_line_when_it_starts_and_one_when_it_ends(settings, tmp_path, caplog):
    """Every cycle of a worker whose database is down fails; the outage is logged when it
    starts, then periodically, and when it ends, not once per cycle (with
    WORKER_INTERVAL_SECONDS=1 that was a line a second)."""
    import logging

    from medic.store.engine import make_engine
    from medic.store.migrate import upgrade

    database = make_engine(f"sqlite:///{tmp_path / 'later-migrated.db'}")  # no tables yet: every cycle fails
    worker = Worker(settings, database, run_daily_cleanup=False)
    try:
        with caplog.at_level(logging.INFO, logger="medic.worker"):
            for _ in range(20):
                assert worker.step() is None
            upgrade(database)  # the database is back
            assert worker.step() is not None
            assert worker.step() is not None
    finally:
        worker.close()
        database.dispose()
    messages = [r.getMessage() for r in caplog.records if r.name == "medic.worker"]
    failed = [m for m in messages if m.startswith("worker cycle failed") and "recovered" not in m]
    assert len(failed) == 1, failed
    assert failed[0].startswith("worker cycle failed: database error: OperationalError")
    [recovered] = [m for m in messages if "recovered" in m and "cycle" in m]
    assert "20 failures" in recovered
