"""`medic heartbeat` and `medic job`: the HTTP client side, for cron users.

They reach a Medic server at MEDIC_BASE_URL with MEDIC_API_KEY and never open
the database, so they run on any machine that can reach the server. `medic job`
puts the wrapped command first: Medic being unreachable costs a warning on
stderr, never the command's run or its exit code.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from typing import Any, Sequence
from urllib.parse import quote

import click

DEFAULT_URL = "http://127.0.0.1:5000"
STDERR_TAIL_LINES = 20
MESSAGE_LIMIT = 2000  # what the server accepts as a fail reason


class _Unsent(Exception):
    """A request Medic did not accept (after retries); the message says why."""


def _client(url: str, api_key: str | None, timeout: float):
    import httpx  # imported here: the server commands never need it

    from medic import __version__

    headers = {"Accept": "application/json", "User-Agent": f"medic-cli/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)


def _post(client, path: str, body: dict[str, Any], retries: int) -> dict[str, Any]:
    """POST with retries on connection errors, 5xx and 429; the decoded reply or _Unsent."""
    import httpx

    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
        try:
            response = client.post(path, json=body)
        except httpx.HTTPError as exc:
            problem = f"cannot reach Medic at {client.base_url}: {str(exc) or type(exc).__name__}"
            continue
        try:
            reply = response.json()
        except ValueError:
            reply = {}
        message = reply.get("message") if isinstance(reply, dict) else None
        if response.is_success:
            return reply if isinstance(reply, dict) else {}
        problem = f"HTTP {response.status_code}: {message or response.reason_phrase}"
        if response.status_code != 429 and response.status_code < 500:
            break  # the request itself is wrong: retrying cannot help
    raise _Unsent(problem)


def _connection_options(func):
    func = click.option(
        "--retries", type=click.IntRange(0, 10), default=2, show_default=True,
        help="Extra attempts on connection errors, 5xx and 429.",
    )(func)
    func = click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds per request.")(func)
    func = click.option("--api-key", envvar="MEDIC_API_KEY", show_envvar=True, default=None, help="Sent as a Bearer token.")(func)
    func = click.option("--url", envvar="MEDIC_BASE_URL", show_envvar=True, default=DEFAULT_URL, show_default=True, help="Medic server.")(func)
    return func


@click.command("heartbeat")
@click.argument("name")
@click.option(
    "--status", type=click.Choice(["UP", "DOWN", "DEGRADED"], case_sensitive=False), default="UP", show_default=True
)
@_connection_options
def heartbeat(name: str, status: str, url: str, api_key: str | None, timeout: float, retries: int) -> None:
    """Send one heartbeat for NAME (exit 1 when Medic did not store it)."""
    with _client(url, api_key, timeout) as client:
        try:
            _post(client, "/heartbeat", {"heartbeat_name": name, "status": status.upper()}, retries)
        except _Unsent as exc:
            raise click.ClickException(f"heartbeat {name!r} not stored: {exc}") from None


@click.command("job", context_settings={"allow_interspersed_args": False})
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@_connection_options
def job(name: str, command: Sequence[str], url: str, api_key: str | None, timeout: float, retries: int) -> None:
    """Run COMMAND as a run of job NAME: signal start, run it, then complete, or
    fail with its exit code and the last lines of its stderr. Exits with
    COMMAND's exit code.

        medic job nightly-export -- /usr/local/bin/export --full
    """
    command = list(command)
    if command[0] == "--":  # arguments after NAME arrive as they are, separator included
        command = command[1:]
    if not command:
        raise click.UsageError("Missing argument 'COMMAND...'.")
    run_id = uuid.uuid4().hex
    with _client(url, api_key, timeout) as client:
        started = _signal(client, name, "start", {"run_id": run_id}, retries)
        code, stderr_tail = _run(command)
        # Without a recorded start the run_id is unknown to Medic: closing
        # without it still records the outcome (as a run with no start).
        body: dict[str, Any] = {"run_id": run_id} if started else {}
        if code == 0:
            _signal(client, name, "complete", body, retries)
        else:
            _signal(client, name, "fail", {**body, "message": fail_message(code, stderr_tail)}, retries)
    sys.exit(code)


def _signal(client, name: str, action: str, body: dict[str, Any], retries: int) -> bool:
    try:
        _post(client, f"/v2/heartbeat/{quote(name, safe='')}/{action}", body, retries)
    except _Unsent as exc:
        click.echo(f"medic: warning: job {name!r} {action} not recorded: {exc}", err=True)
        return False
    return True


def _run(command: list[str]) -> tuple[int, list[str]]:
    """Run the command with stdout untouched and stderr passed through; returns
    (exit code in shell convention, last stderr lines)."""
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    child = _Child()
    restore = _forward_signals(child)  # before the command starts: no window to lose a SIGTERM
    try:
        try:
            proc = subprocess.Popen(command, stderr=subprocess.PIPE)
        except FileNotFoundError:
            return 127, [f"command not found: {command[0]}"]
        except OSError as exc:  # not executable, and the like
            return 126, [f"cannot run {command[0]}: {exc.strerror or exc}"]
        pump = threading.Thread(target=_pump_stderr, args=(proc.stderr, tail), daemon=True)
        pump.start()
        child.started(proc)
        code = proc.wait()
    finally:
        restore()
    pump.join(timeout=5)
    # A command killed by signal N exits 128 + N, as a shell reports it.
    return (128 - code if code < 0 else code), list(tail)


def _pump_stderr(stream, tail: deque) -> None:
    out = getattr(sys.stderr, "buffer", None)
    for line in iter(stream.readline, b""):
        if out is not None:
            out.write(line)
            out.flush()
        else:
            sys.stderr.write(line.decode("utf-8", "replace"))
            sys.stderr.flush()
        tail.append(line.decode("utf-8", "replace").rstrip("\r\n"))
    stream.close()


class _Child:
    """The command's process, once started; signals that arrive earlier wait for it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.pending: list[int] = []

    def signal(self, signum: int) -> None:
        if self.proc is None:
            self.pending.append(signum)
            return
        try:
            self.proc.send_signal(signum)
        except ProcessLookupError:
            pass

    def started(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        for signum in self.pending:
            self.signal(signum)


def _forward_signals(child: _Child):
    """While the command runs, pass SIGTERM/SIGHUP on to it and let it handle
    SIGINT itself (the terminal sends Ctrl-C to both), so its own exit status
    is what gets reported."""
    previous = {}
    handlers = {
        signal.SIGTERM: lambda signum, _frame: child.signal(signum),
        signal.SIGHUP: lambda signum, _frame: child.signal(signum),
        signal.SIGINT: lambda *_: None,
    }
    try:
        for signum, handler in handlers.items():
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread: leave signals alone
        pass

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def fail_message(code: int, stderr_tail: Sequence[str]) -> str:
    """"exit 3: <last stderr lines>", cut from the front to the server's limit."""
    head = f"exit {code}"
    if code > 128:
        try:
            head += f" ({signal.Signals(code - 128).name})"
        except ValueError:
            pass
    text = "\n".join(line for line in stderr_tail).strip()
    if not text:
        return head
    room = MESSAGE_LIMIT - len(head) - 3
    if len(text) > room:
        text = "…" + text[-(room - 1):]
    return f"{head}: {text}"
