"""/openapi.json, generated from the same pydantic models that validate requests."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from medic import __version__
from medic.web.api import OPERATIONS, Operation

REF = "#/components/schemas/{model}"

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Invalid request: the message names the problem",
    401: "Missing or invalid API key",
    403: "API key lacks the required scope, or a browser write from another site",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Body not sent as Content-Type: application/json",
    429: "Rate limited; see Retry-After",
    500: "Internal error",
    503: "Database unavailable",
}


def _envelope(results: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "message", "results"],
        "properties": {
            "success": {"type": "boolean"},
            "message": {"type": "string"},
            "results": results,
        },
    }


def _collect(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"summary": op.summary, "tags": [op.tag], "operationId": f"{op.method.lower()}_{_slug(op.rule)}"}
    if op.description:
        entry["description"] = op.description
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^\x00-\x1f\x7f]+$"}}
        for name in op.path_params
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if parameters:
        entry["parameters"] = parameters
    if op.body is not None:
        entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": _collect(op.body, schemas)}}}
    responses: dict[str, Any] = {}
    for status in op.statuses:
        if op.raw or status == 204:
            responses[str(status)] = {"description": _STATUS_TEXT.get(status, "OK"), **op.extra.get("content", {})}
            continue
        if op.result is None:
            results: dict[str, Any] = {}
        elif op.result_is_list:
            results = {"type": "array", "items": _collect(op.result, schemas)}
        else:
            results = _collect(op.result, schemas)
        responses[str(status)] = {
            "description": _STATUS_TEXT.get(status, "OK"),
            "content": {"application/json": {"schema": _envelope(results)}},
        }
    guarded = (401, 403, 429) if op.security else ()  # API key checks and rate limits
    bad_path = (400,) if op.path_params else ()  # path segment limits, see api.check_path_param
    json_body = (415,) if op.body is not None else ()  # see api.decode_body
    cross_site = (403,) if op.method not in ("GET", "HEAD", "OPTIONS") else ()  # see web/origins.py
    for status in sorted({*op.errors, *guarded, *bad_path, *json_body, *cross_site, 500}):
        responses[str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
        }
    entry["responses"] = responses
    if op.security is not None:
        entry["security"] = [{"bearerAuth": list(op.security)}, {"apiKeyHeader": list(op.security)}] if op.security else []
    return entry


def _slug(rule: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", rule.lower()).strip("_") or "root"


def build_spec(operations: list[Operation] | None = None) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": _envelope({})}
    paths: dict[str, Any] = {}
    for op in operations if operations is not None else OPERATIONS:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", op.rule)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Medic",
            "version": __version__,
            "description": "Heartbeat monitoring. Every JSON reply is {success, message, results}.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
