"""The published JSON Schema is the models' own, and the documented example is valid
against it and against the reader `medic apply` uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from medic.cli import main
from medic.declarative import loader

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "config-as-code.md"


def example() -> str:
    section = PAGE.read_text().split("## The file", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def test_docs_schema_file_is_the_command_s_output():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert (ROOT / "docs" / "medic.schema.json").read_text() == result.output, (
        "regenerate it: medic schema > docs/medic.schema.json")


def test_the_documented_example_is_valid_against_the_schema(tmp_path):
    schema = json.loads((ROOT / "docs" / "medic.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(example()))
    path = tmp_path / "medic.yaml"
    path.write_text(example())
    document = loader.load([path])
    assert [s.heartbeat_name for s in document.services] == ["billing-hb", "nightly-export"]
    assert len(document.routes) == 2 and len(document.maintenance) == 2


def test_the_schema_refuses_what_apply_refuses():
    validator = jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "medic.schema.json").read_text()))
    service = {"heartbeat_name": "a", "service_name": "a", "schedule": {"interval": 5}}
    assert validator.is_valid({"services": [service]})
    assert not validator.is_valid({"services": [{**service, "priority": "p9"}]})
    assert not validator.is_valid({"services": [{**service, "colour": "red"}]})
    secret = {"type": "pagerduty", "routing_key": "a-literal-secret"}
    assert not validator.is_valid({"routes": [{"name": "r", "targets": [secret]}]})
    assert validator.is_valid({"routes": [{"name": "r", "targets": [{**secret, "routing_key": {"env": "PD_KEY"}}]}]})


def test_a_key_given_next_to_a_yaml_merge_key_overrides_the_merged_one(tmp_path):
    """YAML merge keys: `{<<: *base, heartbeat_name: b}` takes the base and replaces its
    heartbeat_name (what a merge key is for); a key written twice is still refused."""
    path = tmp_path / "services.yaml"
    path.write_text(
        "version: 1\n"
        "services:\n"
        "  - &base {heartbeat_name: a-hb, service_name: a, team: payments, schedule: {interval: 5}}\n"
        "  - {<<: *base, heartbeat_name: b-hb, service_name: b}\n"
    )
    document = loader.load([path])
    [a, b] = sorted(document.services, key=lambda s: s.heartbeat_name)
    assert (b.heartbeat_name, b.service_name, b.team) == ("b-hb", "b", "payments")
    assert (a.heartbeat_name, a.service_name) == ("a-hb", "a")

    path.write_text("version: 1\nservices:\n  - {heartbeat_name: a-hb, heartbeat_name: b-hb, service_name: a, schedule: {interval: 5}}\n")
    with pytest.raises(loader.Invalid) as refused:
        loader.load([path])
    assert [str(p) for p in refused.value.problems] == [f"{path}:3: services.0.heartbeat_name: given twice"]
