"""The reply envelope ``{"success", "message", "results"}`` and the API's errors."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge


class ApiError(Exception):
    """An error reply: raising it anywhere in a view produces the JSON envelope."""

    def __init__(self, status: int, message: str, results: Any = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.results = results
        self.headers = headers or {}


# What every route answers while the database is unreachable.
UNAVAILABLE_MESSAGE = "database unavailable, try again shortly"
UNAVAILABLE_HEADERS = {"Retry-After": "5"}


def envelope(results: Any, message: str, status: int) -> dict[str, Any]:
    return {"success": 200 <= status < 300, "message": message, "results": results}


def reply(results: Any = None, message: str = "", status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(envelope(results, message, status))
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def _http_error(exc: HTTPException) -> Response:
    headers = {}
    if isinstance(exc, RequestEntityTooLarge):
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"request body too large: the limit is {limit} bytes"
    elif exc.code == 404:
        message = f"not found: no route {request.method} {request.path}"
    elif exc.code == 405:
        allowed = exc.get_response().headers.get("Allow", "")
        headers["Allow"] = allowed
        message = f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
    else:
        message = f"{exc.name}: {exc.description}" if exc.description else exc.name
    return reply(None, message, exc.code or 500, headers)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, lambda exc: reply(exc.results, exc.message, exc.status, exc.headers))
    app.register_error_handler(HTTPException, _http_error)

    def unexpected(exc: Exception) -> Response:
        # Never leak a stack trace or a database error to the client.
        app.logger.exception("unhandled error")
        return reply(None, "internal error", 500)

    app.register_error_handler(Exception, unexpected)
