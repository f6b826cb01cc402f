"""The notification outbox: claim due rows, record what the provider said.

States: ``pending`` (due at ``next_attempt_at``) -> ``sending`` (claimed until
``claimed_until``) -> ``delivered`` | ``failed`` (permanent error), or back to
``pending`` with a later ``next_attempt_at`` after a transient error. A claim
whose worker died expires and the row is claimed again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, exists, or_, select, update

from medic.core.model import UNFINISHED_STATES, NotificationKind, OutboxState
from medic.store.tables import notifications

PENDING, SENDING, DELIVERED, FAILED = OutboxState.PENDING, OutboxState.SENDING, OutboxState.DELIVERED, OutboxState.FAILED
UNFINISHED = UNFINISHED_STATES


def claim_due(
    conn: Connection, now: datetime, lease: timedelta, limit: int, *, channel: str, early: bool = False,
    default: bool = True, targets: bool = False,
) -> list[Claimed]:
    """Claim at most ``limit`` due notifications of one channel for this worker:
    rows of the default route (no ``target_id``) when ``default``, rows of route
    targets when ``targets``.

    Rows of channels this worker is not configured for stay pending (and show in
    /health) until a worker that has the channel delivers them.

    A notification waits while an earlier one for the same alert, channel and
    target is unfinished, so a resolve never overtakes its trigger. With ``early``, pending
    rows still in their backoff count as due too (the probe that finds out whether
    a failing channel has recovered).

    The rows are picked and locked by a plain SELECT first, then claimed by id.
    Folded into one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP
    LOCKED)``, PostgreSQL may run the subquery more than once and claim several
    times ``limit`` rows, which then outlive their lease waiting for a sender and
    are sent twice. The state re-check in the UPDATE keeps the claim exclusive on
    every backend (SQLite takes no row locks).

    Each returned row carries ``reclaimed``: its previous claim expired, so an
    earlier attempt may have reached the provider. That is remembered in the row
    (``maybe_sent``) for every later attempt: a re-send that fails (the provider
    down too) must still look for the earlier attempt when it is tried again.
    """
    n = notifications
    earlier = n.alias("earlier")
    waiting = n.c.state == PENDING if early else and_(n.c.state == PENDING, n.c.next_attempt_at <= now)
    due = or_(waiting, and_(n.c.state == SENDING, n.c.claimed_until < now))
    blocked = exists().where(
        earlier.c.alert_id == n.c.alert_id,
        earlier.c.channel == n.c.channel,
        earlier.c.target_id.is_not_distinct_from(n.c.target_id),
        earlier.c.notification_id < n.c.notification_id,
        earlier.c.state.in_(UNFINISHED),
    )
    if not (default or targets):
        return []
    whose = [] if default and targets else [n.c.target_id.is_(None) if default else n.c.target_id.is_not(None)]
    picked = dict(
        conn.execute(
            select(n.c.notification_id, n.c.state)
            .where(n.c.channel == channel, *whose, due, ~blocked)
            .order_by(n.c.notification_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    )
    if not picked:
        return []
    claimed = conn.execute(
        update(n)
        .where(n.c.notification_id.in_(picked), due)
        .values(
            state=SENDING, claimed_until=now + lease, attempts=n.c.attempts + 1,
            maybe_sent=or_(n.c.maybe_sent, n.c.state == SENDING),
        )
        .returning(n)
    ).all()
    return [
        Claimed(row, reclaimed=picked[row.notification_id] == SENDING)
        for row in sorted(claimed, key=lambda row: row.notification_id)
    ]


class Claimed:
    """A claimed outbox row (its columns as attributes) and whether it was
    ``reclaimed``: an earlier claim expired, so that attempt may have gone out."""

    __slots__ = ("_row", "reclaimed")

    def __init__(self, row, *, reclaimed: bool) -> None:
        self._row = row
        self.reclaimed = reclaimed

    def __getattr__(self, name: str):
        return getattr(self._row, name)


def extend_claim(conn: Connection, notification_id: int, claim: datetime, until: datetime) -> bool:
    """Push a live claim's expiry to ``until``; False when the claim is no longer ours."""
    return (
        conn.execute(
            update(notifications)
            .where(
                notifications.c.notification_id == notification_id,
                notifications.c.state == SENDING,
                notifications.c.claimed_until == claim,
            )
            .values(claimed_until=until)
        ).rowcount
        == 1
    )


def release_backlog(conn: Connection, channel: str, now: datetime) -> int:
    """Make every pending row of ``channel`` due now: the channel has just accepted
    a send, so the rows backing off from its outage need not wait out their own
    (up to five-minute) delays. Returns how many rows were released."""
    return conn.execute(
        update(notifications)
        .where(
            notifications.c.channel == channel,
            notifications.c.state == PENDING,
            notifications.c.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    ).rowcount


def trigger_refs(
    conn: Connection, keys: set[tuple[int, str, int | None]]
) -> dict[tuple[int, str, int | None], str]:
    """Provider references of delivered triggers (the Slack thread of an alert),
    keyed by (alert_id, channel, target_id)."""
    if not keys:
        return {}
    alert_ids = {alert_id for alert_id, _, _ in keys}
    rows = conn.execute(
        select(
            notifications.c.alert_id, notifications.c.channel, notifications.c.target_id, notifications.c.provider_ref
        ).where(
            notifications.c.alert_id.in_(alert_ids),
            notifications.c.kind == NotificationKind.TRIGGER,
            notifications.c.state == DELIVERED,
            notifications.c.provider_ref.is_not(None),
        )
    )
    found = {}
    for row in rows:
        key = (row.alert_id, row.channel, row.target_id)
        if key in keys:
            found[key] = row.provider_ref
    return found


def _finish(conn: Connection, notification_id: int, claim: datetime, **values) -> bool:
    # Only the holder of the claim records the outcome.
    return (
        conn.execute(
            update(notifications)
            .where(
                notifications.c.notification_id == notification_id,
                notifications.c.state == SENDING,
                notifications.c.claimed_until == claim,
            )
            .values(**values)
        ).rowcount
        == 1
    )


def mark_delivered(conn, notification_id: int, claimed_until: datetime, now: datetime, provider_ref: str | None) -> bool:
    return _finish(
        conn, notification_id, claimed_until,
        state=DELIVERED, finished_at=now, provider_ref=provider_ref, claimed_until=None, last_error=None,
    )


def mark_retry(conn, notification_id: int, claimed_until: datetime, next_attempt_at: datetime, error: str | None) -> bool:
    return _finish(
        conn, notification_id, claimed_until,
        state=PENDING, next_attempt_at=next_attempt_at, claimed_until=None, last_error=error,
    )


def mark_failed(conn, notification_id: int, claimed_until: datetime, now: datetime, error: str | None) -> bool:
    return _finish(
        conn, notification_id, claimed_until,
        state=FAILED, finished_at=now, claimed_until=None, last_error=error,
    )


def list_for_alert(conn: Connection, alert_id: int) -> list:
    return list(
        conn.execute(select(notifications).where(notifications.c.alert_id == alert_id).order_by(notifications.c.notification_id))
    )
