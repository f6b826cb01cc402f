"""Dependencies end to end (docs/alerting.md, "Dependencies"): a service below one with
an open alert opens its alert suppressed, without a page, and pages on its own only
if it is still down MEDIC_DEPENDENCY_GRACE_MINUTES after its parent recovered."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.fakes.providers import Response
from tests.worker.test_concurrency import run_together

GRACE_MINUTES = 5
THREAD = "1767614400.000042"  # the ts Slack answers for db's alert message


@pytest.fixture
def settings_env(settings_env) -> dict[str, str]:
    return {**settings_env, "MEDIC_DEPENDENCY_GRACE_MINUTES": str(GRACE_MINUTES)}


def pd_events(pagerduty) -> list[tuple[str, str]]:
    """(action, dedup key) of each PagerDuty request."""
    return [(r.json["event_action"], r.json["dedup_key"]) for r in pagerduty.requests]


def triggers(pagerduty) -> list[str]:
    return [r.json["payload"]["custom_details"]["heartbeat_name"] for r in pagerduty.requests
            if r.json["event_action"] == "trigger"]


def resolves(pagerduty, medic) -> list[str]:
    by_key = {a["external_reference_id"]: a["heartbeat_name"] for a in medic.alerts(limit=1000)}
    return [by_key[r.json["dedup_key"]] for r in pagerduty.requests if r.json["event_action"] == "resolve"]


def by_name(medic, **params) -> dict[str, dict]:
    return {a["heartbeat_name"]: a for a in medic.alerts(limit=1000, **params)}


def chain(medic) -> None:
    """db <- api <- web: api depends on db, web on api."""
    medic.register("db", service_name="db")
    medic.register("api", service_name="api", depends_on=["db"])
    medic.register("web", service_name="web", depends_on=["api"])
    for name in ("db", "api", "web"):
        medic.beat(name)


def test_a_chain_that_goes_down_together_pages_once_for_its_top(medic, worker, clock, pagerduty, slack, webhook):
    chain(medic)
    clock.advance(seconds=61)
    worker.run_once()
    assert triggers(pagerduty) == ["db"]
    details = pagerduty.requests[0].json["payload"]["custom_details"]
    assert details["affected_services"] == ["api", "web"]
    [message] = slack.requests
    assert "*api*, *web*" in str(message.data["blocks"])
    assert [r.json["event"] for r in webhook.requests] == ["trigger"]
    assert webhook.requests[0].json["alert"]["affected"] == ["api", "web"]

    alerts = by_name(medic, active="true")
    assert set(alerts) == {"db", "api", "web"}
    assert alerts["db"]["suppressed"] is False and alerts["db"]["suppressed_by"] is None
    for name in ("api", "web"):
        assert alerts[name]["suppressed"] is True
        assert alerts[name]["suppressed_by"] == "db"
        assert alerts[name]["suppressed_by_alert_id"] == alerts["db"]["alert_id"]
    assert medic.service("api")["down"] == 1  # recorded and shown as down, just not paged

    for _ in range(3):  # later cycles page nothing more
        clock.advance(seconds=30)
        worker.run_once()
    assert len(pagerduty.requests) == 1 and len(slack.requests) == 1 and len(webhook.requests) == 1

    for name in ("db", "api", "web"):  # everything recovers: only db's page is resolved
        medic.beat(name)
    worker.run_once()
    assert resolves(pagerduty, medic) == ["db"]
    assert [r.json["event"] for r in webhook.requests] == ["trigger", "resolve"]
    assert len(slack.requests) == 2
    assert all(not a["active"] for a in medic.alerts())


def test_children_going_down_later_are_named_in_the_waiting_page_then_in_its_slack_thread(
        medic, worker, clock, pagerduty, slack, webhook):
    chain(medic)
    medic.update("api", alert_interval=10)
    medic.update("web", alert_interval=10)
    clock.advance(seconds=61)
    worker.evaluate()  # db opens; its trigger is not sent yet
    medic.beat("api", status="DOWN")
    clock.advance(seconds=1)
    worker.evaluate()  # api opens suppressed: the waiting trigger names it
    slack.queue(Response(200, {"ok": True, "channel": "C1", "ts": THREAD}))
    worker.deliver()
    assert triggers(pagerduty) == ["db"]
    assert pagerduty.requests[0].json["payload"]["custom_details"]["affected_services"] == ["api"]

    assert "*api*" in str(slack.requests[0].data["blocks"])

    medic.beat("web", status="DOWN")  # after db's page went out: suppressed all the same...
    clock.advance(seconds=1)
    worker.run_once()
    assert triggers(pagerduty) == ["db"]
    assert by_name(medic, active="true")["web"]["suppressed_by"] == "db"
    # ...and noted in db's Slack thread, only there
    trigger, note = slack.requests
    assert "thread_ts" not in trigger.data and note.data["thread_ts"] == THREAD
    assert "*web*" in note.data["text"] and "*api*" not in note.data["text"]
    assert [r.json["event"] for r in webhook.requests] == ["trigger"]

    for name in ("db", "api", "web"):
        medic.beat(name)
    worker.run_once()
    assert resolves(pagerduty, medic) == ["db"] and len(slack.requests) == 3


def test_a_diamond_pages_for_its_top_then_for_the_middle_that_stays_down(medic, worker, clock, pagerduty):
    # a <- b, a <- c, b,c <- d
    medic.register("a", service_name="a")
    medic.register("b", service_name="b", depends_on=["a"])
    medic.register("c", service_name="c", depends_on=["a"])
    medic.register("d", service_name="d", depends_on=["b", "c"])
    assert medic.service("d")["depends_on"] == ["b", "c"]
    for name in "abcd":
        medic.beat(name)
    clock.advance(seconds=61)
    worker.run_once()
    assert triggers(pagerduty) == ["a"]
    assert pagerduty.requests[0].json["payload"]["custom_details"]["affected_services"] == ["b", "c", "d"]
    assert {n: a["suppressed_by"] for n, a in by_name(medic, active="true").items()} == {
        "a": None, "b": "a", "c": "a", "d": "a"}

    medic.beat("a")  # a recovers (and stays up); b, c and d stay down
    worker.run_once()
    clock.advance(minutes=GRACE_MINUTES)
    medic.beat("a")
    worker.run_once()
    # b and c are down on their own now; d is below them, so it stays suppressed, by b.
    assert sorted(triggers(pagerduty)) == ["a", "b", "c"]
    alerts = by_name(medic, active="true")
    assert (alerts["b"]["suppressed"], alerts["c"]["suppressed"]) == (False, False)
    assert alerts["b"]["released_at"] is not None
    assert (alerts["d"]["suppressed"], alerts["d"]["suppressed_by"]) == (True, "b")
    worker.run_once()
    assert len(triggers(pagerduty)) == 3


def test_a_child_still_down_after_the_grace_pages_then_resolves(medic, worker, clock, pagerduty):
    medic.register("db", service_name="db")
    medic.register("api", service_name="api", depends_on=["db"])
    clock.advance(seconds=60)
    worker.run_once()
    assert triggers(pagerduty) == ["db"]

    medic.update("db", alert_interval=60)
    medic.beat("db")
    worker.run_once()  # db recovers; api is still down, suppressed
    assert resolves(pagerduty, medic) == ["db"]
    clock.advance(minutes=GRACE_MINUTES, seconds=-1)
    worker.run_once()
    assert triggers(pagerduty) == ["db"]
    clock.advance(seconds=1)
    worker.run_once()
    assert triggers(pagerduty) == ["db", "api"]
    [api] = medic.alerts(active="true")
    assert api["heartbeat_name"] == "api" and api["suppressed"] is False and api["suppressed_by"] == "db"
    assert api["released_at"] == "2026-01-05T12:06:00Z"
    clock.advance(minutes=5)
    worker.run_once()
    assert triggers(pagerduty) == ["db", "api"]  # once

    medic.beat("api")
    worker.run_once()
    assert resolves(pagerduty, medic) == ["db", "api"]
    keys = [key for _, key in pd_events(pagerduty)]
    assert keys[2] == keys[3] == api["external_reference_id"]


def test_a_child_that_recovers_while_suppressed_never_pages(medic, worker, clock, pagerduty, slack, webhook):
    medic.register("db", service_name="db")
    medic.register("api", service_name="api", depends_on=["db"])
    clock.advance(seconds=60)
    worker.run_once()
    medic.beat("api")
    worker.run_once()  # api recovers while db is still down: closed without a word
    [closed] = [a for a in medic.alerts() if a["heartbeat_name"] == "api"]
    assert closed["active"] == 0 and closed["close_reason"] == "recovered" and closed["suppressed"] is True
    medic.update("db", alert_interval=60)
    medic.beat("db")
    worker.run_once()
    for _ in range(3):
        clock.advance(minutes=GRACE_MINUTES)
        medic.beat("api")
        worker.run_once()
    assert triggers(pagerduty) == ["db"] and resolves(pagerduty, medic) == ["db"]
    assert len(slack.requests) == 2 and len(webhook.requests) == 2


def test_a_service_without_a_down_parent_pages_as_usual(medic, worker, clock, pagerduty):
    medic.register("db", service_name="db")
    medic.register("api", service_name="api", depends_on=["db"])
    medic.beat("db")
    clock.advance(seconds=30)
    medic.beat("db")
    medic.beat("api", status="DOWN")
    worker.run_once()
    assert triggers(pagerduty) == ["api"]
    assert medic.alerts()[0]["suppressed"] is False


def test_a_suppressed_alert_sends_no_reminders(settings, engine, medic, clock, slack):
    from medic.worker.loop import Worker

    worker = Worker(settings.model_copy(update={"reminder_interval_minutes": 10}), engine, clock=clock,
                    run_daily_cleanup=False)
    try:
        medic.register("db", service_name="db")
        medic.register("api", service_name="api", depends_on=["db"])
        clock.advance(seconds=60)
        worker.run_once()
        clock.advance(minutes=10)
        worker.run_once()
        texts = [r.data["text"] for r in slack.requests]
        assert len(texts) == 2 and "Still down" in texts[1] and "*db*" in texts[1]  # db's reminder only
    finally:
        worker.close()


def test_two_workers_page_each_incident_once(medic, make_worker, clock, pagerduty):
    medic.register("db", service_name="db")
    children = [f"svc-{i:02d}" for i in range(20)]
    for name in children:
        medic.register(name, service_name=name, depends_on=["db"])
    clock.advance(seconds=60)
    workers = [make_worker(), make_worker()]
    run_together(workers, "run_once")
    assert triggers(pagerduty) == ["db"]

    medic.update("db", alert_interval=60)
    medic.beat("db")
    run_together(workers, "run_once")
    clock.advance(minutes=GRACE_MINUTES)
    run_together(workers, "run_once")
    for name in children:
        medic.beat(name)
    run_together(workers, "run_once")

    actions = Counter((r.json["dedup_key"], r.json["event_action"]) for r in pagerduty.requests)
    assert len({key for key, _ in actions}) == 1 + len(children)
    assert set(actions.values()) == {1}
    assert sorted(triggers(pagerduty)) == ["db"] + children


def edge_reads(engine, run) -> list:
    """The parameters of every statement reading service_dependencies while ``run`` runs."""
    from sqlalchemy import event

    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if "service_dependencies" in statement:
            seen.append(parameters)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def ids_in(value) -> list[int]:
    """Every integer in statement parameters (tuples, dicts, arrays)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [i for item in value for i in ids_in(item)]
    return []


def test_a_cycle_reads_only_the_edges_above_what_opens_and_a_bounded_number_of_layers(
        medic, worker, engine, clock, pagerduty):
    from medic.core.dependencies import MAX_DEPTH

    medic.register("db", service_name="db", alert_interval=60)
    for i in range(30):  # a fleet below db, all healthy
        medic.register(f"app-{i:02d}", service_name="app", alert_interval=60, depends_on=["db"])
    names = [f"link-{i:02d}" for i in range(MAX_DEPTH + 10)]  # a chain longer than the walk
    medic.register(names[0], service_name="link", alert_interval=60)
    for parent, name in zip(names, names[1:]):
        medic.register(name, service_name="link", alert_interval=60, depends_on=[parent])
    assert edge_reads(engine, worker.run_once) == []  # nothing opens: no edge is read

    medic.beat(names[-1], status="DOWN")
    reads = edge_reads(engine, worker.run_once)
    assert triggers(pagerduty) == [names[-1]]
    assert 1 <= len(reads) <= MAX_DEPTH  # one query per layer, MAX_DEPTH layers at most
    chain_ids = {medic.service(name)["service_id"] for name in names}
    assert ids_in(reads) and set(ids_in(reads)) <= chain_ids  # never db's fleet


def test_a_muted_child_pages_after_the_grace_only_once_unmuted(medic, worker, clock, pagerduty):
    medic.register("db", service_name="db")
    medic.register("api", service_name="api", depends_on=["db"])
    clock.advance(seconds=60)
    worker.run_once()
    medic.update("api", muted=True)
    medic.update("db", alert_interval=60)
    medic.beat("db")
    worker.run_once()  # db's alert closes
    clock.advance(minutes=GRACE_MINUTES + 1)
    worker.run_once()
    assert triggers(pagerduty) == ["db"]
    medic.update("api", muted=False)
    worker.run_once()
    assert triggers(pagerduty) == ["db", "api"]


def test_a_child_in_a_maintenance_window_pages_after_the_grace_only_once_the_window_ends(
        medic, api, worker, clock, pagerduty):
    medic.register("db", service_name="db")
    medic.register("api", service_name="api", depends_on=["db"])
    clock.advance(seconds=60)
    worker.run_once()
    assert triggers(pagerduty) == ["db"]
    response = api.post("/v2/maintenance", json={"reason": "api deploy", "services": ["api"],
                                                 "end": "2026-01-05T12:31:00Z"})
    assert response.status_code == 201, response.text
    medic.update("db", alert_interval=60)
    medic.beat("db")
    worker.run_once()  # db recovers; api is still down, suppressed, in its window
    clock.advance(minutes=GRACE_MINUTES + 1)
    worker.run_once()
    assert triggers(pagerduty) == ["db"]  # the grace is over, but the window holds it
    [held] = medic.alerts(active="true")
    assert held["heartbeat_name"] == "api" and held["suppressed"] is True
    clock.advance(minutes=30)  # 12:37, past the window's end
    worker.run_once()
    assert triggers(pagerduty) == ["db", "api"]
    worker.run_once()
    assert triggers(pagerduty) == ["db", "api"]  # once


def test_a_suppressed_child_whose_flapping_ends_while_its_parent_is_down_does_not_page(
        medic, worker, clock, pagerduty, webhook):
    medic.register("db", service_name="db", alert_interval=10)
    medic.register("api", service_name="api", alert_interval=10, depends_on=["db"])
    medic.beat("db")
    medic.beat("api")
    medic.beat("db", status="DOWN")
    clock.advance(seconds=30)
    worker.run_once()
    assert triggers(pagerduty) == ["db"]
    for status in ["DOWN", "UP"] * 4 + ["DOWN"]:  # api flaps below db: every opening suppressed
        medic.beat("api", status=status)
        clock.advance(seconds=30)
        worker.run_once()
    assert medic.service("api")["flapping"] is True and triggers(pagerduty) == ["db"]
    for _ in range(13):  # api stable (down) for the flap period; db still down all along
        clock.advance(minutes=5)
        medic.beat("db", status="DOWN")
        worker.run_once()
    assert medic.service("api")["flapping"] is False
    [held] = [a for a in medic.alerts(active="true") if a["heartbeat_name"] == "api"]
    assert held["suppressed"] is True
    assert triggers(pagerduty) == ["db"]  # db is still down: api's alert stays suppressed, no page
    assert [r.json["event"] for r in webhook.requests] == ["trigger"]
    medic.beat("db")  # db recovers; api, still down, pages once after the grace
    worker.run_once()
    clock.advance(minutes=GRACE_MINUTES + 1)
    worker.run_once()
    worker.run_once()
    assert triggers(pagerduty) == ["db", "api"]
