"""How many heartbeat requests are inside the app right now.

A front door enters ``Arrivals`` as a heartbeat request arrives (before its body is
read and its key checked) and leaves it once the reply is made. The group-commit
writer reads the count: once every heartbeat request in the app is in its batch,
nobody is coming to keep the batch company and lingering would be idle time.
"""

from __future__ import annotations

import threading


class Arrivals:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def __enter__(self) -> "Arrivals":
        with self._lock:
            self._count += 1
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self._count -= 1

    @property
    def count(self) -> int:
        return self._count
