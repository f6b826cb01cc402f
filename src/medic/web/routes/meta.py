"""/metrics, /openapi.json and /docs."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template_string

from medic import metrics
from medic.web.api import operation
from medic.web.context import runtime
from medic.web.openapi import build_spec

bp = Blueprint("meta", __name__)


@operation(bp, "/metrics", "GET", summary="Prometheus metrics", tag="meta", raw=True, scope="open",
           extra={"content": {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def prometheus_metrics():
    return Response(metrics.render(runtime().store_collector), mimetype=None, content_type=metrics.CONTENT_TYPE)


@operation(bp, "/openapi.json", "GET", summary="This API's OpenAPI document", tag="meta", raw=True, scope="open",
           extra={"content": {"content": {"application/json": {"schema": {"type": "object"}}}}})
def openapi():
    return jsonify(build_spec())


# Swagger UI (vendored from npm, served from the dashboard's static folder; nothing
# from another host) over /openapi.json; without JavaScript, the same operations as
# plain HTML inside <noscript>.
DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Medic API</title>
<link rel="stylesheet" href="{{ url_for('ui.static', filename='vendor/swagger-ui.css') }}">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;margin-top:2rem}.op{margin:1rem 0;padding:.5rem 1rem;border-left:4px solid #888;background:#f7f7f7}
.m{font-weight:bold;font-family:monospace;padding:0 .4rem;color:#fff;border-radius:3px}
.GET{background:#2a7}.POST{background:#27a}code,pre{font-family:ui-monospace,monospace}pre{background:#fff;padding:.5rem;overflow:auto}
</style></head><body>
<div id="swagger-ui" data-spec="{{ url_for('meta.openapi') }}"></div>
<noscript>
<h1>Medic API <small>{{ spec.info.version }}</small></h1>
<p>{{ spec.info.description }} Machine-readable: <a href="openapi.json">/openapi.json</a>.</p>
{% for tag, ops in groups.items() %}<h2>{{ tag }}</h2>
{% for path, method, op in ops %}<div class="op"><span class="m {{ method|upper }}">{{ method|upper }}</span>
<code>{{ path }}</code> &mdash; {{ op.summary }}
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% if op.parameters %}<p>Parameters: {% for p in op.parameters %}<code>{{ p.name }}</code> ({{ p["in"] }}{% if p.required %}, required{% endif %}){% if not loop.last %}, {% endif %}{% endfor %}</p>{% endif %}
{% if op.requestBody %}{% set ref = op.requestBody.content["application/json"].schema["$ref"].split("/")[-1] %}
<p>Body: <code>{{ ref }}</code></p><pre>{{ schemas[ref] | tojson(indent=2) }}</pre>{% endif %}
<p>Responses: {{ op.responses.keys() | join(", ") }}</p></div>{% endfor %}{% endfor %}
</noscript>
<script src="{{ url_for('ui.static', filename='vendor/swagger-ui-bundle.js') }}"></script>
<script src="{{ url_for('ui.static', filename='api-docs.js') }}"></script>
</body></html>"""


@operation(bp, "/docs", "GET", summary="Browsable API documentation", tag="meta", raw=True, scope="open",
           extra={"content": {"content": {"text/html": {"schema": {"type": "string"}}}}})
def docs():
    spec = build_spec()
    groups: dict[str, list] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            groups.setdefault(op["tags"][0], []).append((path, method, op))
    return render_template_string(DOCS, spec=spec, groups=groups, schemas=spec["components"]["schemas"])
