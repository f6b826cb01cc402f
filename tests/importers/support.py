"""Helpers of the importer tests: run `medic import` against the live test server."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from medic.cli import main

DATA = Path(__file__).parent / "data"


def medic_import(server, *args):
    result = CliRunner().invoke(main, ["import", *args, "--url", server.url], catch_exceptions=False)
    return result.exit_code, result.output


def services(api):
    return {s["heartbeat_name"]: s for s in api.get("/service").json()["results"]}
