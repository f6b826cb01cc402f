"""The plan on its own (no server): maintenance windows, whose API may not exist on a
server yet, and the normal forms the diff compares."""

from __future__ import annotations

from medic.declarative.document import Document
from datetime import datetime, timezone

from medic.declarative.plan import CREATE, ENDED, LEAVE, REMOVE, UNCHANGED, State, describe, make_plan, summary

ONCE = {"team": "payments", "start": "2026-06-01T04:00:00+02:00", "end": "2026-06-01T06:00:00+02:00", "reason": "upgrade"}
WEEKLY = {"services": ["b-hb", "a-hb"], "cron": "0 2 * * 0", "duration_minutes": 90, "reason": "vacuum"}


def served(window_id: int, **window) -> dict:
    """A window as GET /v2/maintenance lists it: every field, nulls included, and its id."""
    fields = ("services", "team", "labels", "start", "end", "cron", "timezone", "duration_minutes", "reason")
    return {"id": window_id, **{name: None for name in fields}, **window, "created_at": "2026-05-01T00:00:00Z"}


def plan(windows: list[dict], state: list[dict] | None, prune: bool = False):
    return make_plan(Document.model_validate({"maintenance": windows}), State([], [], state), prune=prune)


def actions(made):
    return [(c.action, [(s.method, s.path) for s in c.calls]) for c in made.changes]


def test_windows_are_created_matched_by_content_and_pruned():
    made = plan([ONCE, WEEKLY], [])
    assert actions(made) == [(CREATE, [("POST", "/v2/maintenance")]), (CREATE, [("POST", "/v2/maintenance")])]
    assert made.changes[0].calls[0].body == {"team": "payments", "start": "2026-06-01T02:00:00Z",
                                             "end": "2026-06-01T04:00:00Z", "reason": "upgrade"}
    assert made.changes[1].calls[0].body["timezone"] == "UTC"

    current = [served(7, team="payments", start="2026-06-01T02:00:00Z", end="2026-06-01T04:00:00Z", reason="upgrade"),
               served(8, services=["a-hb", "b-hb"], cron="0 2 * * 0", timezone="UTC", duration_minutes=90, reason="vacuum"),
               served(9, labels={"env": "dev"}, start="2026-07-01T00:00:00Z", end="2026-07-02T00:00:00Z")]
    made = plan([ONCE, WEEKLY], current)
    assert actions(made) == [(UNCHANGED, []), (UNCHANGED, []), (LEAVE, [])]
    made = plan([ONCE, WEEKLY], current, prune=True)
    assert actions(made)[2] == (REMOVE, [("DELETE", "/v2/maintenance/9")])
    assert not made.problems

    moved = {**ONCE, "end": "2026-06-01T07:00:00+02:00"}  # an edited window is a new one
    assert [a for a, _ in actions(plan([moved, WEEKLY], current, prune=True))] == [CREATE, UNCHANGED, REMOVE, REMOVE]


def test_a_server_without_the_maintenance_api():
    made = plan([ONCE], None)
    assert made.problems and "no maintenance API" in made.problems[0]
    made = plan([], None, prune=True)
    assert not made.problems and made.changes == []


def test_a_one_off_window_already_over_is_left_out_not_sent():
    # The server lists only windows in force or upcoming and refuses to create one that
    # has ended: a file still holding last week's window must apply cleanly.
    document = Document.model_validate({"maintenance": [ONCE, WEEKLY]})
    after = datetime(2026, 6, 2, tzinfo=timezone.utc)
    made = make_plan(document, State([], [], []), prune=True, now=after)
    assert actions(made) == [(ENDED, []), (CREATE, [("POST", "/v2/maintenance")])]
    assert describe(made.changes[0])[0].endswith("ended before this apply, left out")
    assert summary(made) == "1 to create, 1 ended"
    before = datetime(2026, 6, 1, tzinfo=timezone.utc)
    assert [a for a, _ in actions(make_plan(document, State([], [], []), now=before))] == [CREATE, CREATE]
