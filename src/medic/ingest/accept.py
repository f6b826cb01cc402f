"""What both front doors call: accept one heartbeat, store it, say how to answer it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from medic.clock import Clock
from medic.ingest.arrivals import Arrivals
from medic.ingest.protocol import BeatStore
from medic.ingest.writer import GroupCommitWriter
from medic.store.heartbeats import INACTIVE, UNKNOWN, Beat, Stored

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass(frozen=True)
class Outcome:
    """The reply's status code and message; on 201, the stored heartbeat."""

    status: int
    message: str
    stored: Stored | None = None


class HeartbeatCounter(Protocol):
    def heartbeat_received(self, status: str) -> None: ...


class Ingest:
    """Heartbeat ingest as the front doors see it.

    ``accept`` stores one heartbeat through the ``BeatStore`` and returns only once it is
    committed. Database errors propagate: each front door answers them (503 when the
    database is unavailable). A front door that can see a heartbeat request before it
    is accepted enters ``arrivals`` for as long as the request is in the app.
    """

    def __init__(self, beats: BeatStore, *, metrics: HeartbeatCounter | None = None, arrivals: Arrivals | None = None):
        self.beats = beats
        self.metrics = metrics
        self.arrivals = arrivals if arrivals is not None else Arrivals()

    @classmethod
    def group_commit(cls, engine: "Engine", clock: Clock, *, metrics: HeartbeatCounter | None = None) -> "Ingest":
        """What the app uses: one group-commit writer per process (medic.ingest.writer)."""
        arrivals = Arrivals()
        return cls(GroupCommitWriter(engine, clock, arrivals=arrivals), metrics=metrics, arrivals=arrivals)

    def accept(self, heartbeat_name: str, status: str) -> Outcome:
        result = self.beats.submit(Beat(heartbeat_name, status))
        if result == UNKNOWN:
            return Outcome(404, f"heartbeat_name: no service is registered as '{heartbeat_name}'")
        if result == INACTIVE:
            return Outcome(400, f"heartbeat_name: the service '{heartbeat_name}' is inactive")
        if self.metrics is not None:
            self.metrics.heartbeat_received(result.status)
        return Outcome(201, "heartbeat stored", result)

    def close(self) -> None:
        """Store whatever was already submitted, then stop (on shutdown)."""
        self.beats.close()
