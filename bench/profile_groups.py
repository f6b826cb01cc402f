"""Group a py-spy folded profile (bench/profile.py --gil) into where a heartbeat's CPU goes.

Each sample goes to the innermost frame that belongs to a group; the rest is
Flask/Werkzeug/gunicorn plumbing. Usage: python -m bench.profile_groups /tmp/medic-profile.folded
"""

from __future__ import annotations

import collections
import sys

GROUPS = (
    ("heartbeat writer: write_autocommit(), psycopg, SQLAlchemy", ("GroupCommitWriter._run", "GroupCommitIngest._run")),
    ("access log line (logging, JSON formatter, write)", ("logging/__init__.py", "pythonjsonlogger", "medic/web/access.py")),
    ("Prometheus metrics", ("prometheus_client",)),
    ("auth and rate-limit hooks", ("medic/web/auth.py", "medic/auth/authenticator.py", "medic/web/ratelimit.py", "flask_limiter")),
    ("body parsing and validation (pydantic)", ("decode_body", "pydantic", "json/decoder.py")),
    ("reply envelope (heartbeat_out, JSON)", ("reply (medic/web/envelope.py", "heartbeat_out", "jsonify", "json/encoder.py")),
    ("waiting for the writer (queue, event)", ("GroupCommitWriter.submit", "GroupCommitIngest.submit")),
    ("request id, timers (uuid4, before_request)", ("uuid", "_start_timer")),
    ("POST /heartbeat fast path (medic/web/fast_heartbeat.py itself)", ("FastHeartbeat",)),
    ("Flask/Werkzeug request handling", ("flask/", "werkzeug/")),
    ("HTTP server: gevent's WSGI server under gunicorn (sockets, parsing, replies)",
     ("gevent/pywsgi", "gevent/_socket", "email/", "http/client", "gunicorn/")),
    ("gevent hub and greenlet switches", ("gevent/",)),
)


def group(path: str) -> list[tuple[str, float]]:
    counts: collections.Counter = collections.Counter()
    total = 0
    for line in open(path):
        stack, _, n = line.rstrip().rpartition(" ")
        total += int(n)
        for frame in reversed(stack.split(";")):
            name = next((g for g, keys in GROUPS if any(k in frame for k in keys)), None)
            if name:
                counts[name] += int(n)
                break
        else:
            counts["other (interpreter, threads)"] += int(n)
    return [(name, 100 * n / total) for name, n in counts.most_common()]


if __name__ == "__main__":
    for name, share in group(sys.argv[1] if len(sys.argv) > 1 else "/tmp/medic-profile.folded"):
        print(f"{share:5.1f}%  {name}")
