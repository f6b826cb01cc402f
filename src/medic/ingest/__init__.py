"""Heartbeat ingest: from an accepted heartbeat to its committed row.

Both front doors, the plain-WSGI fast path (medic.web.fast_heartbeat) and the Flask
route (medic.web.routes.heartbeats), parse, authenticate and rate-limit the request,
then call ``Ingest.accept``; nothing here knows HTTP frameworks (a test holds this
package free of Flask).

- ``accept``: ``Ingest`` and its ``Outcome`` (status code, message, stored row).
- ``protocol``: ``BeatStore``, something that stores beats.
- ``writer``: ``GroupCommitWriter``, the ``BeatStore`` the app uses.
- ``arrivals``: how many heartbeat requests are in the app, which the writer reads.
- ``transactions``: the one home of the heartbeat transactions and their retries.
"""

from medic.ingest.accept import Ingest, Outcome
from medic.ingest.arrivals import Arrivals
from medic.ingest.protocol import BeatStore
from medic.ingest.writer import GroupCommitWriter
from medic.store.heartbeats import INACTIVE, UNKNOWN, Beat, Stored

__all__ = ["Arrivals", "Beat", "BeatStore", "GroupCommitWriter", "INACTIVE", "Ingest", "Outcome", "Stored", "UNKNOWN"]
