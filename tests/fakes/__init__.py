"""Test doubles shared by the test suites (stand-in providers on 127.0.0.1)."""

from tests.fakes.providers import (
    FakeProvider,
    Headers,
    Recorded,
    Response,
    fake_pagerduty,
    fake_slack,
    fake_webhook,
    provider_env,
)

__all__ = [
    "FakeProvider",
    "Headers",
    "Recorded",
    "Response",
    "fake_pagerduty",
    "fake_slack",
    "fake_webhook",
    "provider_env",
]
