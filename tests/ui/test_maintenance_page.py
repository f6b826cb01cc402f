"""The dashboard shows maintenance windows in force: a line on the overview, a badge
on the page of a service in one (docs/maintenance.md)."""

from __future__ import annotations

from datetime import timedelta


def test_a_window_in_force_is_shown_on_the_overview_and_the_service_page(page, fleet, api, clock):
    fleet.register("db-hb", team="db")
    fleet.register("web-hb", team="web")
    response = api.post("/v2/maintenance", json={"team": "db", "end": "2026-01-05T14:00:00Z",
                                                 "reason": "PostgreSQL 17 upgrade"})
    assert response.status_code == 201, response.text
    overview = page.get("/ui/").text
    assert "PostgreSQL 17 upgrade" in overview and "team db" in overview and "2026-01-05 14:00 UTC" in overview
    service = page.get("/ui/service/db-hb").text
    assert "in maintenance" in service and "PostgreSQL 17 upgrade" in service
    assert "in maintenance" not in page.get("/ui/service/web-hb").text

    clock.advance(hours=2)  # over: nothing shown
    assert "PostgreSQL 17 upgrade" not in page.get("/ui/").text
    assert "in maintenance" not in page.get("/ui/service/db-hb").text


def test_an_upcoming_window_is_not_shown_as_in_force(page, fleet, api, clock):
    fleet.register("db-hb", team="db", labels={"env": "prod"})
    start = clock() + timedelta(hours=1)
    response = api.post("/v2/maintenance", json={"labels": {"env": "prod"}, "start": start.isoformat(),
                                                 "end": (start + timedelta(hours=1)).isoformat(), "reason": "later"})
    assert response.status_code == 201, response.text
    assert "later" not in page.get("/ui/").text
    clock.advance(hours=1)
    overview = page.get("/ui/").text
    assert "later" in overview and "services labelled env=prod" in overview
