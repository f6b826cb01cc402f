"""The app's Runtime is built once, complete, and cannot be changed afterwards."""

from __future__ import annotations

import dataclasses

import pytest

from medic.auth.authenticator import Authenticator
from medic.web.context import Runtime


def test_runtime_is_complete_and_frozen(app):
    rt = app.extensions["medic"]
    assert isinstance(rt, Runtime)
    missing = [field.name for field in dataclasses.fields(rt) if getattr(rt, field.name) is None]
    assert missing == []
    assert isinstance(rt.authenticator, Authenticator)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rt.ingest = None
