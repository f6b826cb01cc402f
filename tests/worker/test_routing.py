"""Routes end to end: API -> database -> worker -> stand-in providers, both databases.

Two teams with their own routes page only their own PagerDuty key and Slack
channel; services no route matches go to the environment's channels (the default
route); the most specific route wins; a route edited while an alert is open
resolves on the targets its trigger went to; a target failing permanently leaves
the others delivered."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from medic.store.tables import notifications, route_targets, routes
from tests.fakes.providers import Response, provider_env

SECRET_KEY = Fernet.generate_key().decode()
WEB_KEY, DB_KEY = "web-team-routing-key-0001", "db-team-routing-key-0002"


@pytest.fixture
def settings_env(pagerduty, slack, webhook) -> dict[str, str]:
    return {**provider_env(pagerduty, slack, webhook), "NOTIFY_TIMEOUT_SECONDS": "2", "MEDIC_SECRET_KEY": SECRET_KEY}


def add_route(api, name, match, *targets, **extra) -> dict:
    response = api.post("/v2/routes", json={"name": name, "match": match, "targets": list(targets), **extra})
    assert response.status_code == 201, response.text
    return response.json()["results"]


def pd(key):
    return {"type": "pagerduty", "routing_key": key}


def slack_to(channel):
    return {"type": "slack", "channel": channel}


def pd_sent(pagerduty) -> list[tuple[str, str, str]]:
    """(routing_key, event_action, service summary) of every PagerDuty request."""
    return [(r.json["routing_key"], r.json["event_action"], r.json.get("payload", {}).get("source", "")) for r in pagerduty.requests]


def slack_channels(slack) -> list[str]:
    return [r.data["channel"] for r in slack.requests]


def go_down(medic, worker, clock, *names):
    for name in names:
        medic.beat(name)
    clock.advance(minutes=2)
    worker.run_once()


def recover(medic, worker, *names):
    for name in names:
        medic.beat(name)
    worker.run_once()


def test_two_teams_page_only_their_own_targets(api, medic, worker, clock, pagerduty, slack, webhook):
    add_route(api, "web", {"team": "web"}, pd(WEB_KEY), slack_to("CWEB"))
    add_route(api, "db", {"team": "db"}, pd(DB_KEY), slack_to("CDB"))
    medic.register("web-hb", team="web")
    medic.register("db-hb", team="db")
    go_down(medic, worker, clock, "web-hb", "db-hb")

    by_key = {}
    for r in pagerduty.requests:
        by_key.setdefault(r.json["routing_key"], []).append(r.json["dedup_key"])
    assert sorted(by_key) == sorted([WEB_KEY, DB_KEY])  # the environment's key paged nobody
    alerts = {a["heartbeat_name"]: a["external_reference_id"] for a in medic.alerts()}
    assert by_key[WEB_KEY] == [alerts["web-hb"]] and by_key[DB_KEY] == [alerts["db-hb"]]
    assert sorted(slack_channels(slack)) == ["CDB", "CWEB"]
    assert webhook.requests == []  # the default route's webhook is not theirs

    recover(medic, worker, "web-hb", "db-hb")
    resolves = [(r.json["routing_key"], r.json["dedup_key"]) for r in pagerduty.requests if r.json["event_action"] == "resolve"]
    assert sorted(resolves) == sorted([(WEB_KEY, alerts["web-hb"]), (DB_KEY, alerts["db-hb"])])
    # Each Slack recovery is threaded under its own trigger, in its own channel.
    first = {r.data["channel"]: r for r in slack.requests[:2]}
    replies = slack.requests[2:]
    assert sorted(r.data["channel"] for r in replies) == ["CDB", "CWEB"]
    assert all("thread_ts" in r.data for r in replies)
    assert len(first) == 2
    assert webhook.requests == []


def test_a_service_no_route_matches_goes_to_the_default_route(api, medic, worker, clock, pagerduty, slack, webhook):
    add_route(api, "db", {"team": "db"}, pd(DB_KEY))
    medic.register("other-hb", team="payments")
    go_down(medic, worker, clock, "other-hb")
    assert [key for key, *_ in pd_sent(pagerduty)] == ["test-routing-key"]
    assert slack_channels(slack) == ["C0MEDICTEST"]
    assert len(webhook.requests) == 1
    recover(medic, worker, "other-hb")
    assert [(key, action) for key, action, _ in pd_sent(pagerduty)] == [
        ("test-routing-key", "trigger"), ("test-routing-key", "resolve")]


def test_the_most_specific_route_wins_and_labels_match(api, medic, worker, clock, pagerduty):
    add_route(api, "db", {"team": "db"}, pd("db-any"))
    add_route(api, "db-prod", {"team": "db", "labels": {"env": "prod"}}, pd("db-prod"))
    add_route(api, "p1", {"priority": "p1"}, pd("p1-any"))
    medic.register("prod-hb", team="db", labels={"env": "prod", "tier": "1"})
    medic.register("staging-hb", team="db", labels={"env": "staging"})
    medic.register("p1-db-hb", team="db", priority="p1")  # team=db and priority=p1 tie: both fire
    go_down(medic, worker, clock, "prod-hb", "staging-hb", "p1-db-hb")
    keys = {}
    alerts = {a["external_reference_id"]: a["heartbeat_name"] for a in medic.alerts()}
    for r in pagerduty.requests:
        keys.setdefault(alerts[r.json["dedup_key"]], set()).add(r.json["routing_key"])
    assert keys == {"prod-hb": {"db-prod"}, "staging-hb": {"db-any"}, "p1-db-hb": {"db-any", "p1-any"}}


def test_labels_set_later_change_the_route_of_the_next_alert(api, medic, worker, clock, pagerduty):
    add_route(api, "edge", {"labels": {"zone": "edge"}}, pd("edge-key"))
    medic.register("svc-hb")
    assert medic.service()["labels"] == {}
    medic.update(labels={"zone": "edge"})
    assert medic.service()["labels"] == {"zone": "edge"}
    go_down(medic, worker, clock, "svc-hb")
    assert [key for key, *_ in pd_sent(pagerduty)] == ["edge-key"]


def test_a_route_edited_while_an_alert_is_open_resolves_where_it_triggered(api, medic, worker, clock, pagerduty, slack):
    route = add_route(api, "web", {"team": "web"}, pd("old-key"), slack_to("COLD"))
    medic.register("web-hb", team="web")
    go_down(medic, worker, clock, "web-hb")
    response = api.patch(f"/v2/routes/{route['id']}", json={"targets": [pd("new-key"), slack_to("CNEW")]})
    assert response.status_code == 200, response.text
    assert [t["type"] for t in response.json()["results"]["targets"]] == ["pagerduty", "slack"]
    recover(medic, worker, "web-hb")
    assert [(key, action) for key, action, _ in pd_sent(pagerduty)] == [("old-key", "trigger"), ("old-key", "resolve")]
    assert slack_channels(slack) == ["COLD", "COLD"]

    go_down(medic, worker, clock, "web-hb")  # the next alert goes to the new targets
    assert pd_sent(pagerduty)[-1][:2] == ("new-key", "trigger")
    assert slack_channels(slack)[-1] == "CNEW"


def test_a_deleted_route_still_resolves_its_open_alert(api, medic, worker, clock, pagerduty):
    route = add_route(api, "web", {"team": "web"}, pd("web-key"))
    medic.register("web-hb", team="web")
    go_down(medic, worker, clock, "web-hb")
    assert api.delete(f"/v2/routes/{route['id']}").status_code == 200
    assert api.get(f"/v2/routes/{route['id']}").status_code == 404
    recover(medic, worker, "web-hb")
    assert [(key, action) for key, action, _ in pd_sent(pagerduty)] == [("web-key", "trigger"), ("web-key", "resolve")]


def test_a_target_failing_permanently_leaves_the_other_delivered(api, medic, worker, clock, engine, pagerduty, slack):
    add_route(api, "web", {"team": "web"}, pd("web-key"), slack_to("CWEB"))
    medic.register("web-hb", team="web")
    pagerduty.queue(Response(400, {"status": "invalid event", "message": "bad key", "errors": ["bad"]}))
    go_down(medic, worker, clock, "web-hb")
    with engine.connect() as conn:
        rows = {r.channel: r for r in conn.execute(select(notifications))}
    assert rows["pagerduty"].state == "failed" and "400" in rows["pagerduty"].last_error
    assert rows["slack"].state == "delivered"
    assert rows["pagerduty"].target_id != rows["slack"].target_id and rows["slack"].target_id is not None


def test_one_trigger_and_one_resolve_per_target_through_retries(api, medic, worker, clock, engine, pagerduty, slack):
    add_route(api, "web", {"team": "web"}, pd("key-a"), pd("key-b"))
    medic.register("web-hb", team="web")
    pagerduty.queue(Response(500, {}))  # one target's first attempt fails
    go_down(medic, worker, clock, "web-hb")
    failed_key = pagerduty.requests[0].json["routing_key"]
    medic.beat("web-hb")
    worker.run_once()  # recovered while that target's trigger is still backing off
    for _ in range(4):
        clock.advance(seconds=10)
        worker.run_once()
    sent = [(key, action) for key, action, _ in pd_sent(pagerduty)][1:]  # after the 500
    for key in ("key-a", "key-b"):
        mine = [action for k, action in sent if k == key]
        assert mine == ["trigger", "resolve"], sent  # once each, never the resolve first
    assert failed_key in ("key-a", "key-b")
    with engine.connect() as conn:
        states = [r.state for r in conn.execute(select(notifications))]
    assert states == ["delivered"] * 4


def test_secrets_stay_out_of_replies_logs_and_the_database(api, medic, worker, clock, engine, pagerduty, caplog):
    caplog.set_level(logging.DEBUG)
    hook_secret = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="
    apprise_url = "json://127.0.0.1:9/hook?token=apprise-token-9f8e7d"
    created = add_route(
        api, "web", {"team": "web"}, pd(WEB_KEY),
        {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": hook_secret},
        {"type": "apprise", "url": apprise_url},
        {"type": "pagerduty", "routing_key": {"env": "WEB_TEAM_PD_KEY"}},
    )
    medic.register("web-hb", team="web")
    go_down(medic, worker, clock, "web-hb")
    replies = [api.get("/v2/routes").text, api.get(f"/v2/routes/{created['id']}").text,
               api.get("/v2/services/web-hb/routes").text, str(created)]
    with engine.connect() as conn:
        dump = str([list(r) for t in (routes, route_targets, notifications) for r in conn.execute(select(t))])
    logs = caplog.text
    for secret in (WEB_KEY, hook_secret, "apprise-token-9f8e7d", "c2VjcmV0LXNpZ25pbmcta2V5"):
        for where, text in (("replies", " ".join(replies)), ("database", dump), ("logs", logs)):
            assert secret not in text, f"{secret[:6]}... found in {where}"
    assert created["targets"][0]["routing_key"] == "********"
    assert created["targets"][3]["routing_key"] == {"env": "WEB_TEAM_PD_KEY"}
    # The sealed key reached PagerDuty; the unset variable is a retry naming it, not a crash.
    assert [key for key, *_ in pd_sent(pagerduty)] == [WEB_KEY]
    with engine.connect() as conn:
        errors = [r.last_error for r in conn.execute(select(notifications)) if r.state == "pending"]
    assert any("WEB_TEAM_PD_KEY" in (e or "") for e in errors)


def test_an_environment_reference_is_read_at_send_time(api, medic, worker, clock, pagerduty, monkeypatch):
    monkeypatch.setenv("WEB_TEAM_PD_KEY", "from-the-environment")
    add_route(api, "web", {"team": "web"}, {"type": "pagerduty", "routing_key": {"env": "WEB_TEAM_PD_KEY"}})
    medic.register("web-hb", team="web")
    go_down(medic, worker, clock, "web-hb")
    assert [key for key, *_ in pd_sent(pagerduty)] == ["from-the-environment"]


def test_escalation_after_n_minutes_then_resolved_on_both(api, medic, worker, clock, pagerduty, slack):
    add_route(api, "web", {"team": "web"}, pd("web-key"),
              escalate_after_minutes=10, escalate_to=[slack_to("CBOSS")])
    medic.register("web-hb", team="web")
    go_down(medic, worker, clock, "web-hb")
    assert slack.requests == []
    clock.advance(minutes=9, seconds=50)
    worker.run_once()
    assert slack.requests == []  # not yet ten minutes
    clock.advance(seconds=10)
    worker.run_once()
    assert slack_channels(slack) == ["CBOSS"]
    clock.advance(minutes=15)
    worker.run_once()
    assert slack_channels(slack) == ["CBOSS"]  # once
    recover(medic, worker, "web-hb")
    assert [(key, action) for key, action, _ in pd_sent(pagerduty)] == [("web-key", "trigger"), ("web-key", "resolve")]
    assert slack_channels(slack) == ["CBOSS", "CBOSS"]
    assert "thread_ts" in slack.requests[1].data  # the recovery in the escalation's thread


def test_a_muted_service_does_not_escalate(api, medic, worker, clock, slack):
    add_route(api, "web", {"team": "web"}, pd("web-key"), escalate_after_minutes=5, escalate_to=[slack_to("CBOSS")])
    medic.register("web-hb", team="web")
    go_down(medic, worker, clock, "web-hb")
    medic.update("web-hb", muted=True)
    clock.advance(minutes=6)
    worker.run_once()
    assert slack.requests == []


def test_reminders_go_to_the_alerts_targets_except_pagerduty(api, medic, settings, engine, clock, pagerduty, slack, webhook):
    from medic.worker.loop import Worker

    reminding = settings.model_copy(update={"reminder_interval_minutes": 5})
    worker = Worker(reminding, engine, clock=clock, run_daily_cleanup=False)
    try:
        add_route(api, "web", {"team": "web"}, pd("web-key"), slack_to("CWEB"))
        medic.register("web-hb", team="web")
        go_down(medic, worker, clock, "web-hb")
        clock.advance(minutes=5)
        worker.run_once()
    finally:
        worker.close()
    assert [(key, action) for key, action, _ in pd_sent(pagerduty)] == [("web-key", "trigger")]
    assert slack_channels(slack) == ["CWEB", "CWEB"]  # the trigger, then the reminder in its channel
    assert webhook.requests == []  # the default route's channels get nothing of this alert
