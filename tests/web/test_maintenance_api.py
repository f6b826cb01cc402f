"""/v2/maintenance: shapes, validation (a JSON 400 naming the field, nothing stored),
PATCH and DELETE; and GET /service?label=. The clock starts on 2026-01-05 12:00 UTC."""

from __future__ import annotations

import pytest

END = "2026-01-05T14:00:00Z"


@pytest.fixture
def fleet(api):
    for name, team, labels in (("db-hb", "db", {"env": "prod", "tier": "db"}), ("web-hb", "web", {"env": "prod"}),
                               ("dev-hb", "web", {"env": "dev"})):
        response = api.post("/service", json={"heartbeat_name": name, "service_name": name, "alert_interval": 5,
                                              "team": team, "labels": labels})
        assert response.status_code == 201, response.text


def windows(api) -> list[dict]:
    return api.get("/v2/maintenance").json()["results"]


def test_create_one_off_and_recurring_answers_201_with_the_window_and_its_id(api, fleet, clock):
    response = api.post("/v2/maintenance", json={"services": ["DB-HB", "web-hb"], "end": END, "reason": "db upgrade"})
    assert response.status_code == 201, response.text
    one_off = response.json()["results"]
    assert one_off["id"] >= 1 and one_off["kind"] == "one_off" and one_off["services"] == ["db-hb", "web-hb"]
    assert one_off["start"] == "2026-01-05T12:00:00Z" and one_off["end"] == END  # start defaults to now
    assert one_off["active"] is True and one_off["active_until"] == END and one_off["reason"] == "db upgrade"

    response = api.post("/v2/maintenance", json={"labels": {"env": "prod"}, "cron": "0 2 * * 0",
                                                 "timezone": "Europe/Berlin", "duration_minutes": 120,
                                                 "reason": "weekly patching"})
    assert response.status_code == 201, response.text
    recurring = response.json()["results"]
    assert recurring["kind"] == "recurring" and recurring["labels"] == {"env": "prod"}
    assert recurring["active"] is False and recurring["next_start"] == "2026-01-11T01:00:00Z"  # 02:00 CET
    assert "Sunday" in recurring["description"] and "Europe/Berlin" in recurring["description"]

    assert [w["id"] for w in windows(api)] == [one_off["id"], recurring["id"]]
    assert api.get(f"/v2/maintenance/{recurring['id']}").json()["results"] == recurring
    clock.set(clock().replace(hour=14))  # the one-off is over: no longer listed, still readable
    assert [w["id"] for w in windows(api)] == [recurring["id"]]
    assert api.get(f"/v2/maintenance/{one_off['id']}").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"services": ["nope-hb"], "end": END}, "services"),
    ({"end": END}, "services"),
    ({"team": "db", "labels": {"env": "prod"}, "end": END}, "labels"),
    ({"team": "db", "start": END, "end": "2026-01-05T13:00:00Z"}, "end"),
    ({"team": "db", "end": "2026-01-05T11:00:00Z"}, "end"),
    ({"team": "db"}, "end"),
    ({"team": "db", "end": "2026-01-05T14:00:00"}, "end"),  # no offset
    ({"team": "db", "cron": "0 2 * *", "duration_minutes": 60}, "cron"),
    ({"team": "db", "cron": "0 2 * * 0", "timezone": "Mars/Olympus", "duration_minutes": 60}, "timezone"),
    ({"team": "db", "cron": "0 2 * * 0"}, "duration_minutes"),
    ({"team": "db", "cron": "0 2 * * 0", "duration_minutes": 20000}, "duration_minutes"),
    ({"team": "db", "cron": "0 2 * * 0", "duration_minutes": 60, "end": END}, "cron"),
    ({"team": "db", "end": END, "reason": ""}, "reason"),
    ({"team": "db", "end": END, "owner": "me"}, "owner"),
])
def test_invalid_windows_are_a_400_naming_the_field_and_store_nothing(api, fleet, body, field):
    response = api.post("/v2/maintenance", json={"reason": "x", **body})
    assert response.status_code == 400, response.text
    reply = response.json()
    assert reply["success"] is False and field in reply["message"]
    assert any(problem["field"] == field for problem in reply["results"])
    assert windows(api) == []


def test_patch_replaces_what_it_names_and_checks_the_result(api, fleet):
    created = api.post("/v2/maintenance", json={"team": "db", "end": END, "reason": "db upgrade"}).json()["results"]
    path = f"/v2/maintenance/{created['id']}"
    changed = api.patch(path, json={"end": "2026-01-05T15:00:00Z", "reason": "db upgrade, longer"}).json()["results"]
    assert changed["end"] == "2026-01-05T15:00:00Z" and changed["start"] == created["start"] and changed["team"] == "db"
    changed = api.patch(path, json={"labels": {"tier": "db"}}).json()["results"]
    assert changed["team"] is None and changed["labels"] == {"tier": "db"}  # a scope field replaces the scope
    changed = api.patch(path, json={"cron": "0 3 * * *", "duration_minutes": 30}).json()["results"]
    assert changed["kind"] == "recurring" and changed["start"] is None and changed["end"] is None
    changed = api.patch(path, json={"timezone": "America/New_York"}).json()["results"]
    assert changed["cron"] == "0 3 * * *" and changed["timezone"] == "America/New_York"

    before = api.get(path).json()["results"]
    for body, field in (({"start": END}, "end"), ({"services": ["nope-hb"]}, "services"), ({"team": None}, "services"),
                        ({"reason": None}, "reason"), ({}, "changes nothing")):
        response = api.patch(path, json=body)
        assert response.status_code == 400 and field in response.json()["message"], (body, response.text)
    assert api.get(path).json()["results"] == before


def test_delete_ends_a_window_and_unknown_or_over_windows_are_4xx(api, fleet):
    created = api.post("/v2/maintenance", json={"team": "db", "end": END, "reason": "x"}).json()["results"]
    path = f"/v2/maintenance/{created['id']}"
    ended = api.delete(path)
    assert ended.status_code == 200 and ended.json()["results"]["active"] is False
    assert windows(api) == []
    assert api.delete(path).status_code == 409
    assert api.patch(path, json={"reason": "y"}).status_code == 409
    for method in ("GET", "PATCH", "DELETE"):
        for ident in ("999", "abc"):
            response = api.request(method, f"/v2/maintenance/{ident}", json={"reason": "y"} if method == "PATCH" else None)
            assert response.status_code == 404 and "no maintenance window" in response.json()["message"]


def test_services_can_be_listed_by_label(api, fleet):
    def names(label: str) -> list[str]:
        response = api.get("/service", params={"label": label})
        assert response.status_code == 200, response.text
        return [s["heartbeat_name"] for s in response.json()["results"]]

    assert names("env=prod") == ["db-hb", "web-hb"]
    assert names("env=prod,tier=db") == ["db-hb"]
    assert names("env=staging") == []
    response = api.get("/service", params={"label": "env"})
    assert response.status_code == 400 and "label" in response.json()["message"]
