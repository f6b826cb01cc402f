"""What the front doors need from something that stores heartbeats."""

from __future__ import annotations

from typing import Protocol

from medic.store.heartbeats import Beat, Stored


class BeatStore(Protocol):
    """Stores heartbeats: the group-commit writer, or a stand-in (bench/ceiling.py)."""

    def submit(self, beat: Beat) -> Stored | str:
        """Store one heartbeat and return only once it is committed: the stored row, or
        why it was refused (``UNKNOWN``, ``INACTIVE``). Database errors are raised."""
        ...

    def close(self) -> None:
        """Store whatever was already submitted, then let go of the database."""
        ...
