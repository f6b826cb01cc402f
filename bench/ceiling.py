"""Reference ceilings for the machine: what gunicorn and Flask cost before any database work.

    gunicorn -k gthread -w 4 --threads 16 bench.ceiling:flask_app   # Flask POST, JSON in and out, no database
    gunicorn -k gthread -w 4 --threads 16 bench.ceiling:wsgi_app    # raw WSGI, fixed 201 reply
"""

from __future__ import annotations

import json

from flask import Flask, jsonify, request

flask_app = Flask("ceiling")


@flask_app.post("/heartbeat")
def heartbeat():
    body = request.get_json()
    return jsonify({"success": True, "results": {"heartbeat_name": body["heartbeat_name"]}}), 201


_REPLY = json.dumps({"success": True, "results": None}).encode()


def wsgi_app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(_REPLY)))])
    return [_REPLY]


def medic_without_database():
    """Medic's real app (hooks, validation, logging, metrics) with ingest answering from memory:
    the most `medic serve` could do if storing a heartbeat were free.

        MEDIC_DATABASE_URL=... gunicorn -k gthread -w 4 --threads 16 'bench.ceiling:medic_without_database()'
    """
    import itertools

    from medic.clock import utcnow
    from medic.ingest import Stored

    ids = itertools.count(1)

    class MemoryBeats:  # a medic.ingest.BeatStore
        def submit(self, beat):
            return Stored(next(ids), 1, beat.heartbeat_name, "svc", "site-reliability", "p3", utcnow(), beat.status)

        def close(self):
            pass

    return medic_app(beats=MemoryBeats())


def medic_app(**options):
    """Medic's app as `medic serve` builds it, for gunicorn worker classes `medic serve` does not offer.

        MEDIC_DATABASE_URL=... gunicorn -k gevent -w 2 'bench.ceiling:medic_app()'
    """
    import os
    import tempfile

    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="medic-metrics-"))
    from medic.config import load_settings
    from medic.logs import configure
    from medic.web import create_app

    settings = load_settings()
    configure(settings.log_level, settings.log_format)
    return create_app(settings, **options)
