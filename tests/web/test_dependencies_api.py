"""depends_on on register and update (docs/api.md): stored, shown, and refused with a
400 naming the problem (unknown names, cycles) that changes nothing."""

from __future__ import annotations

import pytest


def register(api, name: str, **extra):
    return api.post("/service", json={"heartbeat_name": name, "service_name": name, "alert_interval": 5, **extra})


def depends_on(api, name: str) -> list[str]:
    return api.get(f"/service/{name}").json()["results"][0]["depends_on"]


@pytest.fixture
def chain(api):
    """db <- api <- web."""
    for name, parents in (("db", []), ("api", ["db"]), ("web", ["API"])):  # names match in any case
        response = register(api, name, depends_on=parents)
        assert response.status_code == 201, response.text


def test_depends_on_is_stored_and_shown(api, chain):
    created = register(api, "edge", depends_on=["web", "db"])
    assert created.json()["results"]["depends_on"] == ["db", "web"]
    assert depends_on(api, "web") == ["api"] and depends_on(api, "db") == []
    listed = {s["heartbeat_name"]: s["depends_on"] for s in api.get("/service").json()["results"]}
    assert listed == {"db": [], "api": ["db"], "web": ["api"], "edge": ["db", "web"]}


def test_update_replaces_and_clears(api, chain):
    response = api.post("/service/web", json={"depends_on": ["db", "api"]})
    assert response.status_code == 200 and response.json()["message"] == "service updated"
    assert response.json()["results"]["depends_on"] == ["api", "db"]
    assert api.post("/service/web", json={"depends_on": []}).json()["results"]["depends_on"] == []
    api.post("/service/web", json={"depends_on": ["api"]})
    assert api.post("/service/web", json={"depends_on": None}).json()["results"]["depends_on"] == []
    assert api.post("/service/api", json={"muted": True}).json()["results"]["depends_on"] == ["db"]  # kept


def test_unknown_names_are_a_400_and_register_nothing(api, chain):
    response = register(api, "edge", depends_on=["db", "nope", "gone"])
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert "depends_on" in body["message"] and "'nope'" in body["message"] and "'gone'" in body["message"]
    assert api.get("/service/edge").status_code == 404


def test_unknown_names_on_update_change_nothing(api, chain):
    response = api.post("/service/api", json={"depends_on": ["nope"], "team": "other"})
    assert response.status_code == 400 and "'nope'" in response.json()["message"]
    service = api.get("/service/api").json()["results"][0]
    assert service["depends_on"] == ["db"] and service["team"] == "site-reliability"


@pytest.mark.parametrize(("name", "parents", "cycle"), [
    ("db", ["db"], "'db' cannot depend on itself"),
    ("db", ["api"], "db -> api -> db"),
    ("db", ["web"], "db -> web -> api -> db"),
])
def test_cycles_are_a_400_naming_them_and_change_nothing(api, chain, name, parents, cycle):
    response = api.post(f"/service/{name}", json={"depends_on": parents, "priority": "p1"})
    assert response.status_code == 400, response.text
    assert cycle in response.json()["message"]
    assert response.json()["results"] == [{"field": "depends_on", "problem": response.json()["results"][0]["problem"]}]
    service = api.get(f"/service/{name}").json()["results"][0]
    assert service["depends_on"] == [] and service["priority"] == "p3"
    assert depends_on(api, "api") == ["db"] and depends_on(api, "web") == ["api"]


def test_depends_on_is_validated(api, chain):
    for bad in (["bad name"], "db", [1], ["db"] * 51):
        response = register(api, "edge", depends_on=bad)
        assert response.status_code == 400, bad
        assert "depends_on" in response.json()["message"]
    assert api.get("/service/edge").status_code == 404


def test_a_diamond_is_no_cycle(api, chain):
    assert register(api, "cache", depends_on=["db"]).status_code == 201
    response = api.post("/service/web", json={"depends_on": ["api", "cache"]})
    assert response.status_code == 200 and response.json()["results"]["depends_on"] == ["api", "cache"]
