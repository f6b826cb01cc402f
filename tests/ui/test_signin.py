"""Sign-in with an API key, the session cookie, scopes deciding what a person can do,
and API key management (MEDIC_AUTH=required), over plain HTTP."""

from __future__ import annotations

import html
import itertools
import logging
import re
from datetime import timedelta

import pytest

from medic.auth import manage
from tests.security.support import ADMIN_KEY, REQUIRED, bearer
from tests.ui.conftest import Fleet, csrf


@pytest.fixture
def settings_env() -> dict[str, str]:
    return dict(REQUIRED)


@pytest.fixture
def make_key(engine, clock):
    names = itertools.count(1)

    def make(scopes: str, **extra) -> str:
        return manage.create_key(engine, f"person-{next(names)}", scopes, clock(), **extra).key

    return make


@pytest.fixture
def fleet(api) -> Fleet:
    return Fleet(api, bearer(ADMIN_KEY))


def sign_in(page, key: str, next_url: str = "/ui/"):
    form = page.get(f"/ui/login?next={next_url}")
    return page.post("/ui/login", data={"csrf_token": csrf(form.text), "api_key": key, "next": next_url})


def test_pages_need_a_sign_in_and_a_wrong_key_is_refused_clearly(page, make_key):
    response = page.get("/ui/service/x-hb?range=7d")
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/login?next=/ui/service/x-hb?range%3D7d"
    assert page.get("/").headers["Location"].endswith("/ui/")
    wrong = sign_in(page, "medic_nope_nope")
    assert wrong.status_code == 401
    assert "invalid API key: check the key and try again" in wrong.text
    assert "medic_nope_nope" not in wrong.text  # the key is never echoed
    heartbeat_only = sign_in(page, make_key("heartbeat"))
    assert heartbeat_only.status_code == 401 and "needs a key with the &#39;read&#39; scope" in heartbeat_only.text
    assert page.get("/ui/").status_code == 302  # still signed out
    post = page.post("/ui/actions", data={"action": "mute", "names": "x"})
    assert post.status_code == 400  # no token from a page: refused before anything else


def test_sign_in_sets_a_signed_httponly_samesite_cookie_that_expires_and_sign_out_clears_it(page, make_key, clock):
    key = make_key("read")
    response = sign_in(page, key, "/ui/alerts")
    assert response.status_code == 303 and response.headers["Location"] == "/ui/alerts"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("medic_session=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/ui", "Expires="):
        assert attribute in cookie
    assert key not in cookie and key.split("_")[-1] not in html.unescape(page.get("/ui/").text)
    assert page.get("/ui/alerts").status_code == 200
    token = csrf(page.get("/ui/").text)
    out = page.post("/ui/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["Location"] == "/ui/login"
    assert page.get("/ui/").status_code == 302


def test_a_tampered_cookie_or_a_revoked_key_ends_the_session(page, make_key, engine, clock):
    key = make_key("read")
    sign_in(page, key)
    value = page.cookies["medic_session"]
    page.cookies.clear()
    page.cookies.set("medic_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"), domain="127.0.0.1", path="/ui")
    assert page.get("/ui/").status_code == 302
    sign_in(page, key)
    assert page.get("/ui/").status_code == 200
    manage.revoke_key(engine, key.split("_")[1], clock())
    assert page.get("/ui/").status_code == 302


def test_a_read_key_sees_everything_and_no_buttons(page, make_key, fleet):
    fleet.register("alpha-hb")
    sign_in(page, make_key("read"))
    overview = page.get("/ui/").text
    service = page.get("/ui/service/alpha-hb").text
    assert "alpha-hb" in overview
    for text in ("Mute selected", "Deactivate selected", 'class="pick"'):
        assert text not in overview
    for text in ("Save settings", 'name="action"', "Deactivate"):
        assert text not in service
    assert "API keys" not in overview  # the admin page is not offered
    assert page.get("/ui/keys").status_code == 403
    token = csrf(overview)
    refused = page.post("/ui/actions", data={"csrf_token": token, "action": "mute", "confirm": "yes", "names": "alpha-hb"})
    assert refused.status_code == 403 and "needs a key with the &#39;write&#39; scope" in refused.text
    assert page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "team": "x"}).status_code == 403
    assert fleet.service("alpha-hb")["muted"] == 0
    routes_page = page.get("/ui/routes")  # routes are listed, not managed
    assert routes_page.status_code == 200 and "Add a route" not in routes_page.text
    added = page.post("/ui/routes", data={"csrf_token": token, "name": "r", "targets": "slack=C1"})
    assert added.status_code == 403 and "needs a key with the &#39;admin&#39; scope" in added.text


def test_a_write_key_mutes_and_edits_but_manages_no_keys(page, make_key, fleet):
    fleet.register("alpha-hb")
    sign_in(page, make_key("write"))
    html_text = page.get("/ui/service/alpha-hb").text
    assert "Save settings" in html_text and "Mute…" in html_text
    token = csrf(html_text)
    done = page.post("/ui/actions", data={"csrf_token": token, "action": "mute", "confirm": "yes", "names": "alpha-hb"})
    assert done.status_code == 303 and fleet.service("alpha-hb")["muted"] == 1
    assert page.get("/ui/keys").status_code == 403


def test_an_admin_creates_a_key_shown_once_lists_and_revokes_it(page, make_key, server):
    sign_in(page, make_key("admin"))
    keys_page = page.get("/ui/keys")
    assert keys_page.status_code == 200
    token = csrf(keys_page.text)
    bad = page.post("/ui/keys", data={"csrf_token": token, "name": "ci"})
    assert bad.status_code == 400 and "at least one scope is required" in bad.text
    created = page.post("/ui/keys", data={"csrf_token": token, "name": "ci", "scopes": ["heartbeat", "read"]})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    new_key = re.search(r'id="new-key" type="text" readonly value="([^"]+)"', created.text).group(1)
    public_id = new_key.split("_")[1]
    import httpx
    assert httpx.get(f"{server.url}/service", headers=bearer(new_key)).status_code == 200  # a real key
    listing = page.get("/ui/keys").text
    assert public_id in listing and new_key not in listing  # listed, never shown again
    ask = page.post(f"/ui/keys/{public_id}/revoke", data={"csrf_token": token})
    assert "Revoke key" in ask.text
    revoked = page.post(f"/ui/keys/{public_id}/revoke", data={"csrf_token": token, "confirm": "yes"})
    assert revoked.status_code == 303
    assert f"Key {public_id} (ci) revoked." in page.get("/ui/keys").text
    assert re.search(rf"<code>{public_id}</code></td><td>ci</td><td>heartbeat read</td><td>revoked</td>", page.get("/ui/keys").text)


def test_the_admin_key_signs_in_too(page):
    assert sign_in(page, ADMIN_KEY).status_code == 303
    assert page.get("/ui/keys").status_code == 200


def test_an_expired_key_cannot_sign_in(page, make_key, clock):
    key = make_key("read", expires_at=clock() + timedelta(minutes=1))
    clock.advance(minutes=2)
    refused = sign_in(page, key)
    assert refused.status_code == 401 and "expired" in refused.text


def test_no_key_in_logs(page, make_key, caplog):
    caplog.set_level(logging.DEBUG)
    key = make_key("read")
    sign_in(page, key)
    page.cookies.clear()
    sign_in(page, "medic_wrong_" + "x" * 20)
    assert "dashboard sign-in by key" in caplog.text
    assert key not in caplog.text and key.split("_")[-1] not in caplog.text
    assert "x" * 20 not in caplog.text
