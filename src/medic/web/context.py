"""What views need from the running app: settings, the engine, the clock and the
long-lived parts built on them. Built once, complete, by ``create_app``; never changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app

from medic.clock import Clock
from medic.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from medic.auth.authenticator import Authenticator
    from medic.ingest import Ingest
    from medic.logs import RepeatedFailure
    from medic.metrics import ProcessMetrics, StoreCollector
    from medic.store.replica import ReadRouter
    from medic.store.write_health import WriteWatch
    from medic.web.mark import WebMark


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: "Engine"
    clock: Clock
    metrics: "ProcessMetrics"
    store_collector: "StoreCollector"
    ingest: "Ingest"
    authenticator: "Authenticator"
    write_watch: "WriteWatch"
    reads: "ReadRouter"  # the read-only routes' connections: a replica when configured and fresh
    web_mark: "WebMark"  # this process's part of the web mark, written while gap detection is on
    # "database unavailable" lines: one when it starts, then one every 10 s while it lasts.
    database_failures: "RepeatedFailure"

    def now(self) -> datetime:
        return self.clock()


def runtime() -> Runtime:
    return current_app.extensions["medic"]
