"""The stored words never change with the code: rows written by an older Medic keep their meaning."""

from __future__ import annotations

from medic.core.model import (
    FINISHED_STATES,
    REASON_TEXT,
    UNFINISHED_STATES,
    ChannelName,
    CloseReason,
    NotificationKind,
    OpenReason,
    OutboxState,
    channel_receives,
)


def test_stored_values():
    assert [m.value for m in NotificationKind] == ["trigger", "resolve", "reminder", "note", "flapping"]
    assert [m.value for m in OutboxState] == ["pending", "sending", "delivered", "failed"]
    assert [m.value for m in ChannelName] == ["pagerduty", "slack", "webhook", "email", "apprise"]
    assert {m.value for m in OpenReason} == {
        "missed_heartbeats", "reported_down", "never_reported", "job_failed", "job_overdue",
        "missed_slot", "late_to_start", "running_too_long", "finished_too_fast",
    }
    assert {m.value for m in CloseReason} == {"recovered", "deactivated"}


def test_every_state_is_finished_or_not_and_every_reason_has_words():
    assert set(FINISHED_STATES) | set(UNFINISHED_STATES) == set(OutboxState)
    assert not set(FINISHED_STATES) & set(UNFINISHED_STATES)
    assert set(REASON_TEXT) == set(OpenReason) | set(CloseReason)
    assert REASON_TEXT["reported_down"] == "reported DOWN"  # looked up by the stored string


def test_who_receives_what():
    assert not channel_receives(ChannelName.PAGERDUTY, NotificationKind.REMINDER)
    assert channel_receives(ChannelName.SLACK, NotificationKind.REMINDER)
    # A dependency's note goes to the alert's Slack thread only.
    assert [c.value for c in ChannelName if channel_receives(c, NotificationKind.NOTE)] == ["slack"]
