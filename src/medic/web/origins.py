"""Refuse browser writes from other sites (docs/security.md, "Cross-site writes")."""

from __future__ import annotations

from flask import Flask, request

from medic.config import Settings
from medic.core.origin import write_allowed
from medic.web.envelope import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refusal(origin: str) -> ApiError:
    shown = origin if len(origin) <= 200 and origin.isprintable() else "(unreadable)"
    return ApiError(
        403,
        f"cross-site write refused: Origin {shown} is not this Medic; "
        "list it in MEDIC_ALLOWED_ORIGINS to allow its pages to write",
    )


def install(app: Flask, settings: Settings) -> None:
    allowed = settings.write_origins

    @app.before_request
    def _same_origin_writes() -> None:
        if request.method in SAFE_METHODS:
            return
        origin = request.headers.get("Origin")
        if not write_allowed(origin, request.host, allowed):
            raise refusal(origin or "")
