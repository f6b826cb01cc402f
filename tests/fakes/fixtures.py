"""Pytest fixtures for the stand-in providers.

Load from the root conftest with `pytest_plugins = ["tests.fakes.fixtures"]`, or
import the fixtures into a conftest (`from tests.fakes.fixtures import pagerduty`).
Each fixture is a fresh, started server for one test, stopped afterwards.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.fakes.providers import FakeProvider, fake_pagerduty, fake_slack, fake_webhook


@pytest.fixture
def pagerduty() -> Iterator[FakeProvider]:
    with fake_pagerduty() as provider:
        yield provider


@pytest.fixture
def slack() -> Iterator[FakeProvider]:
    with fake_slack() as provider:
        yield provider


@pytest.fixture
def webhook() -> Iterator[FakeProvider]:
    with fake_webhook() as provider:
        yield provider
