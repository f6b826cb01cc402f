"""What the figures were measured on: machine, versions, load."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import time
from importlib import metadata

from bench import common


def _run(*argv: str) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, cwd=common.ROOT)
        return (out.stdout or out.stderr).strip()
    except OSError:
        return "unavailable"


def describe() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem_kib = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    packages = ("Flask", "gunicorn", "SQLAlchemy", "psycopg", "psycopg-pool", "pydantic", "werkzeug", "prometheus-client")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": common.pg_scalar(common.PG_ADMIN, "SHOW server_version"),
        "postgresql_settings": {
            name: common.pg_scalar(common.PG_ADMIN, f"SHOW {name}")
            for name in ("shared_buffers", "max_connections", "synchronous_commit", "fsync", "commit_delay")
        },
        "wrk": _run("wrk", "--version").splitlines()[0] if _run("wrk", "--version") else "?",
        "packages": {name: metadata.version(name) for name in packages},
        "medic_commit": _run("git", "rev-parse", "--short", "HEAD"),
        "medic_tree_dirty": bool(_run("git", "status", "--porcelain", "--", "src")),
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "web": {"WEB_WORKER_CLASS": common.WEB_WORKER_CLASS, "WEB_CONCURRENCY": common.WEB_CONCURRENCY,
                "WEB_CONNECTIONS": common.WEB_CONNECTIONS, "WEB_THREADS": common.WEB_THREADS},
    }
