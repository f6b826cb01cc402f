"""What views need from the running app: settings, the engine, the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from typing import TYPE_CHECKING

from flask import current_app

from medic.clock import Clock
from medic.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from medic.ingest import Ingest
    from medic.metrics import ProcessMetrics, StoreCollector
    from medic.store.write_health import WriteWatch
    from medic.web.auth import Authenticator


@dataclass
class Runtime:
    settings: Settings
    engine: "Engine"
    clock: Clock
    metrics: "ProcessMetrics" = None
    store_collector: "StoreCollector" = None
    ingest: "Ingest" = None
    authenticator: "Authenticator" = None
    write_watch: "WriteWatch" = None

    def now(self) -> datetime:
        return self.clock()


def runtime() -> Runtime:
    return current_app.extensions["medic"]
