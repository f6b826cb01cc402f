"""Key material and scope rules, without a server."""

from __future__ import annotations

import pytest

import medic.web.app  # noqa: F401  (registers every route)
from medic.auth import keys, scopes
from medic.web.api import OPERATIONS, Operation


def test_generated_key_has_a_visible_prefix_and_parses_back():
    new = keys.generate()
    assert new.key.startswith(f"medic_{new.public_id}_")
    public_id, secret = keys.parse(new.key)
    assert public_id == new.public_id
    assert len(secret) >= 43  # 32 random bytes
    assert keys.verify(secret, new.secret_hash)
    assert secret not in new.secret_hash and new.secret_hash != secret
    assert new.key not in repr(new)


def test_keys_are_unique():
    assert len({keys.generate().key for _ in range(200)}) == 200


@pytest.mark.parametrize(
    "candidate",
    ["", "medic_", "medic_abc_def", "Bearer medic_0123456789ab_" + "x" * 43, "medic_0123456789ab_" + "x" * 300, "x" * 10_000],
)
def test_malformed_keys_do_not_parse(candidate):
    assert keys.parse(candidate) is None


def test_wrong_secret_does_not_verify():
    new = keys.generate()
    public_id, secret = keys.parse(new.key)
    assert not keys.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B"), new.secret_hash)


def test_scope_implications():
    assert scopes.effective(["heartbeat"]) == {"heartbeat"}
    assert scopes.effective(["read"]) == {"read"}
    assert scopes.effective(["write"]) == {"write", "read", "heartbeat"}
    assert scopes.effective(["admin"]) == {"admin", "write", "read", "heartbeat"}
    assert not scopes.grants(["write"], "admin")
    assert not scopes.grants(["read"], "heartbeat")
    assert scopes.grants([], "open")


def test_scope_parsing_names_the_bad_scope():
    assert scopes.parse("read,heartbeat") == ("heartbeat", "read")
    assert scopes.parse(["write", "read write"]) == ("read", "write")
    with pytest.raises(ValueError, match="'reed'"):
        scopes.parse("reed")
    with pytest.raises(ValueError, match="at least one"):
        scopes.parse(" , ")


def test_undeclared_scope_is_derived_from_the_method():
    assert Operation(rule="/x", method="GET", summary="", tag="").scope == "read"
    assert Operation(rule="/x", method="POST", summary="", tag="").scope == "write"
    assert Operation(rule="/x", method="DELETE", summary="", tag="").scope == "write"
    assert Operation(rule="/x", method="POST", summary="", tag="", scope="heartbeat").scope == "heartbeat"
    with pytest.raises(ValueError, match="unknown scope"):
        Operation(rule="/x", method="GET", summary="", tag="", scope="public")


def test_only_health_metrics_docs_and_the_network_check_are_open():
    open_routes = {(op.method, op.rule) for op in OPERATIONS if op.scope == "open"}
    assert open_routes == {
        ("GET", "/health"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/v1/healthcheck/network"),
    }
