"""HTTP API: ``create_app(settings)`` is the only way to build the Flask app."""

from medic.web.app import create_app

__all__ = ["create_app"]
