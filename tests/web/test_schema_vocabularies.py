"""The API's word lists are the core enums' (core/model.py), in /openapi.json and in validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from medic.core.jobs import RunState
from medic.core.model import Priority, ServiceState, Status
from medic.web.job_schemas import RunStateField
from medic.web.openapi import build_spec
from medic.web.schemas import HeartbeatIn, ServiceCreate, ServiceOut, one_of


def _enums(node, found: dict[str, set[tuple]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict) and "enum" in value:
                found.setdefault(key, set()).add(tuple(value["enum"]))
            _enums(value, found)
    elif isinstance(node, list):
        for value in node:
            _enums(value, found)


def test_openapi_lists_exactly_the_enum_values():
    found: dict[str, set[tuple]] = {}
    _enums(build_spec(), found)
    assert found["status"] == {tuple(Status)}
    assert found["priority"] == {tuple(Priority)}
    assert found["state"] == {tuple(ServiceState), tuple(RunState)}


def test_schemas_accept_the_enum_values_and_nothing_else():
    for status in Status:
        assert HeartbeatIn(heartbeat_name="a", status=status.value.lower()).status == status
    base = {"heartbeat_name": "a", "service_name": "s", "alert_interval": 1}
    for priority in Priority:
        assert ServiceCreate(**base, priority=priority.value.upper()).priority == priority
    with pytest.raises(ValidationError):
        ServiceCreate(**base, priority="p6")
    assert ServiceOut.model_fields["state"].annotation == one_of(ServiceState)
    assert RunStateField == one_of(RunState)
