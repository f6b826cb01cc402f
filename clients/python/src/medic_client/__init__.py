"""Client for Medic, the heartbeat monitoring service.

>>> from medic_client import Client
>>> medic = Client("http://medic.internal:5000")
>>> medic.heartbeat("billing-hb")
"""

import logging

from .client import DEFAULT_BASE_URL, Client, Job, MedicError, SendHeartbeat, __version__

__all__ = ["Client", "Job", "MedicError", "SendHeartbeat", "DEFAULT_BASE_URL", "__version__"]

# Libraries leave logging configuration to the application.
logging.getLogger("medic_client").addHandler(logging.NullHandler())
