"""`medic job`: run a command as a run of a job, for cron users.

An HTTP client of a Medic server (``medic.cli.http_client``); it never opens the
database. The wrapped command comes first: Medic being unreachable costs a
warning on stderr, never the command's run or its exit code.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import uuid
from collections import deque
from typing import Any, Sequence
from urllib.parse import quote

import click

from medic.cli.http_client import Unsent, client, connection_options, post

STDERR_TAIL_LINES = 20
MESSAGE_LIMIT = 2000  # what the server accepts as a fail reason


@click.command("job", context_settings={"allow_interspersed_args": False})
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@connection_options
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
    with client(url, api_key, timeout) as session:
        started = _signal(session, name, "start", {"run_id": run_id}, retries)
        code, stderr_tail = _run(command)
        # Without a recorded start the run_id is unknown to Medic: closing
        # without it still records the outcome (as a run with no start).
        body: dict[str, Any] = {"run_id": run_id} if started else {}
        if code == 0:
            _signal(session, name, "complete", body, retries)
        else:
            _signal(session, name, "fail", {**body, "message": fail_message(code, stderr_tail)}, retries)
    sys.exit(code)


def _signal(session, name: str, action: str, body: dict[str, Any], retries: int) -> bool:
    try:
        post(session, f"/v2/heartbeat/{quote(name, safe='')}/{action}", body, retries)
    except Unsent as exc:
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
        pump = _start_pump(proc.stderr, tail)
        child.started(proc)
        code = proc.wait()
    finally:
        restore()
    pump.join(timeout=5)
    # A command killed by signal N exits 128 + N, as a shell reports it.
    return (128 - code if code < 0 else code), list(tail)


FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def _start_pump(stream, tail: deque) -> threading.Thread:
    """The thread copying the command's stderr, with the forwarded signals blocked in
    it: the kernel hands a process signal to any thread that does not block it, and one
    landing here would leave the main thread asleep in wait() with the handler never
    run, so a SIGTERM would not reach the command. A thread inherits the mask of the
    thread that starts it."""
    pump = threading.Thread(target=_pump_stderr, args=(stream, tail), daemon=True)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        pump.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return pump


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
