"""The outbox's ordering rule, straight against store/outbox.claim_due (docs/alerting.md,
"Delivery"): a notification is not claimed while an earlier one for the same alert
and channel is unfinished, so a resolve is never delivered before its trigger;
other channels and other alerts do not wait."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import insert, select

from medic.core.model import ChannelName, NotificationKind, OutboxState
from medic.store import outbox
from medic.store import services as svc
from medic.store.tables import alerts, notifications

LEASE = timedelta(seconds=30)
PD, SLACK = ChannelName.PAGERDUTY, ChannelName.SLACK
TRIGGER, RESOLVE, REMINDER = NotificationKind.TRIGGER, NotificationKind.RESOLVE, NotificationKind.REMINDER


def _alert(conn, clock, name: str) -> int:
    row, _ = svc.create(conn, {"heartbeat_name": name, "service_name": "s", "alert_interval": 1,
                               "grace_period_seconds": 0, "threshold": 1}, clock())
    return conn.execute(
        insert(alerts).values(service_id=row.service_id, alert_name=name, active=True,
                              external_reference_id=f"ref-{name}", open_reason="missed_heartbeats",
                              created_date=clock()).returning(alerts.c.alert_id)
    ).scalar_one()


def _queue(conn, clock, alert_id: int, channel: str, kind: str, **values) -> int:
    row = {"alert_id": alert_id, "channel": channel, "kind": kind, "payload": {"event": kind},
           "state": OutboxState.PENDING, "attempts": 0, "next_attempt_at": clock(), "created_at": clock(), **values}
    return conn.execute(insert(notifications).values(**row).returning(notifications.c.notification_id)).scalar_one()


def _claim(engine, clock, channel: str, limit: int = 10) -> list[tuple[int, str]]:
    with engine.begin() as conn:
        return [(row.alert_id, row.kind) for row in outbox.claim_due(conn, clock(), LEASE, limit, channel=channel)]


def _claimed_row(engine, alert_id: int, channel: str, kind: str):
    with engine.connect() as conn:
        return conn.execute(select(notifications).where(
            notifications.c.alert_id == alert_id, notifications.c.channel == channel, notifications.c.kind == kind,
        )).one()


def _deliver(engine, clock, alert_id: int, channel: str, kind: str) -> None:
    row = _claimed_row(engine, alert_id, channel, kind)
    with engine.begin() as conn:
        assert outbox.mark_delivered(conn, row.notification_id, row.claimed_until, clock(), "ref")


def test_a_resolve_waits_for_its_trigger_on_the_same_channel_only(engine, clock):
    with engine.begin() as conn:
        a = _alert(conn, clock, "a")
        b = _alert(conn, clock, "b")
        # The trigger is backing off after a failed attempt; its resolve is already due.
        _queue(conn, clock, a, PD, TRIGGER, next_attempt_at=clock() + timedelta(seconds=60))
        _queue(conn, clock, a, PD, RESOLVE)
        _queue(conn, clock, a, SLACK, TRIGGER)
        _queue(conn, clock, a, SLACK, RESOLVE)
        _queue(conn, clock, b, PD, TRIGGER)
    assert _claim(engine, clock, PD) == [(b, TRIGGER)]  # another alert does not wait
    _deliver(engine, clock, b, PD, TRIGGER)
    assert _claim(engine, clock, SLACK) == [(a, TRIGGER)]  # another channel does not wait...
    assert _claim(engine, clock, SLACK) == []  # ...but its own resolve waits for the claimed trigger
    _deliver(engine, clock, a, SLACK, TRIGGER)
    assert _claim(engine, clock, SLACK) == [(a, RESOLVE)]

    clock.advance(seconds=60)  # the PagerDuty trigger is due again
    assert _claim(engine, clock, PD) == [(a, TRIGGER)]  # alone, though the resolve is due too
    assert _claim(engine, clock, PD) == []
    _deliver(engine, clock, a, PD, TRIGGER)
    assert _claim(engine, clock, PD) == [(a, RESOLVE)]


def test_a_trigger_whose_claim_expired_is_taken_again_before_its_resolve(engine, clock):
    with engine.begin() as conn:
        a = _alert(conn, clock, "a")
        _queue(conn, clock, a, PD, TRIGGER)
    assert _claim(engine, clock, PD) == [(a, TRIGGER)]  # a worker claims it and dies
    with engine.begin() as conn:
        _queue(conn, clock, a, PD, RESOLVE)
        _queue(conn, clock, a, PD, REMINDER)
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert _claim(engine, clock, PD) == []  # the live claim blocks both
    clock.advance(seconds=2)
    assert _claim(engine, clock, PD) == [(a, TRIGGER)]
    _deliver(engine, clock, a, PD, TRIGGER)
    assert _claim(engine, clock, PD, limit=1) == [(a, RESOLVE)]


def test_a_permanently_failed_trigger_releases_its_resolve(engine, clock):
    with engine.begin() as conn:
        a = _alert(conn, clock, "a")
        _queue(conn, clock, a, PD, TRIGGER)
        _queue(conn, clock, a, PD, RESOLVE)
    assert _claim(engine, clock, PD) == [(a, TRIGGER)]
    row = _claimed_row(engine, a, PD, TRIGGER)
    with engine.begin() as conn:
        assert outbox.mark_failed(conn, row.notification_id, row.claimed_until, clock(), "400")
    assert _claim(engine, clock, PD) == [(a, RESOLVE)]  # finished, even if not delivered


def test_under_random_failures_no_channel_delivers_out_of_order(engine, clock):
    rand = random.Random(13)
    with engine.begin() as conn:
        ids = [_alert(conn, clock, f"s{n}") for n in range(4)]
        for alert_id in ids:
            for channel in (PD, SLACK):
                for kind in (TRIGGER, REMINDER, RESOLVE):
                    _queue(conn, clock, alert_id, channel, kind)
    delivered: dict[tuple[int, str], list[str]] = {}
    for _ in range(200):
        for channel in (PD, SLACK):
            with engine.begin() as conn:
                rows = outbox.claim_due(conn, clock(), LEASE, rand.randint(1, 4), channel=channel)
            for row in rows:
                with engine.begin() as conn:
                    if rand.random() < 0.5:
                        delay = timedelta(seconds=rand.choice([0, 1, 5]))
                        outbox.mark_retry(conn, row.notification_id, row.claimed_until, clock() + delay, "503")
                    elif rand.random() < 0.2:
                        pass  # the worker dies: the claim expires after LEASE
                    else:
                        outbox.mark_delivered(conn, row.notification_id, row.claimed_until, clock(), None)
                        delivered.setdefault((row.alert_id, row.channel), []).append(row.kind)
        clock.advance(seconds=rand.choice([1, 2, 31]))
    assert delivered == {(alert_id, channel): [TRIGGER, REMINDER, RESOLVE] for alert_id in ids for channel in (PD, SLACK)}
