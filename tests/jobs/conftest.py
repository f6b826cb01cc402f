"""Job tests: real database, real HTTP, the real worker with stand-in providers."""

from __future__ import annotations

import pytest

from tests.fakes.providers import provider_env


@pytest.fixture
def settings_env(pagerduty, slack) -> dict[str, str]:
    return {**provider_env(pagerduty, slack), "NOTIFY_TIMEOUT_SECONDS": "2"}


class Jobs:
    """The job API as a job owner uses it."""

    def __init__(self, api):
        self.api = api

    def register(self, name: str = "nightly", **extra) -> dict:
        body = {"heartbeat_name": name, "service_name": "batch", "alert_interval": 60, **extra}
        response = self.api.post("/service", json=body)
        assert response.status_code == 201, response.text
        return response.json()["results"]

    def signal(self, action: str, name: str = "nightly", expect: int = 201, **body) -> dict:
        response = self.api.post(f"/v2/heartbeat/{name}/{action}", json=body or None)
        assert response.status_code == expect, response.text
        return response.json()["results"]

    def start(self, name: str = "nightly", **body) -> dict:
        return self.signal("start", name, **body)

    def complete(self, name: str = "nightly", **body) -> dict:
        return self.signal("complete", name, **body)

    def fail(self, name: str = "nightly", **body) -> dict:
        return self.signal("fail", name, **body)

    def stats(self, name: str = "nightly", **params) -> dict:
        response = self.api.get(f"/v2/services/{name}/stats", params=params)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def service(self, name: str = "nightly") -> dict:
        return self.api.get(f"/service/{name}").json()["results"][0]

    def alerts(self, **params) -> list[dict]:
        return self.api.get("/alerts", params=params).json()["results"]


@pytest.fixture
def jobs(api) -> Jobs:
    return Jobs(api)

