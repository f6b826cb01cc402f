"""Health endpoints, metrics, OpenAPI and docs."""

from __future__ import annotations

from medic.config import load_settings
from medic.store.engine import make_engine
from medic.web import create_app
from tests.support.server import LiveServer

import httpx


def test_health_reports_database_worker_outbox_and_channels(api):
    response = api.get("/health")
    assert response.status_code == 200
    report = response.json()["results"]
    assert report["database"]["status"] == "up"
    assert report["database"]["latency_ms"] >= 0
    assert report["worker"]["status"] == "unknown"
    assert report["outbox"]["pending"] == 0
    assert report["channels"] == {"pagerduty": False, "slack": False, "webhook": False, "email": False, "apprise": False}
    assert "not configured" in response.json()["message"]
    assert response.json()["status"] == "healthy"  # the original's field; channels are not a fault


def test_health_status_is_degraded_when_the_worker_stalls(api, engine, clock):
    from medic.worker.loop import Worker

    worker = Worker(load_settings({"MEDIC_DATABASE_URL": engine.url.render_as_string(hide_password=False)}),
                    engine, clock=clock, run_daily_cleanup=False)
    try:
        worker.run_once()
    finally:
        worker.close()
    assert api.get("/health").json()["status"] == "healthy"
    clock.advance(minutes=10)
    response = api.get("/health")
    assert response.status_code == 200 and response.json()["results"]["worker"]["status"] == "stalled"
    assert response.json()["status"] == "degraded"


def test_live_ready_and_legacy_network_check(api):
    assert api.get("/health/live").status_code == 200
    assert api.get("/health/ready").json()["results"]["database"] == "up"
    legacy = api.get("/v1/healthcheck/network")
    assert legacy.status_code == 204 and legacy.content == b""


def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    # A PostgreSQL URL on a closed port: the process serves, the database does not.
    settings = load_settings({}, database_url="postgresql://medic@127.0.0.1:9/medic")
    engine = make_engine(settings.database_url)
    with LiveServer(create_app(settings, engine=engine)) as server:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            assert client.get("/health/live").status_code == 200
            for path in ("/health", "/health/ready"):
                response = client.get(path)
                assert response.status_code == 503
                assert response.json()["success"] is False
            assert client.get("/health").json()["status"] == "degraded"
            heartbeat = client.post("/heartbeat", json={"heartbeat_name": "x", "status": "UP"})
            assert heartbeat.status_code == 503
            assert heartbeat.json()["message"].startswith("database unavailable")
            scrape = client.get("/metrics")
            assert scrape.status_code == 200 and "medic_database_up 0.0" in scrape.text


def test_metrics_count_heartbeats(api):
    api.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5})

    def stored() -> float:
        for line in api.get("/metrics").text.splitlines():
            if line.startswith('medic_heartbeats_total{status="UP"}'):
                return float(line.split()[-1])
        return 0.0

    before = stored()
    for _ in range(3):
        api.post("/heartbeat", json={"heartbeat_name": "svc-hb", "status": "UP"})
    text = api.get("/metrics").text
    assert stored() == before + 3
    assert "medic_http_request_duration_seconds_bucket" in text
    assert "medic_db_query_duration_seconds_bucket" in text
    assert 'medic_services{state="up"} 1.0' in text
    assert "medic_alerts_active 0.0" in text


def test_openapi_documents_every_route(api, app):
    spec = api.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, methods in spec["paths"].items() for method in methods}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith(("ui.", "ui_root.")):
            continue  # the dashboard's pages are not API operations (tests/ui)
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    body = spec["paths"]["/heartbeat"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/HeartbeatIn")
    assert spec["components"]["schemas"]["HeartbeatIn"]["required"] == ["heartbeat_name", "status"]


def test_docs_page_lists_operations(api):
    response = api.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/heartbeat" in response.text and "Register a service" in response.text


def test_docs_page_loads_swagger_ui_from_medic_itself(api):
    """Swagger UI over /openapi.json, vendored: every script and stylesheet /docs names
    is served by this Medic, none from another host."""
    import re

    html = api.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets) and any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert "://" not in asset and not asset.startswith("//"), asset  # same host, relative or absolute
        if asset.endswith((".js", ".css")):
            assert api.get(asset).status_code == 200, asset
    assert 'data-spec="/openapi.json"' in html
