"""API keys over real HTTP: each scope against each route group, bad, expired and
revoked keys, the admin key from the environment, anonymous heartbeats, auth disabled."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from medic.auth import manage, scopes
from medic.store.tables import api_keys
from medic.web.api import OPERATIONS
from tests.security.support import ADMIN_KEY, REQUIRED, bearer

_names = itertools.count(1)

# One representative call per route group; `ok` is the status a permitted caller gets.
GROUPS = {
    "heartbeat": [("POST", "/heartbeat", {"heartbeat_name": "svc-hb", "status": "UP"}, 201)],
    "read": [
        ("GET", "/heartbeat", None, 200),
        ("GET", "/service", None, 200),
        ("GET", "/service/svc-hb", None, 200),
        ("GET", "/alerts", None, 200),
    ],
    "write": [
        ("POST", "/service", lambda: {"heartbeat_name": f"new-{next(_names)}", "service_name": "n", "alert_interval": 5}, 201),
        ("POST", "/service/svc-hb", {"team": "payments"}, 200),
    ],
    "open": [
        ("GET", "/health", None, 200),
        ("GET", "/health/live", None, 200),
        ("GET", "/health/ready", None, 200),
        ("GET", "/metrics", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("GET", "/docs", None, 200),
        ("GET", "/v1/healthcheck/network", None, 204),
    ],
}
ALLOWED = {
    "heartbeat": {"heartbeat", "open"},
    "read": {"read", "open"},
    "write": {"write", "read", "heartbeat", "open"},
    "admin": {"write", "read", "heartbeat", "open"},
}


def call(api, method, path, body, headers):
    body = body() if callable(body) else body
    return api.request(method, path, json=body, headers=headers)


def assert_json_error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False
    for word in words:
        assert word in body["message"], body["message"]
    return body


@pytest.mark.parametrize("scope", ["heartbeat", "read", "write", "admin"])
def test_each_scope_against_each_route_group(api, registered, make_key, scope):
    key = make_key(scope)
    for group, calls in GROUPS.items():
        for method, path, body, ok in calls:
            response = call(api, method, path, body, bearer(key))
            if group in ALLOWED[scope]:
                assert response.status_code == ok, (scope, method, path, response.text)
            else:
                needed = "read" if group == "read" else group
                body = assert_json_error(response, 403, f"'{needed}' scope", "has: " + scope)
                assert f'scope="{needed}"' in response.headers["www-authenticate"]


def test_admin_key_from_the_environment_can_do_everything(api, registered):
    for calls in GROUPS.values():
        for method, path, body, ok in calls:
            assert call(api, method, path, body, bearer(ADMIN_KEY)).status_code == ok, (method, path)


def test_x_api_key_header_is_accepted(api, registered, make_key):
    key = make_key("read")
    assert api.get("/service", headers={"X-API-Key": key}).status_code == 200
    assert api.get("/service", headers={"X-API-Key": ADMIN_KEY}).status_code == 200


def test_without_a_key_every_protected_route_answers_401(api, app):
    # Walks the live URL map, so a route added later without a scope is covered too.
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("ui.", "ui_root.")):
            continue  # the dashboard signs people in with a session (tests/ui/test_signin.py)
        view = app.view_functions[rule.endpoint]
        op = getattr(view, "operation", None)
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = api.request(method, path, json={})
            if op is not None and op.scope == "open":
                assert response.status_code < 400, (method, path)
                continue
            # A view registered without @operation (Flask's static route) gets the derived scope.
            needed = op.scope if op is not None else scopes.default_for(method)
            body = assert_json_error(response, 401, "API key", f"'{needed}' scope")
            assert response.headers["www-authenticate"] == 'Bearer realm="medic"'
            assert body["results"] is None
            checked += 1
    assert checked >= 7


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Bearer medic_0123456789ab_" + "A" * 43},  # well-formed, unknown id
        {"X-API-Key": "medic_"},
        {"Authorization": "Bearer " + ADMIN_KEY + "x"},
    ],
)
def test_bad_keys_get_401(api, headers):
    body = assert_json_error(api.get("/service", headers=headers), 401, "invalid API key")
    assert body["results"] is None
    assert 'error="invalid_token"' in api.get("/service", headers=headers).headers["www-authenticate"]


def test_right_id_with_the_wrong_secret_gets_401(api, make_key):
    key = make_key("admin")
    prefix, public_id, secret = key.split("_", 2)
    forged = f"{prefix}_{public_id}_{'B' * len(secret)}"
    assert_json_error(api.get("/service", headers=bearer(forged)), 401, "invalid API key")
    assert api.get("/service", headers=bearer(key)).status_code == 200


def test_other_authorization_schemes_are_not_keys(api, make_key):
    key = make_key("read")
    assert_json_error(api.get("/service", headers={"Authorization": f"Basic {key}"}), 401, "needs an API key")


def test_expired_key(api, make_key, clock):
    key = make_key("read", expires_at=clock() + timedelta(hours=1))
    assert api.get("/service", headers=bearer(key)).status_code == 200
    clock.advance(hours=1)
    assert_json_error(api.get("/service", headers=bearer(key)), 401, "expired")


def test_revoked_key_is_refused_once_the_cache_entry_lapses(api, engine, make_key, clock, settings):
    key = make_key("read", name="to-revoke")
    assert api.get("/service", headers=bearer(key)).status_code == 200
    manage.revoke_key(engine, "to-revoke", clock())
    # Accepted keys are cached for MEDIC_AUTH_CACHE_SECONDS (default 5), no longer.
    clock.advance(seconds=settings.auth_cache_seconds)
    assert_json_error(api.get("/service", headers=bearer(key)), 401, "revoked")


def test_revocation_is_immediate_without_the_cache(serve, engine, make_key, clock):
    key = make_key("read", name="gone")
    with serve({**REQUIRED, "MEDIC_AUTH_CACHE_SECONDS": "0"}) as client:
        assert client.get("/service", headers=bearer(key)).status_code == 200
        manage.revoke_key(engine, "gone", clock())
        assert_json_error(client.get("/service", headers=bearer(key)), 401, "revoked")


def test_last_used_is_recorded_at_most_once_a_minute(serve, engine, make_key, clock):
    key = make_key("read", name="used")
    public_id = key.split("_")[1]

    def last_used():
        with engine.connect() as conn:
            return conn.execute(select(api_keys.c.last_used_at).where(api_keys.c.public_id == public_id)).scalar_one()

    with serve({**REQUIRED, "MEDIC_AUTH_CACHE_SECONDS": "0"}) as client:
        assert last_used() is None
        client.get("/service", headers=bearer(key))
        first = last_used()
        assert first == clock()
        clock.advance(seconds=30)
        client.get("/service", headers=bearer(key))
        assert last_used() == first  # no write on every request
        clock.advance(seconds=31)
        client.get("/service", headers=bearer(key))
        assert last_used() == clock()


def test_anonymous_heartbeats(serve, registered, make_key):
    read_key = make_key("read")
    with serve({**REQUIRED, "MEDIC_ANONYMOUS_HEARTBEATS": "true"}) as client:
        beat = {"heartbeat_name": "svc-hb", "status": "UP"}
        assert client.post("/heartbeat", json=beat).status_code == 201
        # Everything else stays protected.
        assert_json_error(client.get("/heartbeat"), 401)
        assert_json_error(client.post("/service/svc-hb", json={"muted": True}), 401)
        # A key that is sent is still checked.
        assert_json_error(client.post("/heartbeat", json=beat, headers=bearer("medic_nope")), 401)
        assert_json_error(client.post("/heartbeat", json=beat, headers=bearer(read_key)), 403, "'heartbeat' scope")
        # Every heartbeat-scoped route (job signals included) takes anonymous callers.
        for op in OPERATIONS:
            if op.scope == "heartbeat":
                path = re.sub(r"<[^>]+>", "svc-hb", op.rule)
                assert client.request(op.method, path, json=beat).status_code != 401, op.rule


def test_auth_disabled_needs_no_key(serve, registered):
    with serve({"MEDIC_AUTH": "disabled"}) as client:
        assert client.post("/service/svc-hb", json={"muted": True}).status_code == 200
        assert client.get("/service/svc-hb").json()["results"][0]["muted"] == 1
        # A key sent anyway is ignored, not judged.
        assert client.get("/service", headers=bearer("garbage")).status_code == 200


def test_openapi_declares_each_operations_scope(api):
    spec = api.get("/openapi.json").json()
    post_heartbeat = spec["paths"]["/heartbeat"]["post"]
    assert post_heartbeat["security"] == [{"bearerAuth": ["heartbeat"]}, {"apiKeyHeader": ["heartbeat"]}]
    assert {"401", "403", "429"} <= post_heartbeat["responses"].keys()
    assert spec["paths"]["/service"]["post"]["security"][0] == {"bearerAuth": ["write"]}
    assert spec["paths"]["/alerts"]["get"]["security"][0] == {"bearerAuth": ["read"]}
    assert spec["paths"]["/health"]["get"]["security"] == []
    assert "401" not in spec["paths"]["/health"]["get"]["responses"]
