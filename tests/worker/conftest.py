"""Worker tests: real database, real HTTP to stand-in providers, injected clock."""

from __future__ import annotations

import pytest

from medic.worker.loop import Worker
from tests.fakes.providers import provider_env


@pytest.fixture
def settings_env(pagerduty, slack, webhook) -> dict[str, str]:
    return {**provider_env(pagerduty, slack, webhook), "NOTIFY_TIMEOUT_SECONDS": "2"}


@pytest.fixture
def make_worker(settings, engine, clock):
    workers = []

    def make(**kwargs) -> Worker:
        worker = Worker(settings, engine, clock=clock, run_daily_cleanup=False, **kwargs)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


@pytest.fixture
def worker(make_worker) -> Worker:
    return make_worker()


class Medic:
    """The API as a service owner uses it."""

    def __init__(self, api):
        self.api = api

    def register(self, name: str = "svc-hb", **extra) -> dict:
        body = {"heartbeat_name": name, "service_name": extra.pop("service_name", "svc"), "alert_interval": 1, **extra}
        response = self.api.post("/service", json=body)
        assert response.status_code == 201, response.text
        return response.json()["results"]

    def beat(self, name: str = "svc-hb", status: str = "UP") -> None:
        response = self.api.post("/heartbeat", json={"heartbeat_name": name, "status": status})
        assert response.status_code == 201, response.text

    def update(self, name: str = "svc-hb", **changes) -> dict:
        response = self.api.post(f"/service/{name}", json=changes)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def service(self, name: str = "svc-hb") -> dict:
        return self.api.get(f"/service/{name}").json()["results"][0]

    def alerts(self, **params) -> list[dict]:
        return self.api.get("/alerts", params=params).json()["results"]


@pytest.fixture
def medic(api) -> Medic:
    return Medic(api)
