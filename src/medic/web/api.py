"""Declaring an operation once: its route, its validation and its OpenAPI entry.

``@operation(...)`` registers a view on a blueprint, parses and validates the
query string and JSON body with the given pydantic models (passing them to the
view as ``query=`` and ``body=``), and records what /openapi.json documents.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from medic.auth.scopes import OPEN, route_scope
from medic.web.envelope import ApiError


@dataclass(frozen=True)
class Operation:
    rule: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    result: type[BaseModel] | None = None
    result_is_list: bool = False
    statuses: tuple[int, ...] = (200,)
    errors: tuple[int, ...] = ()
    path_params: tuple[str, ...] = ()
    raw: bool = False  # replies outside the envelope (metrics, docs, 204s)
    description: str = ""
    # API-key scope a caller needs: "heartbeat", "read", "write", "admin" or "open" (no key).
    # Left out, it is derived from the method (GET read, else write): never open by accident.
    scope: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", route_scope(self.scope, self.method))

    @property
    def security(self) -> tuple[str, ...]:
        return () if self.scope == OPEN else (self.scope,)


OPERATIONS: list[Operation] = []


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in err["loc"]) or "body"
        problems.append({"field": name, "problem": err["msg"]})
    return problems


def validation_error(exc: ValidationError, where: str) -> ApiError:
    problems = _problems(exc)
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    return ApiError(400, f"invalid {where}: {summary}", problems)


def request_body() -> bytes:
    """The whole body; over MAX_CONTENT_LENGTH, a 413 (the envelope's "too large")."""
    raw = request.get_data(cache=True)
    # A chunked body has no Content-Length to refuse up front, and werkzeug stops
    # reading it at the limit without a word: look one byte past what it read.
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(raw) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return raw


def parse_body(model: type[BaseModel]) -> BaseModel:
    return decode_body(request_body(), request.mimetype, model)


def decode_body(raw: bytes, mimetype: str, model: type[BaseModel]) -> BaseModel:
    """A JSON object body validated by `model`; ApiError(400) naming what is wrong,
    415 for a body that is not declared JSON (a browser sends text/plain and forms
    to other sites without asking: declaring JSON makes it ask first)."""
    if not raw.strip():
        raise ApiError(400, "request body is empty: expected a JSON object")
    if not is_json_mimetype(mimetype):
        shown = mimetype or "none"
        raise ApiError(415, f"request body must be sent with Content-Type: application/json (got {shown})")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "request body is not valid JSON") from None
    except RecursionError:
        raise ApiError(400, "request body nests too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


def is_json_mimetype(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def parse_query(model: type[BaseModel]) -> BaseModel:
    values: dict[str, Any] = {}
    for key in request.args:
        items = request.args.getlist(key)
        if len(items) > 1:
            raise ApiError(400, f"invalid query: {key}: given more than once")
        values[key] = items[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc, "query") from None


def check_path_param(name: str, value: Any) -> None:
    """Path segments get the limits /openapi.json documents for them (1-255 printable characters)."""
    if isinstance(value, str) and (len(value) > 255 or any(ord(c) < 32 or ord(c) == 127 for c in value)):
        raise ApiError(400, f"invalid path: {name}: must be 1 to 255 characters without control characters")


def operation(blueprint: Blueprint, rule: str, method: str, **spec: Any) -> Callable:
    op = Operation(rule=rule, method=method.upper(), **spec)
    OPERATIONS.append(op)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**kwargs: Any):
            for name in op.path_params:
                check_path_param(name, kwargs.get(name))
            if op.query is not None:
                kwargs["query"] = parse_query(op.query)
            if op.body is not None:
                kwargs["body"] = parse_body(op.body)
            return view(**kwargs)

        wrapper.operation = op  # read by the auth layer
        blueprint.add_url_rule(rule, view_func=wrapper, methods=[op.method])
        return wrapper

    return decorator
