"""The dashboard in real Chromium (Debian's package, driven by Playwright) against a
live server with MEDIC_AUTH=required, the real worker and a stand-in PagerDuty."""

from __future__ import annotations

import itertools
import os
import re

import pytest

from medic.auth import manage
from tests.fakes.providers import provider_env
from tests.security.support import ADMIN_KEY, REQUIRED, bearer
from tests.ui.browser import chromium_path, launch, serious_violations
from tests.ui.conftest import Fleet

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

if chromium_path() is None:
    if os.environ.get("CI") or os.environ.get("MEDIC_REQUIRE_BROWSER") == "1":
        raise RuntimeError("chromium is required for the dashboard tests: apt-get install -y chromium")
    pytest.skip("chromium not installed (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the pages' SQL runs on both backends in test_pages.py


@pytest.fixture
def settings_env(pagerduty) -> dict[str, str]:
    return {**REQUIRED, **provider_env(pagerduty)}


@pytest.fixture
def app(app):
    app.config["MEDIC_UI_POLL_SECONDS"] = 0.5
    return app


@pytest.fixture(scope="module")
def chromium():
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium, server):
    """A fresh browser context; fails the test if a page loads anything from another host."""
    context = chromium.new_context(base_url=server.url, bypass_csp=False)
    foreign: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(server.url) else foreign.append(r.url))
    page = context.new_page()
    page.set_default_timeout(10_000)
    # Script errors, CSP refusals included; the 4xx pages a test asks for are not errors of the page.
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    yield page
    context.close()
    assert foreign == []
    assert errors == []


@pytest.fixture
def make_key(engine, clock):
    names = itertools.count(1)

    def make(scopes: str) -> str:
        return manage.create_key(engine, f"person-{next(names)}", scopes, clock()).key

    return make


@pytest.fixture
def fleet(api) -> Fleet:
    return Fleet(api, bearer(ADMIN_KEY))


@pytest.fixture
def worker(settings, engine, clock):
    from medic.worker.loop import Worker

    worker = Worker(settings, engine, clock=clock, run_daily_cleanup=False)
    yield worker
    worker.close()


def sign_in(page, key: str) -> None:
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Services")).to_be_visible()


def row(page, name: str):
    return page.locator("table.fleet tbody tr", has=page.get_by_role("link", name=name, exact=True))


def test_sign_in_filter_open_edit_with_an_error_and_mute(browser, fleet, make_key):
    fleet.register("alpha-hb", team="payments")
    fleet.register("bravo-hb", team="search")
    page = browser
    page.goto("/ui/login")
    page.get_by_label("API key").fill("medic_wrong_wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid API key")
    sign_in(page, make_key("write"))
    page.get_by_label("Team").select_option("search")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"team=search"))
    expect(page.locator("table.fleet tbody tr")).to_have_count(1)
    page.get_by_role("link", name="bravo-hb", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("bravo-hb"))).to_be_visible()
    page.get_by_label("Alert interval (minutes)").fill("0")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#e-alert_interval")).to_have_text("Input should be greater than or equal to 1")
    expect(page.get_by_label("Alert interval (minutes)")).to_have_attribute("aria-invalid", "true")
    assert fleet.service("bravo-hb")["alert_interval"] == 5
    page.get_by_label("Alert interval (minutes)").fill("15")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved.")
    assert fleet.service("bravo-hb")["alert_interval"] == 15
    page.get_by_role("button", name=re.compile(r"^Mute")).click()
    expect(page.get_by_role("heading", name="Mute 1 service?")).to_be_visible()
    page.get_by_label("Mute for").select_option("4h")
    page.get_by_role("button", name="Yes, mute").click()
    expect(page.get_by_role("status")).to_contain_text("Muted 1 service.")
    expect(page.locator(".status-line .badge")).to_have_text("muted")
    expect(page.locator(".mute-end")).to_contain_text("muted until")
    assert fleet.service("bravo-hb")["muted"] == 1


def test_bulk_mute_selected_rows(browser, fleet, make_key):
    for name in ("alpha-hb", "bravo-hb", "charlie-hb"):
        fleet.register(name)
    page = browser
    sign_in(page, make_key("write"))
    page.get_by_label("Select alpha-hb").check()
    page.get_by_label("Select charlie-hb").check()
    page.get_by_role("button", name="Mute selected", exact=True).click()
    expect(page.get_by_role("heading", name="Mute 2 services?")).to_be_visible()
    page.get_by_role("button", name="Yes, mute").click()
    expect(page.get_by_role("status")).to_contain_text("Muted 2 services.")
    assert [fleet.service(n)["muted"] for n in ("alpha-hb", "bravo-hb", "charlie-hb")] == [1, 0, 1]
    expect(row(page, "alpha-hb").locator(".badge")).to_have_text("muted")


def test_live_refresh_shows_a_service_go_down_and_come_back(browser, fleet, make_key, clock, worker, pagerduty):
    fleet.register("alpha-hb", alert_interval=1)
    fleet.register("bravo-hb", alert_interval=60)
    fleet.beat("alpha-hb")
    fleet.beat("bravo-hb")
    page = browser
    sign_in(page, make_key("read"))
    page.get_by_label("Search").fill("hb")
    page.get_by_role("button", name="Filter").click()
    page.evaluate("window.__loaded_once = true")
    expect(row(page, "alpha-hb").locator(".badge")).to_have_text("up")
    clock.advance(minutes=3)
    fleet.beat("bravo-hb")
    worker.run_once()  # alpha missed its heartbeats: down, paged through the stand-in PagerDuty
    expect(row(page, "alpha-hb").locator(".badge")).to_have_text("down")
    expect(row(page, "alpha-hb")).to_contain_text("missed heartbeats")
    expect(page.locator("table.fleet tbody tr").first).to_contain_text("alpha-hb")  # down first
    expect(page).to_have_url(re.compile(r"q=hb"))  # the filter survived
    page.get_by_role("link", name="alpha-hb", exact=True).click()
    expect(page.locator(".status-line .badge")).to_have_text("down")
    expect(page.locator("#alerts-h ~ table")).to_contain_text("pagerduty trigger")
    page.evaluate("window.__loaded_once = true")
    fleet.beat("alpha-hb")
    worker.run_once()
    expect(page.locator(".status-line .badge")).to_have_text("up")
    expect(page.locator("#alerts-h ~ table")).to_contain_text("recovered")
    assert page.evaluate("window.__loaded_once") is True  # updated in place, never reloaded


def test_an_admin_creates_and_revokes_a_key(browser, make_key):
    page = browser
    sign_in(page, make_key("admin"))
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("deploy-bot")
    page.get_by_role("checkbox", name="write").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("status")).to_contain_text("shown only this once")
    new_key = page.get_by_label("New key").input_value()
    assert new_key.startswith("medic_")
    public_id = new_key.split("_")[1]
    page.get_by_role("link", name="API keys").click()
    assert new_key not in page.content()
    listed = page.locator("tr", has=page.get_by_text(public_id, exact=True))
    expect(listed).to_contain_text("active")
    listed.get_by_role("button", name=re.compile("Revoke")).click()
    page.get_by_role("button", name="Yes, revoke").click()
    expect(page.get_by_role("status")).to_contain_text(f"Key {public_id} (deploy-bot) revoked.")
    expect(page.locator("tr", has=page.get_by_text(public_id, exact=True))).to_contain_text("revoked")


def test_a_read_key_sees_no_buttons_and_sign_out_ends_the_session(browser, fleet, make_key):
    fleet.register("alpha-hb")
    page = browser
    sign_in(page, make_key("read"))
    expect(page.get_by_role("button", name="Mute selected", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="API keys")).to_have_count(0)
    page.get_by_role("link", name="alpha-hb", exact=True).click()
    for name in ("Save settings", "Deactivate", "Unmute"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Mute"))).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/ui/service/alpha-hb")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(browser, fleet, make_key):
    fleet.register("alpha-hb")
    page = browser
    sign_in(page, make_key("write"))
    page.goto("/ui/service/alpha-hb")
    page.evaluate("document.querySelectorAll('.actions input[name=csrf_token]').forEach(e => e.remove())")
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("alert")).to_contain_text("CSRF token")
    assert fleet.service("alpha-hb")["active"] == 1


def test_no_serious_accessibility_violations_on_any_page(chromium, server, fleet, make_key, clock, worker):
    fleet.register("alpha-hb", alert_interval=1, team="payments")
    fleet.register("bravo-hb")
    fleet.beat("alpha-hb")
    clock.advance(minutes=3)
    worker.run_once()
    context = chromium.new_context(base_url=server.url, bypass_csp=True)  # to inject axe-core
    page = context.new_page()
    found = {}
    page.goto("/ui/login")
    found["login"] = serious_violations(page)
    page.get_by_label("API key").fill(make_key("admin"))
    page.get_by_role("button", name="Sign in").click()
    for path in ("/ui/", "/ui/?state=down", "/ui/service/alpha-hb", "/ui/service/alpha-hb?range=30d",
                 "/ui/alerts", "/ui/health", "/ui/keys", "/ui/service/nope", "/ui/?page=x"):
        page.goto(path)
        found[path] = serious_violations(page)
    page.goto("/ui/")
    page.get_by_label("Select bravo-hb").check()
    page.get_by_role("button", name="Deactivate selected").click()
    found["confirm"] = serious_violations(page)
    context.close()
    assert {k: v for k, v in found.items() if v} == {}


def test_api_docs_render_swagger_ui_without_another_host(browser, server):
    hosts = set()
    browser.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    browser.goto("/docs")
    browser.wait_for_selector(".swagger-ui .opblock-summary-path")
    paths = browser.locator(".swagger-ui .opblock-summary-path").all_inner_texts()
    assert any(p.strip().startswith("/heartbeat") for p in paths)
    assert hosts == {server.url.split("/")[2]}


def test_live_refresh_stops_while_the_tab_is_hidden(browser, fleet, make_key):
    fleet.register("alpha-hb")
    page = browser
    sign_in(page, make_key("read"))
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.headers.get("hx-request") else None)
    page.wait_for_timeout(1500)  # three poll periods of 0.5 s
    assert polls, "the overview refreshes itself while visible"
    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_timeout(600)  # a poll already in flight may still land
    polls.clear()
    page.wait_for_timeout(1500)
    assert polls == []
    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => false});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_timeout(1500)
    assert polls, "refresh resumes once the tab is visible again"
