"""medic_client against a real Medic server."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import medic_client
from medic_client import Client, MedicError, SendHeartbeat


class RecordingClient(Client):
    """A real client that also remembers each request it made and its outcome."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def _request(self, method, path, body=None, query=None):
        try:
            reply = super()._request(method, path, body, query)
        except MedicError as exc:
            self.calls.append((method, path, body, exc.status_code))
            raise
        self.calls.append((method, path, body, "ok"))
        return reply


def test_heartbeat_success_and_listing(server, unique_name):
    client = Client(server.url, raise_errors=True)
    record = client.register(unique_name, "python-client-tests", 5, team="sre", priority="p4")
    assert record["heartbeat_name"] == unique_name

    assert client.heartbeat(unique_name, "degraded") is True
    assert client.heartbeat(unique_name, service_name="python-client-tests") is True

    beats = client.get_heartbeats(unique_name, max_count=10)
    assert [b["status"] for b in beats] == ["UP", "DEGRADED"]  # newest first
    assert beats[0]["heartbeat_name"] == unique_name
    assert client.get_heartbeats(unique_name, max_count=1)[0]["status"] == "UP"


def test_register_is_idempotent_and_service_is_readable(server, unique_name):
    client = Client(server.url, raise_errors=True)
    first = client.register(unique_name, "python-client-tests", 3)
    again = client.register(unique_name, "python-client-tests", 3)
    assert first["heartbeat_name"] == again["heartbeat_name"] == unique_name
    service = client.get_service(unique_name)
    assert service["heartbeat_name"] == unique_name
    assert (service["active"], service["muted"], service["down"]) == (1, 0, 0)
    assert type(service["active"]) is int  # the original Medic's 0/1, not a boolean
    assert Client(server.url).get_service(unique_name + "-missing") is None


def test_unknown_heartbeat_returns_false_and_logs(server, caplog):
    client = Client(server.url)
    with caplog.at_level(logging.WARNING, logger="medic_client"):
        assert client.heartbeat("py-no-such-heartbeat") is False
    assert "404" in caplog.text


def test_unknown_heartbeat_raises_with_raise_errors(server):
    client = RecordingClient(server.url, raise_errors=True, backoff=0.01)
    with pytest.raises(MedicError) as info:
        client.heartbeat("py-no-such-heartbeat")
    assert info.value.status_code == 404
    assert info.value.attempts == 1  # a 4xx is final: not retried
    assert info.value.body["success"] is False
    assert len(client.calls) == 1


def test_invalid_registration_is_reported(server, unique_name):
    with pytest.raises(MedicError) as info:
        Client(server.url, raise_errors=True).register(unique_name, "svc", 0)
    assert info.value.status_code == 400
    assert Client(server.url).register(unique_name, "svc", 0) is None


def test_server_down_retries_then_fails_clearly(closed_port_url, monkeypatch):
    attempts = []
    real_urlopen = urllib.request.urlopen

    def counting_urlopen(*args, **kwargs):
        attempts.append(args[0].full_url)
        return real_urlopen(*args, **kwargs)

    monkeypatch.setattr(medic_client.client.urllib.request, "urlopen", counting_urlopen)
    client = Client(closed_port_url, retries=3, backoff=0.01, raise_errors=True)
    with pytest.raises(MedicError) as info:
        client.heartbeat("anything")
    assert len(attempts) == 4
    assert info.value.attempts == 4
    assert info.value.status_code is None
    assert "cannot reach Medic at " + closed_port_url in str(info.value)
    assert "after 4 attempts" in str(info.value)

    attempts.clear()
    assert Client(closed_port_url, retries=2, backoff=0.01).heartbeat("anything") is False
    assert len(attempts) == 3


def test_original_send_heartbeat_function(server, unique_name, closed_port_url, monkeypatch):
    Client(server.url, raise_errors=True).register(unique_name, "legacy", 5)
    assert SendHeartbeat(unique_name, "legacy", "UP", base_url=server.url) is True
    monkeypatch.setenv("MEDIC_BASE_URL", server.url)
    assert SendHeartbeat(unique_name, "legacy", "DOWN") is True
    assert SendHeartbeat("py-no-such-heartbeat", "legacy", "UP") is False
    monkeypatch.setattr(medic_client.client.time, "sleep", lambda _seconds: None)
    assert SendHeartbeat(unique_name, "legacy", "UP", base_url=closed_port_url) is False


def test_settings_come_from_environment(monkeypatch):
    monkeypatch.setenv("MEDIC_BASE_URL", "http://medic.example:5000/")
    monkeypatch.setenv("MEDIC_API_KEY", "secret-key")
    client = Client()
    assert client.base_url == "http://medic.example:5000"
    assert client.api_key == "secret-key"
    assert "secret-key" not in repr(client)
    assert Client("http://other:1", api_key="k2").api_key == "k2"


def test_api_key_is_sent(auth_server, unique_name):
    keyed = Client(auth_server.url, api_key=auth_server.admin_key, raise_errors=True)
    keyed.register(unique_name, "auth-tests", 5)
    assert keyed.heartbeat(unique_name) is True

    with pytest.raises(MedicError) as missing:
        Client(auth_server.url, raise_errors=True).heartbeat(unique_name)
    assert missing.value.status_code == 401

    with pytest.raises(MedicError) as wrong:
        Client(auth_server.url, api_key="not-a-key", raise_errors=True).heartbeat(unique_name)
    assert wrong.value.status_code in (401, 403)

    assert Client(auth_server.url).heartbeat(unique_name) is False


def test_api_key_from_environment(auth_server, unique_name, monkeypatch):
    monkeypatch.setenv("MEDIC_BASE_URL", auth_server.url)
    monkeypatch.setenv("MEDIC_API_KEY", auth_server.admin_key)
    client = Client(raise_errors=True)
    client.register(unique_name, "auth-tests", 5)
    assert client.heartbeat(unique_name) is True


def server_run(server, name, run_id):
    """The run as the server recorded it (GET /v2/services/<name>/runs)."""
    with urllib.request.urlopen(f"{server.url}/v2/services/{name}/runs", timeout=5) as resp:
        runs = json.load(resp)["results"]
    return next(run for run in runs if run["run_id"] == run_id)


def _job_calls(client, name):
    return [(path.rsplit("/", 1)[-1], body, outcome) for _m, path, body, outcome in client.calls if f"/{name}/" in path]


def test_job_context_manager_success(server, unique_name):
    client = RecordingClient(server.url, raise_errors=True)
    client.register(unique_name, "jobs", 60)
    with client.job(unique_name) as run:
        assert run.run_id
    calls = _job_calls(client, unique_name)
    assert [c[0] for c in calls] == ["start", "complete"]
    assert all(outcome == "ok" for *_rest, outcome in calls)
    assert calls[0][1]["run_id"] == calls[1][1]["run_id"] == run.run_id
    assert server_run(server, unique_name, run.run_id)["state"] == "succeeded"


def test_job_context_manager_failure_sends_reason_and_reraises(server, unique_name):
    client = RecordingClient(server.url, raise_errors=True)
    client.register(unique_name, "jobs", 60)
    with pytest.raises(ValueError, match="disk full"):
        with client.job(unique_name) as run:
            raise ValueError("disk full")
    calls = _job_calls(client, unique_name)
    assert [c[0] for c in calls] == ["start", "fail"]
    assert calls[1][2] == "ok"
    assert calls[1][1] == {"run_id": run.run_id, "message": "ValueError: disk full"}
    recorded = server_run(server, unique_name, run.run_id)
    assert (recorded["state"], recorded["message"]) == ("failed", "ValueError: disk full")


def test_job_decorator_reports_each_call(server, unique_name):
    client = RecordingClient(server.url, raise_errors=True)
    client.register(unique_name, "jobs", 60)

    @client.job(unique_name)
    def nightly(x):
        if x < 0:
            raise RuntimeError("negative")
        return x * 2

    assert nightly(21) == 42
    assert nightly.__name__ == "nightly"
    with pytest.raises(RuntimeError):
        nightly(-1)
    calls = _job_calls(client, unique_name)
    assert [c[0] for c in calls] == ["start", "complete", "start", "fail"]
    assert all(outcome == "ok" for *_rest, outcome in calls)
    assert calls[0][1]["run_id"] == calls[1][1]["run_id"] != calls[2][1]["run_id"] == calls[3][1]["run_id"]


def test_job_signals_without_run_id(server, unique_name):
    client = Client(server.url, raise_errors=True)
    client.register(unique_name, "jobs", 60)
    run_id = client.start_job(unique_name)
    assert run_id  # generated by the server
    assert client.complete_job(unique_name) == run_id  # closes the newest open run
    assert client.start_job(unique_name, run_id="explicit-run-1") == "explicit-run-1"
    assert client.fail_job(unique_name, run_id="explicit-run-1", message="exit 3") == "explicit-run-1"


def test_job_on_unknown_service_never_breaks_the_program(server, caplog):
    client = Client(server.url, backoff=0.01)
    ran = []
    with caplog.at_level(logging.WARNING, logger="medic_client"):
        with client.job("py-no-such-job"):
            ran.append(True)
    assert ran == [True]
    assert "job start" in caplog.text and "job complete" in caplog.text


class _Flaky(BaseHTTPRequestHandler):
    """Replies 429 (Retry-After: 0), then 503, then 201."""

    replies = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        code, headers = self.replies.pop(0)
        body = b'{"success": %s, "message": "m", "results": null}' % (b"true" if code < 300 else b"false")
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_retries_on_429_and_5xx_honouring_retry_after(monkeypatch):
    # The real server cannot be made to answer 503 on demand, so this one case uses
    # a scripted local server.
    _Flaky.replies = [(429, {"Retry-After": "0"}), (503, {}), (201, {})]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    sleeps = []
    monkeypatch.setattr(medic_client.client.time, "sleep", sleeps.append)
    try:
        client = Client(f"http://127.0.0.1:{httpd.server_port}", backoff=0.2, raise_errors=True)
        assert client.heartbeat("flaky") is True
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert _Flaky.replies == []
    assert sleeps[0] == 0  # Retry-After honoured
    assert 0.1 <= sleeps[1] <= 0.4  # second retry: backoff * 2 with jitter


def test_register_with_a_cron_schedule(server, unique_name):
    client = Client(server.url, raise_errors=True)
    record = client.register(unique_name, "nightly", schedule={"cron": "0 3 * * *", "timezone": "Europe/Berlin",
                                                               "grace": 600, "max_runtime": 3600})
    assert record["schedule"]["kind"] == "cron"
    assert record["schedule"]["description"] == "at 03:00 every day, Europe/Berlin"
    assert record["schedule"]["max_runtime"] == 3600 and record["grace_period_seconds"] == 600
    assert client.get_service(unique_name)["schedule"]["timezone"] == "Europe/Berlin"
