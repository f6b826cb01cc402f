"""Job alerts through the normal path: API -> database -> worker -> stand-in providers."""

from __future__ import annotations


def pages(pagerduty) -> list[str]:
    return [request.json["event_action"] for request in pagerduty.requests]


def test_fail_pages_on_the_next_cycle_and_a_later_complete_resolves(jobs, worker, clock, pagerduty, slack):
    jobs.register(alert_interval=60)
    jobs.start()
    worker.run_once()
    clock.advance(seconds=30)
    jobs.fail(message="exit 3")
    assert pagerduty.requests == []
    clock.advance(seconds=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert len(slack.requests) == 1
    [alert] = jobs.alerts(active="true")
    assert alert["open_reason"] == "job_failed"
    assert "job failed" in pagerduty.requests[0].json["payload"]["summary"]
    assert jobs.service()["state"] == "down"

    for _ in range(3):
        clock.advance(minutes=5)
        worker.run_once()
    assert pages(pagerduty) == ["trigger"]  # paged once

    jobs.start()  # the next run starting does not resolve the failure...
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    clock.advance(minutes=1)
    jobs.complete()  # ...its success does
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]
    assert pagerduty.requests[0].json["dedup_key"] == pagerduty.requests[1].json["dedup_key"]
    [alert] = jobs.alerts()
    assert alert["active"] == 0 and alert["close_reason"] == "recovered"


def test_fail_without_a_start_pages_too(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=60)
    jobs.fail()
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert jobs.alerts()[0]["open_reason"] == "job_failed"


def test_overdue_run_pages_once_and_resolves_when_it_completes(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=60, max_duration_seconds=600)
    jobs.start(run_id="slow")
    clock.advance(seconds=599)
    worker.run_once()
    assert pagerduty.requests == []
    clock.advance(seconds=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert jobs.alerts(active="true")[0]["open_reason"] == "job_overdue"

    for _ in range(4):
        clock.advance(minutes=2)
        worker.run_once()
    assert pages(pagerduty) == ["trigger"]

    clock.advance(minutes=1)
    run = jobs.complete(run_id="slow")
    assert run["duration_seconds"] == 1140.0
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]
    assert jobs.alerts()[0]["close_reason"] == "recovered"


def test_a_run_within_max_duration_does_not_page(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=60, max_duration_seconds=600)
    jobs.start()
    clock.advance(seconds=590)
    jobs.complete()
    clock.advance(seconds=60)
    worker.run_once()
    assert pagerduty.requests == []


def test_a_newer_run_completing_leaves_an_older_overdue_run_alerting(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=60, max_duration_seconds=600)
    jobs.start(run_id="stuck")
    clock.advance(minutes=5)
    jobs.start(run_id="quick")
    clock.advance(minutes=1)
    jobs.complete(run_id="quick")
    clock.advance(minutes=4)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert jobs.alerts()[0]["open_reason"] == "job_overdue"
    jobs.complete(run_id="stuck")
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]


def test_max_duration_set_while_a_run_is_open_applies_from_the_next_signal(jobs, api, worker, clock, pagerduty):
    jobs.register(alert_interval=60)
    jobs.start(run_id="a")
    api.post("/service/nightly", json={"max_duration_seconds": 60})
    jobs.start(run_id="b")  # the oldest open run (a) now has a 60 s limit
    clock.advance(seconds=60)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]


def test_job_signals_keep_the_service_alive(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=1)
    for _ in range(5):  # one run a minute, each taking 20 s: never a full minute of silence
        jobs.start()
        clock.advance(seconds=20)
        worker.run_once()
        jobs.complete()
        clock.advance(seconds=40)
        worker.run_once()
    assert pagerduty.requests == []
    clock.advance(seconds=20)  # now the signals stop: one window after the last one it pages
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert jobs.alerts()[0]["open_reason"] == "missed_heartbeats"


def test_a_run_open_past_the_whole_window_is_overdue(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=1)  # no max_duration: the window still bounds silence
    jobs.start()
    clock.advance(minutes=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert jobs.alerts()[0]["open_reason"] == "job_overdue"
    jobs.complete()
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]


def test_threshold_counts_start_and_complete_as_heartbeats(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=1, threshold=2)
    jobs.start()
    clock.advance(seconds=30)
    jobs.complete()  # two good heartbeats: healthy until 60 s after the first
    clock.advance(seconds=29)
    worker.run_once()
    assert pagerduty.requests == []
    clock.advance(seconds=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert jobs.alerts()[0]["open_reason"] == "missed_heartbeats"
    jobs.start()  # two heartbeats within the window again
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]


def test_threshold_and_failures(jobs, worker, clock, pagerduty):
    jobs.register(alert_interval=1, threshold=2, max_duration_seconds=20)
    jobs.start()
    clock.advance(seconds=5)
    jobs.fail()
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    jobs.start()
    clock.advance(seconds=5)
    jobs.complete()
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]
    jobs.start()
    clock.advance(seconds=20)  # past max_duration, well within the window
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve", "trigger"]
    assert jobs.alerts(active="true")[0]["open_reason"] == "job_overdue"


def test_muted_job_fails_silently(jobs, api, worker, clock, pagerduty):
    jobs.register()
    api.post("/service/nightly", json={"muted": True})
    jobs.fail()
    worker.run_once()
    assert pagerduty.requests == []
