"""The service page's strip of recent slots (cron) and windows (interval), over HTTP
on a live server, with the injected clock (docs/dashboard.md)."""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_an_interval_service_shows_its_windows_in_colour_and_words(page, fleet, clock):
    fleet.register("alpha-hb", alert_interval=5)
    for minute in range(11):  # 12:00 .. 12:10, then silent: due at 12:15
        clock.set(at(2026, 1, 5, 12, minute))
        fleet.beat("alpha-hb")
    clock.set(at(2026, 1, 5, 12, 22))
    fleet.beat("alpha-hb")
    clock.set(at(2026, 1, 5, 12, 23))
    html = page.get("/ui/service/alpha-hb").text
    assert 'Recent windows <span class="muted">(5 min each)</span>' in html
    assert '<span class="strip" role="img" aria-label="last 4 windows: 3 on time, 1 missed">' in html
    assert '<span class="b o-on_time" title="01-05 12:00 UTC: on time"></span>' in html
    assert '<span class="b o-missed" title="01-05 12:15 UTC: missed"></span>' in html
    assert "12:20 UTC" not in html  # not ended yet
    assert '<span class="b o-late"></span> late' in html  # the legend says every colour in words
    live = page.get("/ui/service/alpha-hb", headers={"HX-Request": "true"}).text
    assert 'aria-label="last 4 windows: 3 on time, 1 missed"' in live  # refreshed with the rest


def test_a_cron_service_shows_its_slots(page, fleet, clock, worker):
    fleet.register("nightly-hb", schedule={"cron": "*/10 * * * *"})
    clock.set(at(2026, 1, 5, 12, 5))
    fleet.beat("nightly-hb")  # meets 12:10 early
    clock.set(at(2026, 1, 5, 12, 21))
    worker.run_once()  # 12:20 passed without a success: missed
    html = page.get("/ui/service/nightly-hb").text
    assert '<h2 id="slots-h">Recent slots</h2>' in html
    assert 'aria-label="last 2 slots: 1 on time, 1 missed"' in html
    assert '<span class="b o-missed" title="01-05 12:20 UTC: missed"></span>' in html


def test_a_new_service_says_no_window_has_ended(page, fleet):
    fleet.register("fresh-hb", alert_interval=5)
    html = page.get("/ui/service/fresh-hb").text
    assert "No window has ended yet." in html
    assert 'aria-label="last' not in html
