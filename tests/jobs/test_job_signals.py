"""Job signals and stats over real HTTP, on every backend."""

from __future__ import annotations

import pytest


def test_start_then_complete_records_the_duration(jobs, api, clock):
    jobs.register()
    started = jobs.start(run_id="run-1")
    assert started["run_id"] == "run-1"
    assert started["state"] == "running" and started["heartbeat_name"] == "nightly"
    assert started["started_at"] == "2026-01-05T12:00:00Z"
    assert started["finished_at"] is None and started["duration_seconds"] is None

    clock.advance(minutes=2, seconds=3, milliseconds=250)
    done = jobs.complete(run_id="run-1")
    assert done["state"] == "succeeded"
    assert done["duration_seconds"] == 123.25
    assert done["finished_at"] == "2026-01-05T12:02:03.250000Z"

    listing = api.get("/v2/services/nightly/runs").json()["results"]
    assert [(run["run_id"], run["state"]) for run in listing] == [("run-1", "succeeded")]


def test_signals_are_heartbeats_up_except_fail_down(jobs, api, clock):
    jobs.register()
    jobs.start()
    clock.advance(seconds=1)
    jobs.complete()
    clock.advance(seconds=1)
    jobs.fail(message="exit 3")
    beats = api.get("/heartbeat", params={"heartbeat_name": "nightly"}).json()["results"]
    assert [beat["status"] for beat in beats] == ["DOWN", "UP", "UP"]
    service = jobs.service()
    assert service["last_heartbeat_at"] == "2026-01-05T12:00:02Z"
    assert service["last_status"] == "FAILED"


def test_generated_run_id_and_complete_without_run_id_closes_the_newest_open_run(jobs, clock):
    jobs.register()
    first = jobs.start()["run_id"]
    clock.advance(seconds=10)
    second = jobs.start()["run_id"]
    assert first and second and first != second
    clock.advance(seconds=5)
    closed = jobs.complete()
    assert closed["run_id"] == second and closed["duration_seconds"] == 5.0
    closed = jobs.fail(message="boom")
    assert closed["run_id"] == first and closed["duration_seconds"] == 15.0
    assert closed["message"] == "boom"


def test_closing_with_no_open_run_records_a_run_without_start(jobs):
    jobs.register()
    run = jobs.complete()
    assert run["run_id"] and run["state"] == "succeeded"
    assert run["started_at"] is None and run["duration_seconds"] is None
    failed = jobs.fail()
    assert failed["run_id"] != run["run_id"] and failed["state"] == "failed"


def test_closing_a_run_whose_start_never_arrived_records_it(jobs, api):
    jobs.register()
    response = api.post("/v2/heartbeat/nightly/complete", json={"run_id": "never-started"})
    assert response.status_code == 201, response.text
    run = response.json()["results"]
    assert run["run_id"] == "never-started" and run["state"] == "succeeded" and run["started_at"] is None
    assert [r["run_id"] for r in api.get("/v2/services/nightly/runs").json()["results"]] == ["never-started"]
    assert [h["status"] for h in api.get("/heartbeat").json()["results"]] == ["UP"]
    # A start arriving late for that run finds it finished.
    assert api.post("/v2/heartbeat/nightly/start", json={"run_id": "never-started"}).status_code == 409


def test_run_ids_belong_to_their_service(jobs, api):
    jobs.register("a-job")
    jobs.register("b-job")
    jobs.start("a-job", run_id="shared")
    jobs.start("b-job", run_id="shared")  # the same id is free on another service
    assert jobs.complete("b-job", run_id="shared")["heartbeat_name"] == "b-job"
    [open_run] = api.get("/v2/services/a-job/runs").json()["results"]
    assert open_run["run_id"] == "shared" and open_run["state"] == "running"  # a-job's run untouched


def test_repeated_signals_are_idempotent_and_conflicts_are_409(jobs, api, clock):
    jobs.register()
    jobs.start(run_id="r1")
    again = jobs.signal("start", run_id="r1", expect=200)  # a client retrying its start
    assert again["state"] == "running"
    clock.advance(seconds=30)
    jobs.complete(run_id="r1")
    clock.advance(seconds=30)
    replay = jobs.signal("complete", run_id="r1", expect=200)
    assert replay["duration_seconds"] == 30.0  # unchanged by the retry
    conflict = api.post("/v2/heartbeat/nightly/fail", json={"run_id": "r1"})
    assert conflict.status_code == 409
    assert "run_id" in conflict.json()["message"] and conflict.json()["results"]["state"] == "succeeded"
    assert api.post("/v2/heartbeat/nightly/start", json={"run_id": "r1"}).status_code == 409
    beats = api.get("/heartbeat", params={"heartbeat_name": "nightly"}).json()["results"]
    assert len(beats) == 2  # only the start and the first complete were stored


def test_service_id_or_name_in_the_path(jobs, api):
    service = jobs.register("Nightly-Export")
    run = jobs.start(str(service["service_id"]))
    assert run["heartbeat_name"] == "Nightly-Export"
    assert jobs.complete("nightly-export")["run_id"] == run["run_id"]  # names are case-insensitive
    assert jobs.stats(str(service["service_id"]))["by_state"]["succeeded"] == 1


def test_a_numeric_heartbeat_name_wins_over_a_service_id(jobs):
    first = jobs.register("first-job")
    jobs.register(str(first["service_id"]))
    assert jobs.start(str(first["service_id"]))["heartbeat_name"] == str(first["service_id"])


def test_names_with_slashes_are_reached_by_service_id(jobs, api):
    # A path segment cannot hold "/" (even encoded); the numeric id always works.
    service = jobs.register("team/nightly")
    assert api.post("/v2/heartbeat/team%2Fnightly/start").status_code == 404
    run = jobs.start(str(service["service_id"]))
    assert run["heartbeat_name"] == "team/nightly"
    assert jobs.stats(str(service["service_id"]))["by_state"]["running"] == 1


@pytest.mark.parametrize(
    "headers, content",
    [
        ({}, None),  # curl -X POST
        ({"Content-Type": "application/json"}, b""),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b""),  # curl -X POST -d ''
        ({"Content-Type": "application/json"}, b"  \n"),
    ],
)
def test_an_empty_body_is_a_valid_signal(jobs, api, headers, content):
    jobs.register()
    response = api.post("/v2/heartbeat/nightly/start", headers=headers, content=content)
    assert response.status_code == 201, response.text
    assert response.json()["results"]["run_id"]


def test_unknown_service_is_404(api):
    response = api.post("/v2/heartbeat/ghost/start")
    assert response.status_code == 404
    assert "ghost" in response.json()["message"]
    assert api.post("/v2/heartbeat/999/fail").status_code == 404
    assert api.get("/v2/services/ghost/stats").status_code == 404


def test_inactive_service_is_400_and_records_nothing(jobs, api):
    jobs.register()
    api.post("/service/nightly", json={"active": False})
    response = api.post("/v2/heartbeat/nightly/start")
    assert response.status_code == 400
    assert "inactive" in response.json()["message"]
    assert api.get("/v2/services/nightly/runs").json()["results"] == []
    assert api.get("/heartbeat").json()["results"] == []


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"json": {"run_id": "x" * 129}}, "run_id"),
        ({"json": {"run_id": "has space"}}, "run_id"),
        ({"json": {"run_id": ""}}, "run_id"),
        ({"json": {"run_id": 42}}, "run_id"),
        ({"json": {"message": "m" * 2001}}, "message"),
        ({"json": {"message": ["not", "text"]}}, "message"),
        ({"json": {"runid": "typo"}}, "runid"),
        ({"json": ["run_id"]}, "JSON object"),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
    ],
)
def test_bad_signal_bodies_are_400_naming_the_field_and_change_nothing(jobs, api, kwargs, field):
    jobs.register()
    response = api.post("/v2/heartbeat/nightly/fail", **kwargs)
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False
    assert field in response.json()["message"]
    assert api.get("/v2/services/nightly/runs").json()["results"] == []
    assert jobs.service()["last_heartbeat_at"] is None


def test_a_form_signal_body_is_415_and_changes_nothing(jobs, api):
    jobs.register()
    response = api.post("/v2/heartbeat/nightly/fail", data={"run_id": "r"})
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["message"]
    assert api.get("/v2/services/nightly/runs").json()["results"] == []


def test_longest_accepted_run_id_and_message(jobs):
    jobs.register()
    jobs.start(run_id="r" * 128)
    run = jobs.fail(run_id="r" * 128, message="m" * 2000)
    assert run["run_id"] == "r" * 128 and len(run["message"]) == 2000


def test_unknown_action_is_a_json_404(api, jobs):
    jobs.register()
    response = api.post("/v2/heartbeat/nightly/finish")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


def test_stats_figures_from_known_durations(jobs, clock):
    jobs.register()
    for seconds in (40, 10, 30, 20):  # succeeded runs
        jobs.start()
        clock.advance(seconds=seconds)
        jobs.complete()
    jobs.start()
    clock.advance(seconds=500)
    jobs.fail(message="timeout")  # failed: counted by state, not in the durations
    jobs.complete()  # no start: no duration
    jobs.start()  # still open
    stats = jobs.stats()
    assert stats["runs"] == 6
    assert stats["by_state"] == {"succeeded": 5, "failed": 1, "running": 1}
    assert stats["count"] == 4
    assert (stats["avg"], stats["p50"], stats["min"], stats["max"]) == (25.0, 25.0, 10.0, 40.0)
    assert stats["p95"] == 38.5 and stats["p99"] == 39.7
    assert stats["oldest_finished_at"] == "2026-01-05T12:00:40Z"
    assert stats["newest_finished_at"] == "2026-01-05T12:10:00Z"


def test_stats_limit_takes_the_newest_finished_runs(jobs, clock):
    jobs.register()
    for seconds in (100, 1, 2, 3):
        jobs.start()
        clock.advance(seconds=seconds)
        jobs.complete()
    stats = jobs.stats(limit=3)
    assert stats["limit"] == 3 and stats["runs"] == 3
    assert (stats["min"], stats["max"], stats["p50"]) == (1.0, 3.0, 2.0)
    assert jobs.stats()["max"] == 100.0


def test_stats_of_a_service_without_runs(jobs):
    jobs.register()
    stats = jobs.stats()
    assert stats["runs"] == 0 and stats["count"] == 0
    assert stats["avg"] is None and stats["p95"] is None
    assert stats["by_state"] == {"succeeded": 0, "failed": 0, "running": 0}


@pytest.mark.parametrize("params, field", [({"limit": 0}, "limit"), ({"limit": "x"}, "limit"), ({"since": "1"}, "since")])
def test_bad_stats_queries_are_400_naming_the_field(jobs, api, params, field):
    jobs.register()
    response = api.get("/v2/services/nightly/stats", params=params)
    assert response.status_code == 400
    assert field in response.json()["message"]


def test_runs_listing_filters_by_state(jobs, api, clock):
    jobs.register()
    jobs.start(run_id="ok")
    clock.advance(seconds=1)
    jobs.complete(run_id="ok")
    jobs.start(run_id="bad")
    clock.advance(seconds=1)
    jobs.fail(run_id="bad", message="disk full")
    jobs.start(run_id="open")
    listing = api.get("/v2/services/nightly/runs").json()["results"]
    assert [run["run_id"] for run in listing] == ["open", "bad", "ok"]
    failed = api.get("/v2/services/nightly/runs", params={"state": "failed"}).json()["results"]
    assert [(run["run_id"], run["message"]) for run in failed] == [("bad", "disk full")]
    assert api.get("/v2/services/nightly/runs", params={"state": "lost"}).status_code == 400


def test_job_routes_are_in_the_openapi_document(api):
    paths = api.get("/openapi.json").json()["paths"]
    for action in ("start", "complete", "fail"):
        assert "post" in paths[f"/v2/heartbeat/{{service}}/{action}"]
    assert "get" in paths["/v2/services/{service}/stats"]


def test_concurrent_signals_of_one_service_are_serialised(jobs, api):
    from concurrent.futures import ThreadPoolExecutor

    jobs.register()

    def run(index: int) -> tuple[int, int]:
        start = api.post("/v2/heartbeat/nightly/start", json={"run_id": f"run-{index}"})
        complete = api.post("/v2/heartbeat/nightly/complete", json={"run_id": f"run-{index}"})
        return start.status_code, complete.status_code

    def duplicate_start(_index: int) -> int:
        return api.post("/v2/heartbeat/nightly/start", json={"run_id": "same"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(run, range(16))) == [(201, 201)] * 16
        assert sorted(pool.map(duplicate_start, range(8))) == [200] * 7 + [201]
    stats = jobs.stats()
    assert stats["by_state"] == {"succeeded": 16, "failed": 0, "running": 1}
    assert jobs.service()["last_status"] == "RUNNING"
