"""Every dashboard page over plain HTTP, no JavaScript: what it shows, its filters,
its forms, and what it answers to bad input (auth disabled: no sign-in)."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event

from tests.ui.conftest import csrf

ROOT = Path(__file__).resolve().parents[2]


def rows(html: str) -> list[str]:
    """Heartbeat names in the services table, in order."""
    return re.findall(r'<a href="/ui/service/[^"]+">([^<]+)</a><div class="muted">', html)


def test_root_redirects_to_the_dashboard_and_the_api_stays_json(page):
    response = page.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/ui/")
    api = page.get("/service")
    assert api.headers["Content-Type"].startswith("application/json")
    assert page.get("/nowhere").headers["Content-Type"].startswith("application/json")


def test_overview_shows_down_first_with_why_and_counts(page, fleet, clock, worker):
    fleet.register("alpha-hb", team="payments", priority="p1")
    fleet.register("bravo-hb", team="search")
    fleet.register("charlie-hb", team="search")
    fleet.register("delta-hb", team="payments")
    for name in ("alpha-hb", "bravo-hb", "charlie-hb"):
        fleet.beat(name)
    fleet.beat("charlie-hb", "DOWN")
    worker.cycle()
    html = page.get("/ui/").text
    assert rows(html)[0] == "charlie-hb"  # down first
    assert "reported DOWN" in html  # why, next to it
    counts = dict((state, int(n)) for n, state in re.findall(r"<strong>(\d+)</strong> (\w+)</a>", html))
    assert counts == {"down": 1, "new": 1, "up": 2, "muted": 0, "inactive": 0}
    assert 'title="2026-01-05 12:00:00 UTC"' in html  # exact time on hover
    assert "0 s ago" in html
    assert "overdue by" not in html.split("charlie-hb")[0]


def test_filters_live_in_the_url_and_page_server_side(page, fleet):
    for i in range(7):
        fleet.register(f"svc{i}-hb", team="payments" if i % 2 else "search", priority="p2" if i < 3 else "p3")
    fleet.beat("svc1-hb")
    assert rows(page.get("/ui/?team=payments").text)[-1] == "svc1-hb"  # new services before up ones
    assert sorted(rows(page.get("/ui/?team=payments").text)) == ["svc1-hb", "svc3-hb", "svc5-hb"]
    assert rows(page.get("/ui/?state=up").text) == ["svc1-hb"]
    assert sorted(rows(page.get("/ui/?state=new&priority=p2").text)) == ["svc0-hb", "svc2-hb"]
    assert rows(page.get("/ui/?q=VC4").text) == ["svc4-hb"]
    assert rows(page.get("/ui/?q=%25").text) == []  # LIKE wildcards are searched for literally
    first = page.get("/ui/?per_page=3").text
    second = page.get("/ui/?per_page=3&page=2").text
    third = page.get("/ui/?per_page=3&page=3").text
    assert len(rows(first)) == 3 and len(rows(second)) == 3 and len(rows(third)) == 1
    assert set(rows(first)) | set(rows(second)) | set(rows(third)) == {f"svc{i}-hb" for i in range(7)}
    assert 'href="/ui/?per_page=3&amp;page=2" rel="next"' in first
    assert "7 services match" in first


def test_bad_input_is_a_clear_message_without_a_trace(page, fleet):
    fleet.register("alpha-hb")
    for path, words in [
        ("/ui/?page=abc", "page: must be a whole number"),
        ("/ui/?page=0", "page: must be a whole number"),
        ("/ui/?state=sideways", "state: 'sideways' is not one of"),
        ("/ui/?priority=p9", "priority: 'p9' is not one of"),
        ("/ui/?team=a&team=b", "team: given more than once"),
        ("/ui/?q=%00", "q: must be at most"),
        ("/ui/service/alpha-hb?range=1y", "range: '1y' is not one of"),
        ("/ui/alerts?reason=bored", "reason: 'bored' is not one of"),
        ("/ui/alerts?since=forever", "since: 'forever' is not one of"),
    ]:
        response = page.get(path)
        assert response.status_code == 400, path
        assert words in html.unescape(response.text), path
        assert "Traceback" not in response.text and "File \"" not in response.text
    missing = page.get("/ui/service/no-such-hb")
    assert missing.status_code == 404
    assert "No service is registered as &#39;no-such-hb&#39;" in missing.text


def test_service_page_shows_settings_heartbeats_alerts_and_snippets(page, fleet, clock, worker):
    fleet.register("alpha-hb", alert_interval=1, runbook="https://wiki.example/alpha")
    fleet.beat("alpha-hb")
    clock.advance(minutes=3)
    worker.cycle()  # missed heartbeats: an alert opens
    html = page.get("/ui/service/alpha-hb").text
    assert "missed heartbeats" in html
    assert '<span class="badge s-down"><span aria-hidden="true" class="dot"></span>down</span>' in html
    assert 'id="f-alert_interval" name="alert_interval" type="text" value="1"' in html
    assert "3 min ago" in html  # the heartbeat, relative to the injected clock
    assert "medic heartbeat alpha-hb" in html and "medic job alpha-hb" in html
    assert '"heartbeat_name": "alpha-hb"' in html
    for r in ("24h", "7d", "30d"):
        assert page.get(f"/ui/service/alpha-hb?range={r}").status_code == 200


def test_edit_uses_the_api_rules_and_shows_the_error_next_to_the_field(page, fleet):
    fleet.register("alpha-hb", team="payments")
    html = page.get("/ui/service/alpha-hb").text
    token = csrf(html)
    bad = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "alert_interval": "0", "team": "search"})
    assert bad.status_code == 400
    assert re.search(r'<p class="field-error" id="e-alert_interval">Input should be greater than or equal to 1</p>', bad.text)
    assert fleet.service("alpha-hb")["team"] == "payments"  # nothing saved
    url = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "runbook": "ftp://x"})
    assert url.status_code == 400 and "must be an http:// or https:// URL" in url.text
    good = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "alert_interval": "10", "team": "search"})
    assert good.status_code == 303
    service = fleet.service("alpha-hb")
    assert (service["alert_interval"], service["team"]) == (10, "search")
    assert "Settings saved." in page.get(good.headers["Location"]).text


def test_hysteresis_settings_are_edited_with_the_api_rules(page, fleet):
    fleet.register("alpha-hb")
    token = csrf(page.get("/ui/service/alpha-hb").text)
    bad = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "failures_to_open": "101"})
    assert bad.status_code == 400
    assert '<p class="field-error" id="e-failures_to_open">Input should be less than or equal to 100</p>' in bad.text
    good = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "failures_to_open": "3",
                                                         "successes_to_close": "2"})
    assert good.status_code == 303
    service = fleet.service("alpha-hb")
    assert (service["failures_to_open"], service["successes_to_close"]) == (3, 2)
    assert 'id="f-failures_to_open" name="failures_to_open" type="text" value="3"' in page.get("/ui/service/alpha-hb").text


def test_labels_and_dependencies_are_edited_with_the_api_rules(page, fleet):
    fleet.register("db-hb")
    team = fleet.register("alpha-hb", labels={"tier": "web"})["team"]
    form = page.get("/ui/service/alpha-hb").text
    assert 'id="f-labels" name="labels" type="text" value="tier=web"' in form
    token = csrf(form)
    bad = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "labels": "tier", "team": "search"})
    assert bad.status_code == 400 and '<p class="field-error" id="e-labels">' in bad.text and "expected KEY=VALUE" in bad.text
    unknown = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "depends_on": "db-hb, nope-hb",
                                                            "team": "search"})
    assert unknown.status_code == 400
    assert "<p class=\"field-error\" id=\"e-depends_on\">no service is registered as &#39;nope-hb&#39;</p>" in unknown.text
    cycle = page.post("/ui/service/db-hb/edit", data={"csrf_token": token, "depends_on": "db-hb"})
    assert cycle.status_code == 400 and "cannot depend on itself" in cycle.text
    service = fleet.service("alpha-hb")
    assert (service["team"], service["labels"], service["depends_on"]) == (team, {"tier": "web"}, [])  # nothing saved
    good = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "labels": "tier=api, region=eu",
                                                         "depends_on": "DB-hb"})
    assert good.status_code == 303
    service = fleet.service("alpha-hb")
    assert (service["labels"], service["depends_on"]) == ({"tier": "api", "region": "eu"}, ["db-hb"])
    shown = page.get("/ui/service/alpha-hb").text
    assert 'value="tier=api, region=eu"' in shown and 'id="f-depends_on" name="depends_on" type="text" value="db-hb"' in shown
    cleared = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "labels": "", "depends_on": ""})
    assert cleared.status_code == 303
    service = fleet.service("alpha-hb")
    assert (service["labels"], service["depends_on"]) == ({}, [])


def _shown_value(page_text: str, name: str) -> str:
    found = re.search(rf'id="f-{name}" name="{name}" type="text" value="([^"]*)"', page_text)
    assert found, f"no {name} field on the page"
    return html.unescape(found.group(1))


def test_saving_the_form_as_shown_keeps_labels_whose_values_hold_commas(page, fleet):
    # The API takes any printable label value, commas and '=' included; the form shows
    # them as `key=value, key=value`, and a browser sends that text back with every save.
    fleet.register("alpha-hb", labels={"note": "primary, env=prod", "tier": "web"})
    form = page.get("/ui/service/alpha-hb").text
    saved = page.post("/ui/service/alpha-hb/edit", data={
        "csrf_token": csrf(form), "team": "search", "labels": _shown_value(form, "labels"),
        "depends_on": _shown_value(form, "depends_on")})
    assert saved.status_code == 303, saved.text
    service = fleet.service("alpha-hb")
    assert (service["team"], service["labels"]) == ("search", {"note": "primary, env=prod", "tier": "web"})


def test_control_characters_in_labels_or_dependencies_are_refused_not_read_as_separators(page, fleet):
    fleet.register("db-hb")
    fleet.register("cache-hb")
    fleet.register("alpha-hb", labels={"tier": "web"})
    token = csrf(page.get("/ui/service/alpha-hb").text)
    for field, value in (("labels", "tier=web\x1cregion=eu"), ("labels", "tier=api\x0bregion=eu"),
                         ("labels", "tier=api\x0cregion=eu"), ("depends_on", "db-hb\x1ecache-hb"),
                         ("depends_on", "db-hb\x0bcache-hb")):
        refused = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, field: value})
        assert refused.status_code == 400, (field, repr(value), refused.status_code)
        assert f'id="e-{field}"' in refused.text and "control characters" in refused.text
        service = fleet.service("alpha-hb")
        assert (service["labels"], service["depends_on"]) == ({"tier": "web"}, [])  # nothing saved


def test_a_label_key_given_twice_is_refused(page, fleet):
    fleet.register("alpha-hb", labels={"tier": "web"})
    token = csrf(page.get("/ui/service/alpha-hb").text)
    refused = page.post("/ui/service/alpha-hb/edit", data={"csrf_token": token, "labels": "tier=api, tier=db"})
    assert refused.status_code == 400 and 'id="e-labels"' in refused.text and "more than once" in refused.text
    assert fleet.service("alpha-hb")["labels"] == {"tier": "web"}


def test_actions_ask_for_confirmation_then_apply(page, fleet):
    for name in ("alpha-hb", "bravo-hb", "charlie-hb"):
        fleet.register(name)
    token = csrf(page.get("/ui/").text)
    ask = page.post("/ui/actions", data={"csrf_token": token, "action": "mute", "names": ["alpha-hb", "bravo-hb"]})
    assert ask.status_code == 200 and "Mute 2 services?" in ask.text
    assert fleet.service("alpha-hb")["muted"] == 0  # not yet
    done = page.post("/ui/actions", data={"csrf_token": token, "action": "mute", "confirm": "yes",
                                          "names": ["alpha-hb", "bravo-hb"], "back": "/ui/?state=muted"})
    assert done.status_code == 303 and done.headers["Location"] == "/ui/?state=muted"
    assert [fleet.service(n)["muted"] for n in ("alpha-hb", "bravo-hb", "charlie-hb")] == [1, 1, 0]
    assert sorted(rows(page.get("/ui/?state=muted").text)) == ["alpha-hb", "bravo-hb"]
    page.post("/ui/actions", data={"csrf_token": token, "action": "deactivate", "confirm": "yes", "names": "charlie-hb"})
    assert fleet.service("charlie-hb")["active"] == 0
    assert page.post("/ui/actions", data={"csrf_token": token, "action": "explode", "names": "alpha-hb"}).status_code == 400
    empty = page.post("/ui/actions", data={"csrf_token": token, "action": "mute"})
    assert empty.status_code == 400 and "Select at least one service" in empty.text
    offsite = page.post("/ui/actions", data={"csrf_token": token, "action": "unmute", "confirm": "yes",
                                             "names": "alpha-hb", "back": "https://evil.example/"})
    assert offsite.headers["Location"] == "/ui/"  # never sent elsewhere


def test_a_mute_with_a_duration_shows_its_end(page, fleet, clock):
    fleet.register("alpha-hb")
    token = csrf(page.get("/ui/").text)
    ask = page.post("/ui/actions", data={"csrf_token": token, "action": "mute", "names": "alpha-hb"})
    assert '<option value="4h">4 h</option>' in ask.text and "24 h (the default, AUTO_UNMUTE_HOURS)" in ask.text
    bad = page.post("/ui/actions", data={"csrf_token": token, "action": "mute", "confirm": "yes",
                                         "names": "alpha-hb", "mute_for": "3y"})
    assert bad.status_code == 400 and "mute_for: must be one of 1h, 4h, 24h" in bad.text
    done = page.post("/ui/actions", data={"csrf_token": token, "action": "mute", "confirm": "yes",
                                          "names": "alpha-hb", "mute_for": "4h"})
    assert done.status_code == 303
    end = clock() + timedelta(hours=4)
    assert fleet.service("alpha-hb")["muted_until"] == end.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"muted until <time datetime=\"{end.isoformat()}\">{end:%Y-%m-%d %H:%M} UTC</time>" in \
        page.get("/ui/service/alpha-hb").text


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(page, fleet):
    fleet.register("alpha-hb")
    page.get("/ui/")  # a session exists, so the token is what is missing
    for data in ({}, {"csrf_token": "forged"}):
        response = page.post("/ui/actions", data={**data, "action": "deactivate", "confirm": "yes", "names": "alpha-hb"})
        assert response.status_code == 400
        assert "CSRF token" in response.text
    edit = page.post("/ui/service/alpha-hb/edit", data={"team": "other"})
    assert edit.status_code == 400
    service = fleet.service("alpha-hb")
    assert (service["active"], service["team"]) == (1, "site-reliability")


def test_same_origin_forms_pass_the_cross_site_check_and_foreign_ones_do_not(page, fleet, server):
    fleet.register("alpha-hb")
    token = csrf(page.get("/ui/").text)
    data = {"csrf_token": token, "action": "mute", "confirm": "yes", "names": "alpha-hb"}
    foreign = page.post("/ui/actions", data=data, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and fleet.service("alpha-hb")["muted"] == 0
    assert "cross-site write refused: Origin https://evil.example is not this Medic" in foreign.text
    own = page.post("/ui/actions", data=data, headers={"Origin": server.url})
    assert own.status_code == 303 and fleet.service("alpha-hb")["muted"] == 1


def test_alerts_page_lists_open_first_and_filters(page, fleet, clock, worker):
    fleet.register("alpha-hb", alert_interval=1, team="payments")
    fleet.register("bravo-hb", alert_interval=1, team="search")
    fleet.beat("alpha-hb")
    fleet.beat("bravo-hb", "DOWN")
    clock.advance(minutes=3)
    worker.cycle()
    fleet.beat("alpha-hb")
    worker.cycle()  # alpha recovered: its alert is history; bravo's is open
    html = page.get("/ui/alerts").text
    assert html.index("bravo-hb") < html.index("alpha-hb")
    assert "recovered" in html and "reported DOWN" in html
    only = page.get("/ui/alerts?team=payments").text
    assert "alpha-hb" in only and "bravo-hb" not in only
    assert "bravo-hb" not in page.get("/ui/alerts?reason=missed_heartbeats").text


def test_health_page_says_what_health_says(page, worker):
    worker.cycle()
    html = page.get("/ui/health").text
    assert "Health: healthy" in html
    assert "Database</th><td>up" in html
    assert re.search(r"Worker</th><td>ok: last cycle 0\.0 s ago", html)
    assert "pagerduty: not configured" in html


def test_live_refresh_fragments_and_static_files(page, fleet):
    fleet.register("alpha-hb")
    fragment = page.get("/ui/?state=new", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="fleet" hx-get="/ui/?state=new" hx-trigger="every 5s"')
    assert "<html" not in fragment.text
    assert page.get("/ui/service/alpha-hb", headers={"HX-Request": "true"}).text.lstrip().startswith('<div id="service-live"')
    assert page.get("/ui/alerts", headers={"HX-Request": "true"}).text.lstrip().startswith('<div id="alerts-live"')
    htmx = page.get("/ui/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text
    html = page.get("/ui/").text
    assert "http://" not in re.sub(r'href="http://127[^"]*"', "", " ".join(re.findall(r'(?:src|href)="[^"]*"', html)))


def test_statements_per_page_do_not_grow_with_the_fleet(page, fleet, engine, clock):
    def statements(path: str) -> int:
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert page.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    fleet.register("first-hb")
    fleet.beat("first-hb")
    for path in ("/ui/", "/ui/service/first-hb", "/ui/alerts"):
        page.get(path)  # first use: the session secret is read, connections opened
    small = (statements("/ui/"), statements("/ui/service/first-hb"), statements("/ui/alerts"))
    for i in range(30):
        fleet.register(f"more{i}-hb")
        fleet.beat(f"more{i}-hb")
        fleet.beat("first-hb")
    assert (statements("/ui/"), statements("/ui/service/first-hb"), statements("/ui/alerts")) == small


def test_vendored_files_match_their_recorded_versions_and_checksums():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "vendor.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_database_that_does_not_answer_is_a_page_not_a_trace(settings, clock):
    from medic.store.engine import make_engine
    from medic.web import create_app
    from tests.support.server import LiveServer
    import httpx

    nowhere = make_engine("postgresql+psycopg://postgres@127.0.0.1:19499/nowhere?connect_timeout=2")
    app = create_app(settings, engine=nowhere, clock=clock)
    with LiveServer(app) as live:
        response = httpx.get(f"{live.url}/ui/", timeout=20)
    assert response.status_code == 503
    assert "The database is not answering" in response.text and "Traceback" not in response.text


def test_a_cron_service_says_why_in_its_schedule_words(page, fleet, clock, worker):
    fleet.register("nightly-hb", alert_interval=None, schedule={"cron": "0 13 * * *", "grace": 60})
    clock.advance(hours=1, minutes=1)  # 13:01 UTC: the slot closed without a run
    worker.cycle()
    html = page.get("/ui/").text
    assert "missed its scheduled run" in html and "missed heartbeats" not in html


def test_suppressed_alerts_and_dependencies_are_shown(page, fleet, clock, worker):
    fleet.register("db-hb", alert_interval=1)
    fleet.register("api-hb", alert_interval=1, depends_on=["db-hb"])
    clock.advance(minutes=2)
    worker.cycle()
    alerts = page.get("/ui/alerts").text
    assert "suppressed, not paged: depends on" in alerts
    assert alerts.count("suppressed, not paged") == 1  # db's own alert paged
    service = page.get("/ui/service/api-hb").text
    assert 'Depends on <a href="/ui/service/db-hb">db-hb</a>' in service
    assert "suppressed, not paged" in service
