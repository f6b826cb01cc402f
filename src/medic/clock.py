"""The one clock. Everything that compares times with "now" gets it from here,
or from a ``now``/``clock`` parameter that tests replace."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
