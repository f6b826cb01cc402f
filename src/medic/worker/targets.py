"""Channels of route targets, built on first use from the target's stored fields.

Targets never change once stored (store/routes.py), so a channel built for one is
kept for the worker's life. A target that cannot be used (its secret does not
decrypt, an environment variable it names is unset, the deployment lacks SMTP) is
a retry with that reason recorded: fixing the configuration delivers it.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from medic.config import Settings
from medic.core.model import DeliveryOutcome
from medic.notify import Channel, DeliveryResult, close_channels
from medic.notify.targets import TargetUnusable, build_target_channel
from medic.secretbox import SecretBox, SecretUnreadable
from medic.store import routes as store

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.dispatch")


class TargetChannels:
    def __init__(self, engine: "Engine", settings: Settings, box: SecretBox | None = None) -> None:
        self.engine = engine
        self.settings = settings
        key = settings.secret_key.get_secret_value() if settings.secret_key else None
        self.box = box or SecretBox(key or None)
        self._built: dict[int, Channel] = {}
        self._lock = threading.Lock()

    def get(self, target_id: int) -> Channel | DeliveryResult:
        """The target's channel, or the DeliveryResult to record when it has none."""
        with self._lock:
            channel = self._built.get(target_id)
        if channel is not None:
            return channel
        with self.engine.connect() as conn:
            row = store.target_row(conn, target_id)
        if row is None:
            return DeliveryResult(DeliveryOutcome.PERMANENT, error=f"route target {target_id} does not exist")
        try:
            channel = build_target_channel(row.type, store.target_fields(row, self.box), self.settings)
        except (SecretUnreadable, TargetUnusable) as exc:
            return DeliveryResult(DeliveryOutcome.RETRY, error=f"route target {target_id}: {exc}")
        except ValueError as exc:  # a field the channel refuses (e.g. a malformed whsec_ secret)
            return DeliveryResult(DeliveryOutcome.PERMANENT, error=f"route target {target_id}: {type(exc).__name__}")
        with self._lock:
            channel = self._built.setdefault(target_id, channel)
        return channel

    def close(self) -> None:
        with self._lock:
            built, self._built = self._built, {}
        close_channels(built)
