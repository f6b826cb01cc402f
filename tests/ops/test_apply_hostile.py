"""`medic apply -f` on hostile files: a clear one-line problem and exit 1, no traceback,
in bounded time and memory (the file is parsed on the operator's machine, before any
request is sent)."""

from __future__ import annotations

import resource
import subprocess

import pytest

from tests.ops.conftest import MEDIC, medic_env

MEMORY_LIMIT = 1 << 30  # a YAML alias bomb that is expanded takes gigabytes


def apply(path, env) -> subprocess.CompletedProcess:
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [*MEDIC, "apply", "-f", str(path), "--url", "http://127.0.0.1:9"],
        env=env, capture_output=True, text=True, timeout=60, preexec_fn=limit,
    )


def alias_bomb(levels: int = 12) -> bytes:
    """'billion laughs': each anchor is a list of nine aliases of the previous one."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    lines.append(f"services: *l{levels - 1}")
    return ("\n".join(lines) + "\n").encode()


HOSTILE = {
    "alias-bomb": alias_bomb(),
    "deep-flow": b"services: " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
    "deep-block": b"services:\n" + b"".join(b"  " * i + b"- \n" for i in range(3_000)),
    "invalid-utf8": b"services:\n  - heartbeat_name: \xff\xfe\x80abc\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_one_clear_line_and_exit_1(tmp_path, name):
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(HOSTILE[name])
    result = apply(path, medic_env(tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Error" in result.stderr, result.stderr[-2000:]
    assert f"{name}.yaml" in result.stderr  # names the file
    assert len(result.stderr.splitlines()) <= 3, result.stderr[-2000:]


@pytest.mark.parametrize("name", ["alias-bomb", "deep-flow", "deep-block"])
def test_import_cronjob_of_a_hostile_manifest_is_one_clear_line_and_exit_1(tmp_path, name):
    """`medic import cronjob` reads multi-document YAML too."""
    path = tmp_path / f"{name}.yaml"
    manifest = HOSTILE[name].replace(b"services:", b"kind: List\nitems:")
    if name == "alias-bomb":  # the CronJob's command is the expanded list
        manifest = HOSTILE[name].replace(
            b"services: *l11",
            b"kind: CronJob\nmetadata: {name: x}\nspec:\n  schedule: '* * * * *'\n"
            b"  jobTemplate: {spec: {template: {spec: {containers: [{name: a, command: *l11}]}}}}",
        )
    path.write_bytes(manifest)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    result = subprocess.run(
        [*MEDIC, "import", "cronjob", str(path), "--dry-run", "--url", "http://127.0.0.1:9"],
        env=medic_env(tmp_path), capture_output=True, text=True, timeout=60, preexec_fn=limit,
    )
    assert result.returncode != 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and f"{name}.yaml" in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.splitlines()) <= 3, result.stderr[-2000:]


def test_import_healthchecks_of_deeply_nested_json_is_one_clear_line(tmp_path):
    """The listing may come from a remote Healthchecks (`--from URL`) as well as a file."""
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    result = subprocess.run(
        [*MEDIC, "import", "healthchecks", str(path), "--dry-run", "--url", "http://127.0.0.1:9"],
        env=medic_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "deep.json" in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.splitlines()) <= 3, result.stderr[-2000:]
