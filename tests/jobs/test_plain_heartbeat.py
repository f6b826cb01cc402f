"""A plain heartbeat sent to a job's service (docs/jobs.md): it counts for liveness
only, and never replaces the job's own rules."""

from __future__ import annotations


def pages(pagerduty) -> list[str]:
    return [request.json["event_action"] for request in pagerduty.requests]


def beat(api, status: str = "UP") -> None:
    response = api.post("/heartbeat", json={"heartbeat_name": "nightly", "status": status})
    assert response.status_code == 201, response.text


def test_a_plain_heartbeat_keeps_an_open_runs_limit(jobs, api, worker, clock, pagerduty):
    jobs.register(alert_interval=60, max_duration_seconds=600)
    jobs.start(run_id="slow")
    clock.advance(seconds=300)
    beat(api)  # a sidecar still sending heartbeats must not hide the stuck run
    assert jobs.service()["last_status"] == "RUNNING"
    clock.advance(seconds=299)
    worker.run_once()
    assert pagerduty.requests == []
    clock.advance(seconds=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert jobs.alerts(active="true")[0]["open_reason"] == "job_overdue"
    beat(api)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]  # still overdue
    jobs.complete(run_id="slow")
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]


def test_a_plain_heartbeat_does_not_clear_a_failed_job(jobs, api, worker, clock, pagerduty):
    jobs.register(alert_interval=60)
    jobs.fail(message="exit 3")
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    clock.advance(seconds=30)
    beat(api)
    assert jobs.service()["last_status"] == "FAILED"
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]  # only a completed run resolves a failure
    jobs.complete()
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]


def test_a_plain_heartbeat_keeps_the_service_alive_between_runs(jobs, api, worker, clock, pagerduty):
    jobs.register(alert_interval=1, max_duration_seconds=600)
    jobs.start()
    clock.advance(seconds=10)
    jobs.complete()
    for _ in range(3):  # no run open: heartbeats alone keep it healthy
        clock.advance(seconds=50)
        beat(api)
        worker.run_once()
    assert pagerduty.requests == []


def test_a_down_heartbeat_pages_a_running_job_at_once(jobs, api, worker, clock, pagerduty):
    jobs.register(alert_interval=60, max_duration_seconds=600)
    jobs.start()
    clock.advance(seconds=5)
    beat(api, "DOWN")
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert jobs.alerts(active="true")[0]["open_reason"] == "reported_down"
