"""Schedule tests: real database, real HTTP, the real worker with stand-in providers."""

from __future__ import annotations

import pytest

from tests.fakes.providers import provider_env


@pytest.fixture
def settings_env(pagerduty, slack) -> dict[str, str]:
    return {**provider_env(pagerduty, slack), "NOTIFY_TIMEOUT_SECONDS": "2"}


class Api:
    """The API as the owner of a scheduled job uses it."""

    def __init__(self, api):
        self.api = api

    def register(self, name: str = "nightly", expect: int = 201, **body) -> dict:
        response = self.api.post("/service", json={"heartbeat_name": name, "service_name": "batch", **body})
        assert response.status_code == expect, response.text
        return response.json()

    def update(self, name: str = "nightly", expect: int = 200, **body) -> dict:
        response = self.api.post(f"/service/{name}", json=body)
        assert response.status_code == expect, response.text
        return response.json()

    def beat(self, name: str = "nightly", status: str = "UP") -> None:
        response = self.api.post("/heartbeat", json={"heartbeat_name": name, "status": status})
        assert response.status_code == 201, response.text

    def signal(self, action: str, name: str = "nightly", **body) -> dict:
        response = self.api.post(f"/v2/heartbeat/{name}/{action}", json=body or None)
        assert response.status_code == 201, response.text
        return response.json()["results"]

    def service(self, name: str = "nightly") -> dict:
        response = self.api.get(f"/service/{name}")
        assert response.status_code == 200, response.text
        return response.json()["results"][0]

    def slots(self, name: str = "nightly", **params) -> list[tuple[str, str]]:
        response = self.api.get(f"/v2/services/{name}/slots", params=params)
        assert response.status_code == 200, response.text
        return [(slot["slot_at"], slot["outcome"]) for slot in response.json()["results"]]

    def alerts(self, **params) -> list[dict]:
        return self.api.get("/alerts", params=params).json()["results"]


@pytest.fixture
def svc(api) -> Api:
    return Api(api)
