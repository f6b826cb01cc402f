"""Cross-site writes with auth disabled (the `medic run` default): a page on another
site can make a browser POST text/plain with its Origin; none of it may change anything."""

from __future__ import annotations

import json

import pytest

EVIL = "http://evil.example"


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"MEDIC_ALLOWED_ORIGINS": "https://dashboard.example.com, http://ops.example:8080"}


@pytest.fixture
def registered(api):
    response = api.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5})
    assert response.status_code == 201


def post_text(api, path: str, body: dict, **headers):
    return api.post(path, content=json.dumps(body), headers={"content-type": "text/plain", **headers})


def service(api) -> dict:
    results = api.get("/service/svc-hb").json()["results"]
    return results[0] if isinstance(results, list) else results


def test_a_text_plain_write_from_another_site_is_refused_and_changes_nothing(api, registered):
    response = post_text(api, "/service/svc-hb", {"active": 0}, origin=EVIL)
    assert response.status_code == 403
    assert "evil.example" in response.json()["message"] and "MEDIC_ALLOWED_ORIGINS" in response.json()["message"]
    assert service(api)["active"] in (True, 1)


def test_a_json_write_from_another_site_is_refused(api, registered):
    response = api.post("/service/svc-hb", json={"muted": True}, headers={"origin": EVIL})
    assert response.status_code == 403
    assert service(api)["muted"] in (False, 0)


@pytest.mark.parametrize("path", ["/heartbeat", "/service/svc-hb"])
def test_a_body_not_declared_json_gets_415(api, registered, path):
    body = {"heartbeat_name": "svc-hb", "status": "DOWN"} if path == "/heartbeat" else {"active": 0}
    response = post_text(api, path, body)
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/json")
    assert "application/json" in response.json()["message"]
    assert service(api)["active"] in (True, 1)
    assert api.get("/heartbeat", params={"heartbeat_name": "svc-hb"}).json()["results"] == []


def test_a_cross_site_heartbeat_is_refused_on_the_fast_path(api, registered):
    response = api.post("/heartbeat", json={"heartbeat_name": "svc-hb", "status": "DOWN"}, headers={"origin": EVIL})
    assert response.status_code == 403
    assert api.get("/heartbeat", params={"heartbeat_name": "svc-hb"}).json()["results"] == []


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1.evil.example", "not a url", "http://127.0.0.1"])
def test_odd_origins_are_refused(api, server, registered, origin):
    response = api.post("/service/svc-hb", json={"muted": True}, headers={"origin": origin})
    assert response.status_code == 403, origin


def test_medics_own_origin_and_listed_origins_may_write(api, server, registered):
    own = server.url  # http://127.0.0.1:<port>, what a page served by Medic sends
    for origin in (own, "https://dashboard.example.com", "http://OPS.example:8080"):
        response = api.post("/service/svc-hb", json={"muted": False}, headers={"origin": origin})
        assert response.status_code == 200, origin
    beat = api.post("/heartbeat", json={"heartbeat_name": "svc-hb", "status": "UP"}, headers={"origin": own})
    assert beat.status_code == 201


def test_json_with_a_charset_and_reads_from_anywhere_still_work(api, registered):
    response = api.post(
        "/heartbeat",
        content=b'{"heartbeat_name": "svc-hb", "status": "UP"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201
    assert api.get("/service/svc-hb", headers={"origin": EVIL}).status_code == 200


def test_a_bad_allowed_origins_setting_names_the_variable():
    from medic.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="MEDIC_ALLOWED_ORIGINS"):
        load_settings({"MEDIC_ALLOWED_ORIGINS": "dashboard.example.com"})
