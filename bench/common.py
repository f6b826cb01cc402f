"""Shared benchmark plumbing: databases, server processes, wrk, result files."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS_DIR = BENCH / "results"
LOG_DIR = Path(os.environ.get("BENCH_LOG_DIR", "/tmp/medic-bench-logs"))
VENV_BIN = Path(sys.executable).parent
MEDIC = str(VENV_BIN / "medic")
GUNICORN = str(VENV_BIN / "gunicorn")
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1/postgres")
PG_BASE = PG_ADMIN.rsplit("/", 1)[0]

# `medic serve`'s defaults on PostgreSQL, stated explicitly; the baseline and the
# ceilings run under the same gunicorn settings.
WEB_CONCURRENCY = os.environ.get("BENCH_WEB_CONCURRENCY", "2")
WEB_WORKER_CLASS = os.environ.get("BENCH_WEB_WORKER_CLASS", "gevent")
WEB_CONNECTIONS = os.environ.get("BENCH_WEB_CONNECTIONS", "1000")
WEB_THREADS = os.environ.get("BENCH_WEB_THREADS", "16")
# The reference setting for the baseline (its "about 2,100 req/s here").
SYNC_WORKERS = ["--worker-class", "sync", "--workers", "4"]


def gunicorn_worker_class(name: str) -> str:
    """gunicorn's --worker-class for a WEB_WORKER_CLASS value, as `medic serve` maps it."""
    from medic.web.gevent_worker import WORKER_CLASS

    return WORKER_CLASS if name == "gevent" else name


def gunicorn_settings() -> list[str]:
    """gunicorn arguments equal to what `medic serve` configures from the WEB_* settings."""
    return ["--worker-class", gunicorn_worker_class(WEB_WORKER_CLASS), "--workers", WEB_CONCURRENCY,
            "--worker-connections", WEB_CONNECTIONS, "--threads", WEB_THREADS, "--keep-alive", "5"]


def pg_url(name: str) -> str:
    return f"{PG_BASE}/{name}"


def recreate_database(name: str) -> str:
    assert name.startswith("medic_bench"), name  # never touch anyone else's database
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def drop_database(name: str) -> None:
    assert name.startswith("medic_bench"), name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_scalar(url: str, sql: str, params=None):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def medic_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment for a Medic process under benchmark: production defaults, auth and
    rate limiting explicitly off (the load generator has no key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIC_", "PAGERDUTY_", "SLACK_"))}
    env.update(
        MEDIC_DATABASE_URL=database_url,
        HOST="127.0.0.1",
        WEB_CONCURRENCY=WEB_CONCURRENCY,
        WEB_WORKER_CLASS=WEB_WORKER_CLASS,
        WEB_CONNECTIONS=WEB_CONNECTIONS,
        WEB_THREADS=WEB_THREADS,
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        MEDIC_AUTH="disabled",
        MEDIC_ANONYMOUS_HEARTBEATS="true",
        MEDIC_RATE_LIMIT_ENABLED="false",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Server:
    """A server subprocess in its own process group, logs to LOG_DIR."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, path: str = "/", timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    self._settle(deadline)
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not listening on {self.port} after {timeout}s; see {self.log_path}")

    def _settle(self, deadline: float) -> None:
        # gunicorn listens before its workers have imported the app: wait until the
        # process tree is idle, or the first runs would share the cores with that boot.
        hz = os.sysconf("SC_CLK_TCK")
        while time.monotonic() < deadline:
            pids = _descendants(self.proc.pid)
            before = sum(t for pid in pids if (t := _cpu_ticks(pid)) is not None)
            time.sleep(0.5)
            after = sum(t for pid in pids if (t := _cpu_ticks(pid)) is not None)
            if (after - before) / hz < 0.05:
                return

    def children(self) -> list[int]:
        """Direct children (gunicorn workers) of the server process."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


@contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def start_medic_serve(database_url: str, name: str = "medic-serve", **env: str) -> Server:
    port = free_port()
    return Server(name, [MEDIC, "serve"], medic_env(database_url, PORT=str(port), **env), port)


def start_medic_run(database_url: str, name: str = "medic-run", **env: str) -> Server:
    port = free_port()
    return Server(name, [MEDIC, "run"], medic_env(database_url, PORT=str(port), **env), port)


def start_gunicorn_app(database_url: str, name: str, settings: list[str], target: str) -> Server:
    """A Medic app object under gunicorn's own command line (for layouts `medic serve` does not offer)."""
    port = free_port()
    argv = [GUNICORN, "--bind", f"127.0.0.1:{port}", *settings, "--keep-alive", "5", "--timeout", "30", target]
    return Server(name, argv, medic_env(database_url, PORT=str(port)), port)


def start_baseline(database_url: str, name: str = "baseline", settings: list[str] | None = None) -> Server:
    """The baseline under Medic's gunicorn settings, or under ``settings`` if given."""
    port = free_port()
    env = {**os.environ, "BASELINE_DATABASE_URL": database_url, "WEB_THREADS": WEB_THREADS}
    argv = [GUNICORN, "--bind", f"127.0.0.1:{port}", *(settings or gunicorn_settings()),
            "--timeout", "30", "bench.baseline:app"]
    return Server(name, argv, env, port)


WRK_LINE = re.compile(r"^BENCH_JSON (\{.*\})$", re.M)


def wrk(url: str, *, connections: int, seconds: int, services: int = 1000, threads: int = 2,
        keys_file: Path | None = None, close: bool = False) -> dict:
    """One wrk run posting heartbeats; returns the JSON summary printed by heartbeat.lua.
    ``keys_file``: API keys sent in turn; ``close``: a new connection per request."""
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(BENCH / "heartbeat.lua"), url,
    ]
    env = {**os.environ, "BENCH_SERVICES": str(services), "BENCH_CLOSE": "1" if close else "0"}
    if keys_file is not None:
        env["BENCH_KEYS_FILE"] = str(keys_file)
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    match = WRK_LINE.search(out)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    result = json.loads(match.group(1))
    result["errors"] = sum(result[k] for k in result if k.startswith("err_"))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["command"] = " ".join(argv[:-1]) + " <url>"
    return result


def save(key: str, data: dict) -> Path:
    path = RESULTS_DIR / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def load(key: str) -> dict | None:
    path = RESULTS_DIR / f"{key}.json"
    return json.loads(path.read_text()) if path.exists() else None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _cpu_ticks(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _descendants(root: int) -> set[str]:
    children: dict[str, list[str]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        ppid = stat[stat.rindex(")") + 2 :].split()[1]
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [str(root)]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


def _backends(database: str) -> set[str]:
    """PostgreSQL backend processes serving ``database`` (their titles name it)."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.add(pid)
    return found


class CpuMeter:
    """CPU seconds used by a server's process tree and by its database's backends over an interval."""

    def __init__(self, server: "Server", database: str | None):
        self.server, self.database = server, database

    def _sample(self) -> dict[str, dict[str, int]]:
        groups = {"server": _descendants(self.server.proc.pid)}
        if self.database:
            groups["postgres"] = _backends(self.database)
        return {name: {pid: t for pid in pids if (t := _cpu_ticks(pid)) is not None} for name, pids in groups.items()}

    def __enter__(self) -> "CpuMeter":
        self.before = self._sample()
        return self

    def __exit__(self, *exc) -> None:
        after = self._sample()
        hz = os.sysconf("SC_CLK_TCK")
        self.seconds = {
            name: sum(t - self.before[name].get(pid, 0) for pid, t in ticks.items()) / hz for name, ticks in after.items()
        }


def peak_rss_kib(pid: int) -> int | None:
    """VmHWM (peak resident set) of a live process, KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None
