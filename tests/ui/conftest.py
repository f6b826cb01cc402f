"""Dashboard tests: a live server on a real database, pages fetched over HTTP."""

from __future__ import annotations

import re

import httpx
import pytest

from medic.worker.loop import Worker

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def worker(settings, engine, clock):
    worker = Worker(settings, engine, clock=clock, channels={}, run_daily_cleanup=False)
    yield worker
    worker.close()


class Fleet:
    """Services registered and fed through the JSON API, as their owners would."""

    def __init__(self, api: httpx.Client, headers: dict | None = None):
        self.api = api
        self.headers = headers or {}

    def register(self, name: str, **extra) -> dict:
        body = {"heartbeat_name": name, "service_name": extra.pop("service_name", name.split("-")[0]),
                "alert_interval": extra.pop("alert_interval", 5), **extra}
        body = {key: value for key, value in body.items() if value is not None}
        response = self.api.post("/service", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()["results"]

    def beat(self, name: str, status: str = "UP") -> None:
        response = self.api.post("/heartbeat", json={"heartbeat_name": name, "status": status}, headers=self.headers)
        assert response.status_code in (200, 201), response.text

    def service(self, name: str) -> dict:
        response = self.api.get(f"/service/{name}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["results"][0]


@pytest.fixture
def fleet(api) -> Fleet:
    return Fleet(api)


@pytest.fixture
def page(server):
    """A browser-less visitor of the dashboard (cookies kept, redirects not followed)."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
