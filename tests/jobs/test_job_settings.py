"""Settings changes and abandoned runs keep job alerts right (found in review)."""

from __future__ import annotations


def pages(pagerduty):
    return [r.json["event_action"] for r in pagerduty.requests]


def test_a_settings_change_does_not_resolve_a_failed_job(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=60)
    jobs.fail(message="exit 3")
    clock.advance(seconds=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    jobs.start()  # only a completed run clears a failure
    assert jobs.api.post("/service/nightly", json={"grace_period_seconds": 60}).status_code == 200
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]


def test_a_settings_change_keeps_an_open_runs_max_duration(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=600, max_duration_seconds=300)
    jobs.start()
    assert jobs.api.post("/service/nightly", json={"grace_period_seconds": 30}).status_code == 200
    clock.advance(seconds=301)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]


def test_an_abandoned_run_is_closed_by_a_later_success(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=60, max_duration_seconds=300)
    jobs.start(run_id="r1")  # its host dies: r1 never reports again
    clock.advance(minutes=10)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    clock.advance(minutes=30)
    jobs.start(run_id="r2")
    clock.advance(minutes=1)
    jobs.complete(run_id="r2")
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]
    runs = {run["run_id"]: run for run in jobs.api.get("/v2/services/nightly/runs").json()["results"]}
    assert runs["r1"]["state"] == "failed" and "abandoned" in runs["r1"]["message"]


def test_cleanup_prunes_finished_runs_and_keeps_open_ones(jobs, clock, engine, settings):
    from medic.worker.cleanup import run_cleanup

    jobs.register(alert_interval=60 * 24)
    jobs.start(run_id="old")
    jobs.complete(run_id="old")
    jobs.start(run_id="still-open")
    clock.advance(days=31)
    assert run_cleanup(engine, settings, clock=clock)["job_runs"] == 1
    runs = [run["run_id"] for run in jobs.api.get("/v2/services/nightly/runs").json()["results"]]
    assert runs == ["still-open"]
