"""Rate limits (Flask-Limiter): one budget for heartbeats, one for everything else.

Counted per API key, or per client address for anonymous and refused callers. Open
routes (health, metrics, docs) are never limited: probes and scrapers must not be
starved by a busy client. Counters live in Redis when REDIS_URL is set (shared by all
processes and replicas), else in process memory. If Redis fails, the limiter falls
back to memory and requests carry on: losing heartbeats would be worse than a looser
limit for a while.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, Response, g, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from limits import RateLimitItem, parse_many

from medic.auth.scopes import HEARTBEAT, OPEN
from medic.config import Settings
from medic.web.auth import current_operation
from medic.web.envelope import reply

HEARTBEATS = "heartbeat"
API = "api"
KEY_PREFIX = "medic"

log = logging.getLogger("medic.ratelimit")


def caller() -> str:
    principal = g.get("principal")
    key = principal.rate_key if principal is not None else None
    return key or f"addr:{request.remote_addr or 'unknown'}"


def group() -> str | None:
    op = current_operation()
    if op is None or op.scope == OPEN:
        return None
    return HEARTBEATS if op.scope == HEARTBEAT else API


def install(app: Flask, settings: Settings) -> Limiter | None:
    if not settings.rate_limit_enabled:
        return None
    storage_options = {"socket_connect_timeout": 1, "socket_timeout": 1} if settings.redis_url else {}
    limiter = Limiter(
        caller,
        application_limits=[
            ApplicationLimit(settings.rate_limit_heartbeat, scope=HEARTBEATS, exempt_when=lambda: group() != HEARTBEATS),
            ApplicationLimit(settings.rate_limit_api, scope=API, exempt_when=lambda: group() != API),
        ],
        storage_uri=settings.redis_url or "memory://",
        storage_options=storage_options,
        strategy="fixed-window",
        headers_enabled=True,
        retry_after="delta-seconds",
        key_prefix=KEY_PREFIX,
        swallow_errors=True,
        in_memory_fallback_enabled=bool(settings.redis_url),
    )
    limiter.request_filter(lambda: group() is None)

    # Flask-Limiter writes Retry-After on every response it counts; keep it to 429s so
    # a 503's own short Retry-After is not stretched to the end of a rate-limit window.
    @app.after_request
    def _restore_retry_after(response: Response) -> Response:
        if response.status_code != 429 and "medic_retry_after" in g:
            if g.medic_retry_after is None:
                response.headers.pop("Retry-After", None)
            else:
                response.headers["Retry-After"] = g.medic_retry_after
        return response

    limiter.init_app(app)

    @app.after_request
    def _remember_retry_after(response: Response) -> Response:  # runs before the limiter's hook
        g.medic_retry_after = response.headers.get("Retry-After")
        return response

    app.register_error_handler(RateLimitExceeded, _too_many_requests)
    app.extensions["medic_limiter"] = limiter
    return limiter


def _too_many_requests(exc: RateLimitExceeded) -> Response:
    who = "API key" if (g.get("principal") and g.principal.rate_key) else "client address"
    bucket = "heartbeat" if exc.limit.scope == HEARTBEATS else "API"
    message = f"rate limit exceeded: at most {exc.limit.limit} {bucket} requests per {who}; retry after Retry-After seconds"
    return reply(None, message, 429)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: tuple[tuple[str, str], ...]  # the X-RateLimit-* headers Flask-Limiter would add


class HeartbeatBudget:
    """The heartbeat limit, counted outside a Flask request (for ``medic.web.fast_heartbeat``).

    It hits the very counters Flask-Limiter keeps for the heartbeat group (same
    storage, same key), so a caller has one budget whichever path serves it.
    """

    def __init__(self, limiter: Limiter, item: RateLimitItem):
        self.limiter = limiter
        self.item = item

    def hit(self, caller_key: str) -> Verdict | None:
        """Count one heartbeat; None if the counters cannot be reached (the caller falls back to Flask)."""
        strategy = self.limiter.limiter
        keys = (KEY_PREFIX, caller_key, HEARTBEATS)
        try:
            allowed = strategy.hit(self.item, *keys)
            reset_at, remaining = strategy.get_window_stats(self.item, *keys)
        except Exception as exc:  # Flask-Limiter's own path knows how to fall back
            log.warning("rate limit storage failed on the heartbeat path: %s", type(exc).__name__)
            return None
        headers = (
            ("X-RateLimit-Limit", str(self.item.amount)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", str(int(reset_at + 1))),
        )
        return Verdict(allowed, headers)


def heartbeat_budget(app: Flask, settings: Settings) -> HeartbeatBudget | None | bool:
    """The budget for the heartbeat fast path: None when nothing limits heartbeats, False
    when it cannot count them itself (several limits, e.g. `10/second;5000/hour`, whose
    window and header choice stay Flask-Limiter's), so POST /heartbeat stays on Flask."""
    limiter = app.extensions.get("medic_limiter")
    if limiter is None or not limiter.enabled:
        return None
    items = parse_many(settings.rate_limit_heartbeat)
    return HeartbeatBudget(limiter, items[0]) if len(items) == 1 else False
