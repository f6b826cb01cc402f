"""`medic run` keeps its threads on one CPU (docs/performance.md): spread over two, they
hand the GIL between cores and SQLite ingest collapsed as connections grew."""

from __future__ import annotations

import os

import pytest

from tests.ops.conftest import medic_env, running

CPUS = os.sched_getaffinity(0)


def _threads_cpus(pid: int) -> set[frozenset[int]]:
    return {frozenset(os.sched_getaffinity(int(tid))) for tid in os.listdir(f"/proc/{pid}/task")}


@pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs to choose from")
def test_run_keeps_every_thread_on_one_cpu(tmp_path, port):
    env = medic_env(tmp_path, PORT=str(port))
    with running("run", env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=tmp_path / "run.log") as proc:
        [cpus] = _threads_cpus(proc.pid)  # the worker, the writer and waitress's threads alike
        assert len(cpus) == 1 and cpus <= CPUS


@pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs to choose from")
def test_run_can_be_left_on_every_cpu(tmp_path, port):
    env = medic_env(tmp_path, PORT=str(port), MEDIC_RUN_ONE_CPU="false")
    with running("run", env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=tmp_path / "run.log") as proc:
        assert _threads_cpus(proc.pid) == {frozenset(CPUS)}
