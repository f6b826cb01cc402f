"""`medic heartbeat` and `medic job` against a live server (and a stand-in where
the real server cannot be made to misbehave)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from medic.cli import main
from tests.fakes.providers import FakeProvider, Response


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def medic(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m medic ...` as a cron job runs it, in its own process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIC_")}
    return subprocess.run(
        [sys.executable, "-m", "medic", *args], env={**clean, **(env or {})}, capture_output=True, text=True, timeout=60
    )


def runs(api, name: str = "nightly") -> list[dict]:
    return api.get(f"/v2/services/{name}/runs").json()["results"]


@pytest.fixture
def stand_in():
    """A recording server answering like Medic's job routes."""
    with FakeProvider("medic", lambda _req: Response(201, {"success": True, "message": "", "results": {}})) as fake:
        yield fake


# -- medic heartbeat ----------------------------------------------------------


def test_heartbeat_command_stores_a_heartbeat(jobs, api, server):
    jobs.register()
    result = CliRunner().invoke(main, ["heartbeat", "nightly", "--status", "degraded", "--url", server.url])
    assert result.exit_code == 0, result.output
    [beat] = api.get("/heartbeat", params={"heartbeat_name": "nightly"}).json()["results"]
    assert beat["status"] == "DEGRADED"


def test_heartbeat_command_reads_the_url_from_the_environment(jobs, api, server):
    jobs.register()
    result = CliRunner().invoke(main, ["heartbeat", "nightly"], env={"MEDIC_BASE_URL": server.url})
    assert result.exit_code == 0, result.output
    assert api.get("/heartbeat").json()["results"][0]["status"] == "UP"


def test_heartbeat_command_fails_clearly_for_an_unknown_name(server):
    result = CliRunner().invoke(main, ["heartbeat", "ghost", "--url", server.url])
    assert result.exit_code == 1
    assert "HTTP 404" in result.output and "ghost" in result.output


def test_heartbeat_command_fails_clearly_when_medic_is_unreachable():
    url = closed_port_url()
    result = CliRunner().invoke(main, ["heartbeat", "nightly", "--url", url, "--retries", "0"])
    assert result.exit_code == 1
    assert f"cannot reach Medic at {url}" in result.output


def test_heartbeat_command_rejects_a_bad_status():
    result = CliRunner().invoke(main, ["heartbeat", "nightly", "--status", "sideways"])
    assert result.exit_code == 2 and "--status" in result.output


def test_heartbeat_command_sends_the_api_key_and_retries_a_5xx(stand_in):
    stand_in.queue(Response(503, {"success": False, "message": "busy", "results": None}))
    result = CliRunner().invoke(
        main, ["heartbeat", "nightly", "--url", stand_in.url], env={"MEDIC_API_KEY": "key-123"}
    )
    assert result.exit_code == 0, result.output
    first, second = stand_in.requests
    assert first.path == second.path == "/heartbeat"
    assert second.headers["Authorization"] == "Bearer key-123"
    assert second.json == {"heartbeat_name": "nightly", "status": "UP"}


# -- medic job ----------------------------------------------------------------


def test_job_command_reports_a_successful_run(jobs, api, server):
    jobs.register()
    result = medic("job", "--url", server.url, "nightly", "--", "sh", "-c", "echo exported")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "exported\n"
    [run] = runs(api)
    assert run["state"] == "succeeded" and run["started_at"] is not None
    assert len(run["run_id"]) == 32


def test_job_command_reports_a_failure_with_the_exit_code_and_stderr(jobs, api, server):
    jobs.register()
    script = "echo starting; echo 'first problem' >&2; echo 'disk full' >&2; exit 3"
    result = medic("job", "nightly", "sh", "-c", script, env={"MEDIC_BASE_URL": server.url})
    assert result.returncode == 3
    assert result.stdout == "starting\n"
    assert "disk full" in result.stderr  # passed through as well as reported
    [run] = runs(api)
    assert run["state"] == "failed" and run["started_at"] is not None
    assert run["message"] == "exit 3: first problem\ndisk full"


def test_job_command_reports_a_command_killed_by_a_signal(jobs, api, server):
    jobs.register()
    result = medic("job", "--url", server.url, "nightly", "--", "sh", "-c", "kill -TERM $$")
    assert result.returncode == 143
    assert runs(api)[0]["message"] == "exit 143 (SIGTERM)"


def test_job_command_reports_a_missing_command(jobs, api, server):
    jobs.register()
    result = medic("job", "--url", server.url, "nightly", "--", "no-such-command-anywhere")
    assert result.returncode == 127
    assert runs(api)[0]["message"] == "exit 127: command not found: no-such-command-anywhere"


def test_job_command_runs_the_command_when_medic_is_unreachable():
    result = medic("job", "--url", closed_port_url(), "--retries", "0", "nightly", "--", "sh", "-c", "echo ran; exit 5")
    assert result.returncode == 5
    assert result.stdout == "ran\n"
    assert "warning: job 'nightly' start not recorded" in result.stderr
    assert "warning: job 'nightly' fail not recorded" in result.stderr


def test_job_command_keeps_going_for_an_unknown_job(server):
    result = medic("job", "--url", server.url, "ghost", "--", "true")
    assert result.returncode == 0
    assert "HTTP 404" in result.stderr


def test_job_command_closes_without_run_id_when_the_start_was_lost(stand_in):
    stand_in.queue(Response(503, {"success": False, "message": "down", "results": None}))
    result = medic("job", "--url", stand_in.url, "--retries", "0", "nightly", "--", "true", env={"MEDIC_API_KEY": "k9"})
    assert result.returncode == 0, result.stderr
    start, complete = stand_in.requests
    assert start.path == "/v2/heartbeat/nightly/start" and set(start.json) == {"run_id"}
    assert complete.path == "/v2/heartbeat/nightly/complete" and complete.json == {}
    assert complete.headers["Authorization"] == "Bearer k9"


def test_job_command_needs_a_command():
    result = CliRunner().invoke(main, ["job", "nightly", "--"])
    assert result.exit_code == 2 and "COMMAND" in result.output


def test_job_command_passes_sigterm_to_the_command_and_reports_its_exit(jobs, api, server):
    import signal

    jobs.register()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIC_")}
    script = "trap 'kill $!; echo stopping >&2; exit 7' TERM; sleep 60 & echo ready; wait"
    # The wrapper's own retry budget (5 s per request, one retry) stays well inside the
    # wait below, so a slow server on a loaded machine cannot pass for a lost signal.
    proc = subprocess.Popen(
        [sys.executable, "-m", "medic", "job", "--url", server.url, "--timeout", "5", "--retries", "1",
         "nightly", "--", "sh", "-c", script],
        env=clean, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline() == "ready\n"  # the command runs, its trap is set
        proc.send_signal(signal.SIGTERM)  # as cron, systemd or Kubernetes stop the wrapper
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"medic job did not exit after SIGTERM: {process_tree_state(proc.pid)}")
        assert code == 7, proc.stderr.read()
    finally:
        proc.kill()
    [run] = runs(api)
    assert run["state"] == "failed" and run["message"] == "exit 7: stopping"


def process_tree_state(pid: int) -> str:
    """Each thread's pending, blocked and caught signals and each child's command line,
    for a failure message that says where a signal stopped."""
    lines = []
    for task in sorted(os.listdir(f"/proc/{pid}/task")):
        with open(f"/proc/{pid}/task/{task}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        lines.append(f"thread {task} {fields['State'].strip()} " + " ".join(
            f"{key}={fields[key].strip()}" for key in ("SigPnd", "ShdPnd", "SigBlk", "SigCgt")))
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        child_pids = children.read().split()
    for child in child_pids:
        with open(f"/proc/{child}/cmdline", "rb") as cmdline:
            argv = cmdline.read().replace(b"\0", b" ").decode()
        lines.append(f"child {child}: {argv!r}")
    return "; ".join(lines)


def test_stderr_pump_thread_never_takes_the_forwarded_signals():
    # A SIGTERM handed by the kernel to the pump thread would never wake the main
    # thread's wait(), and the command would not be told to stop (seen under load).
    import signal
    from collections import deque

    from medic.cli.jobs import FORWARDED, _start_pump

    read_end, write_end = os.pipe()
    stream = os.fdopen(read_end, "rb")
    pump = _start_pump(stream, deque())
    try:
        with open(f"/proc/self/task/{pump.native_id}/status") as status:
            blocked = int(next(line for line in status if line.startswith("SigBlk:")).split()[1], 16)
        assert all(blocked & (1 << (signum - 1)) for signum in FORWARDED)
        assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the main thread's mask is back
    finally:
        os.close(write_end)
        pump.join(timeout=5)
