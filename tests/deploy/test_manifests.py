"""Offline checks of everything under deploy/.

No container engine or cluster runs here, so each artifact is checked with the
best offline tool available:

- Kubernetes manifests: JSON schemas of the Kubernetes API (kubernetes-validate,
  strict mode, so unknown fields fail), plus `kubectl kustomize` when kubectl is
  installed, plus assertions of what the seed and issue 6 require.
- docker-compose.yml: the compose specification's JSON schema (vendored in
  check-jsonschema), plus the service graph.
- Prometheus rules: `promtool check rules` and `promtool test rules`
  (scenarios in medic-rules.test.yml), plus structure.
- Grafana dashboard: structure, metric coverage, and every query parsed by
  promtool as PromQL.
- Dockerfile: parsed instruction by instruction.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "docker-compose.yml"
RULES = DEPLOY / "prometheus" / "medic-rules.yml"
RULES_TESTS = Path(__file__).with_name("medic-rules.test.yml")
DASHBOARD = DEPLOY / "grafana" / "medic-dashboard.json"
DOCKERFILE = DEPLOY / "Dockerfile"

K8S_VERSIONS = ["1.30", kubernetes_validate.latest_version()]

# Metric names the application exports (issue 6 and the seed).
METRICS = {
    "medic_heartbeats_total": "counter",
    "medic_alerts_active": "gauge",
    "medic_http_request_duration_seconds": "histogram",
    "medic_db_query_duration_seconds": "histogram",
    "medic_worker_cycle_duration_seconds": "histogram",
    "medic_worker_last_cycle_timestamp_seconds": "gauge",
    "medic_services": "gauge",
    "medic_notifications_total": "counter",
    "medic_outbox_pending": "gauge",
    "medic_outbox_oldest_pending_age_seconds": "gauge",
    "medic_cleanup_deleted_rows_total": "counter",
    "medic_cleanup_last_success_timestamp_seconds": "gauge",
    "medic_database_up": "gauge",
}

# Every environment variable Medic reads (docs/configuration.md).
KNOWN_ENV = {
    "MEDIC_DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "PG_USER", "PG_PASS",
    "HOST", "PORT", "WEB_CONCURRENCY", "WEB_WORKER_CLASS", "WEB_CONNECTIONS", "WEB_THREADS", "WEB_KEEPALIVE_SECONDS",
    "LOG_STORED_HEARTBEATS",
    "WORKER_INTERVAL_SECONDS",
    "AUTO_UNMUTE_HOURS", "HEARTBEAT_RETENTION_DAYS", "REMINDER_INTERVAL_MINUTES",
    "PAGERDUTY_ROUTING_KEY", "PAGERDUTY_EVENTS_URL", "SLACK_API_TOKEN",
    "SLACK_CHANNEL_ID", "SLACK_API_URL", "MEDIC_WEBHOOK_URL", "MEDIC_WEBHOOK_SECRET",
    "SMTP_HOST", "SMTP_PORT", "SMTP_TLS", "SMTP_USER", "SMTP_PASSWORD", "SMTP_FROM", "SMTP_TO", "APPRISE_URL",
    "MEDIC_BASE_URL", "LOG_LEVEL", "LOG_FORMAT", "MEDIC_AUTH", "MEDIC_ADMIN_API_KEY",
    "MEDIC_ANONYMOUS_HEARTBEATS", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR",
    "WORKER_LIVENESS_FILE", "MEDIC_SECRET_KEY",
}
SECRET_KEYS = {"PG_PASS", "SLACK_API_TOKEN", "PAGERDUTY_ROUTING_KEY", "MEDIC_ADMIN_API_KEY"}

# The CLI invocations the deployment relies on (argument lists after `medic`).
CLI_COMMANDS = [["serve"], ["worker"], ["cleanup"], ["db", "upgrade"], ["probe", "worker"]]

WEB_LABELS = {"app.kubernetes.io/name": "medic", "app.kubernetes.io/component": "web"}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def load_docs(path: Path) -> list[dict]:
    with path.open() as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc]


def load_one(name: str) -> dict:
    docs = load_docs(K8S / name)
    assert len(docs) == 1, f"{name}: expected one document, got {len(docs)}"
    return docs[0]


def kustomization() -> dict:
    return load_one("kustomization.yaml")


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def base_resources() -> list[dict]:
    docs: list[dict] = []
    for name in kustomization()["resources"]:
        docs.extend(load_docs(K8S / name))
    return docs


def by_kind_name(kind: str, name: str) -> dict:
    matches = [d for d in base_resources() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind}/{name} in the base, got {len(matches)}"
    return matches[0]


def pod_spec(resource: dict) -> dict:
    if resource["kind"] == "CronJob":
        return resource["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return resource["spec"]["template"]["spec"]


def pod_labels(resource: dict) -> dict:
    if resource["kind"] == "CronJob":
        return resource["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return resource["spec"]["template"]["metadata"]["labels"]


def workloads() -> list[dict]:
    return [d for d in base_resources() if d["kind"] in ("Deployment", "Job", "CronJob")]


def only_container(resource: dict) -> dict:
    containers = pod_spec(resource)["containers"]
    assert len(containers) == 1, f"{resource['metadata']['name']}: expected one container"
    return containers[0]


def k8s_validate(doc: dict, version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian package 'prometheus'); rules not checked by promtool")
    return path


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60)


def metric_names_in(expr: str) -> set[str]:
    return set(re.findall(r"\bmedic_[a-z0-9_]+", expr))


def base_metric(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in METRICS:
            return name[: -len(suffix)]
    return name


# --------------------------------------------------------------------------
# Kubernetes: schemas
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_manifest_validates_against_kubernetes_schema(path: Path, version: str) -> None:
    docs = load_docs(path)
    assert docs, f"{path.name} is empty"
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # CRD: checked structurally in test_servicemonitor
        k8s_validate(doc, version)


def test_schema_validation_is_not_vacuous() -> None:
    """The validator must reject what a cluster would reject."""
    deployment = load_one("web-deployment.yaml")
    unknown_field = copy.deepcopy(deployment)
    unknown_field["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_validate(unknown_field, "1.30")
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_validate(wrong_type, "1.30")
    cron = load_one("cronjob-cleanup.yaml")
    misplaced = copy.deepcopy(cron)
    misplaced["spec"]["jobTemplate"]["spec"]["schedule"] = "0 0 * * *"
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_validate(misplaced, "1.30")
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        k8s_validate({"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}}, "1.30")


# --------------------------------------------------------------------------
# Kubernetes: kustomize
# --------------------------------------------------------------------------

def test_kustomization_lists_existing_parseable_files() -> None:
    kust = kustomization()
    assert kust["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kust["kind"] == "Kustomization"
    resources = kust["resources"]
    assert len(resources) == len(set(resources)), "duplicate entries in resources"
    for name in resources:
        path = K8S / name
        assert path.is_file(), f"kustomization lists missing file {name}"
        docs = load_docs(path)
        assert docs, f"{name} has no documents"
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), f"{name}: not a Kubernetes object"
            assert doc["metadata"].get("name"), f"{name}: object without a name"
    # Every manifest is either a base resource or one of the two documented extras.
    listed = set(resources)
    extras = {p.name for p in manifest_files()} - listed
    assert extras == {"secret.example.yaml", "servicemonitor.yaml"}


def test_kustomization_leaves_out_secret_template_and_servicemonitor() -> None:
    resources = kustomization()["resources"]
    assert "secret.example.yaml" not in resources
    assert "servicemonitor.yaml" not in resources
    kinds = {d["kind"] for d in base_resources()}
    assert "Secret" not in kinds
    assert "ServiceMonitor" not in kinds


def test_base_has_every_required_object() -> None:
    kinds = sorted(d["kind"] for d in base_resources())
    for kind in ("ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler", "Job",
                 "PodDisruptionBudget", "Service"):
        assert kind in kinds, f"base has no {kind}"
    assert kinds.count("Deployment") == 2


def test_base_is_namespace_agnostic() -> None:
    assert "namespace" not in kustomization()
    for path in manifest_files():
        for doc in load_docs(path):
            assert "namespace" not in doc["metadata"], f"{path.name} hard-codes a namespace"


def test_kustomize_build_renders_valid_objects() -> None:
    kubectl = shutil.which("kubectl")
    kustomize = shutil.which("kustomize")
    if kubectl:
        cmd = [kubectl, "kustomize", str(K8S)]
    elif kustomize:
        cmd = [kustomize, "build", str(K8S)]
    else:
        pytest.skip("neither kubectl nor kustomize installed; kustomization checked by parsing only")
    result = run(cmd)
    assert result.returncode == 0, result.stderr
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert len(rendered) == len(base_resources())
    for doc in rendered:
        k8s_validate(doc, "1.30")
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "medic"
        if doc["kind"] in ("Deployment", "Job", "CronJob"):
            image = only_container(doc)["image"]
            assert image == "medic:" + kustomization()["images"][0]["newTag"], image


# --------------------------------------------------------------------------
# Kubernetes: what the seed and issue 6 require
# --------------------------------------------------------------------------

def test_web_deployment() -> None:
    web = by_kind_name("Deployment", "medic-web")
    assert web["spec"]["replicas"] == 2
    assert web["spec"]["selector"]["matchLabels"] == WEB_LABELS
    assert WEB_LABELS.items() <= pod_labels(web).items()
    container = only_container(web)
    assert container["args"] == ["serve"]
    for kind in ("requests", "limits"):
        assert container["resources"][kind] == {"cpu": "100m", "memory": "256Mi"}, kind
    assert container["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    rolling = web["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0


def test_worker_deployment() -> None:
    worker = by_kind_name("Deployment", "medic-worker")
    assert worker["spec"]["replicas"] == 1
    strategy = worker["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    container = only_container(worker)
    assert container["args"] == ["worker"]
    for kind in ("requests", "limits"):
        assert container["resources"][kind] == {"cpu": "100m", "memory": "384Mi"}, kind
    assert container["livenessProbe"]["exec"]["command"] == ["medic", "probe", "worker"]
    assert container["startupProbe"]["exec"]["command"] == ["medic", "probe", "worker"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9091}]  # its own /metrics, nothing else
    # The worker's pods must not be selected by the web Service/PDB/HPA.
    assert pod_labels(worker)["app.kubernetes.io/component"] == "worker"


def test_cleanup_cronjob() -> None:
    cron = by_kind_name("CronJob", "medic-cleanup")
    spec = cron["spec"]
    assert spec["schedule"] == "0 0 * * *"
    assert spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert only_container(cron)["args"] == ["cleanup"]
    assert pod_spec(cron)["restartPolicy"] in ("Never", "OnFailure")


def test_migration_job() -> None:
    job = by_kind_name("Job", "medic-migrate")
    assert only_container(job)["args"] == ["db", "upgrade"]
    assert pod_spec(job)["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"]["backoffLimit"] >= 1


def test_service() -> None:
    svc = by_kind_name("Service", "medic-web")
    assert svc["spec"]["selector"] == WEB_LABELS
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    web_ports = {p["name"]: p["containerPort"] for p in only_container(by_kind_name("Deployment", "medic-web"))["ports"]}
    assert web_ports["http"] == 5000


def test_hpa() -> None:
    hpa = by_kind_name("HorizontalPodAutoscaler", "medic-web")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "medic-web"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 4)
    [metric] = spec["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    # Utilization is relative to the CPU request: the web container must have one.
    assert only_container(by_kind_name("Deployment", "medic-web"))["resources"]["requests"]["cpu"]


def test_pod_disruption_budget() -> None:
    pdb = by_kind_name("PodDisruptionBudget", "medic-web")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == WEB_LABELS


def test_configmap() -> None:
    cm = by_kind_name("ConfigMap", "medic-config")
    data = cm["data"]
    assert data["MEDIC_AUTH"] == "required"
    assert data["LOG_FORMAT"] == "json"
    assert data["WORKER_LIVENESS_FILE"].startswith("/tmp/")
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    unknown = set(data) - KNOWN_ENV
    assert not unknown, f"ConfigMap sets variables Medic does not read: {unknown}"
    leaked = set(data) & SECRET_KEYS
    assert not leaked, f"secrets in the ConfigMap: {leaked}"
    assert "MEDIC_DATABASE_URL" not in data, "a URL would carry the password; use DB_* + PG_PASS"


def test_secret_template() -> None:
    [secret] = load_docs(K8S / "secret.example.yaml")
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "medic-secrets"
    assert set(secret["stringData"]) == SECRET_KEYS
    assert all(v == "CHANGE-ME" for v in secret["stringData"].values()), "template must hold placeholders only"


def test_route_secret_key_reaches_web_and_worker() -> None:
    # Route secrets encrypted by a web process are decrypted by the worker: both must
    # get the same MEDIC_SECRET_KEY, from the shared environment (compose) or Secret (k8s).
    doc = yaml.safe_load(COMPOSE.read_text())
    for name in ("web", "worker"):
        assert doc["services"][name]["environment"]["MEDIC_SECRET_KEY"] == "${MEDIC_SECRET_KEY:-}"
    template = (K8S / "secret.example.yaml").read_text()
    assert "MEDIC_SECRET_KEY" in template and "Fernet.generate_key()" in template
    for kind, name in (("Deployment", "medic-web"), ("Deployment", "medic-worker")):
        assert {"secretRef": {"name": "medic-secrets"}} in only_container(by_kind_name(kind, name))["envFrom"]


@pytest.mark.parametrize("kind_name", [("Deployment", "medic-web"), ("Deployment", "medic-worker"),
                                       ("CronJob", "medic-cleanup"), ("Job", "medic-migrate")],
                         ids=lambda kn: kn[1])
def test_workload_environment_and_security(kind_name: tuple[str, str]) -> None:
    resource = by_kind_name(*kind_name)
    spec = pod_spec(resource)
    container = only_container(resource)
    # Settings: ConfigMap + Secret, nothing secret inline.
    refs = {(next(iter(k for k in e if k.endswith("Ref"))), e[next(k for k in e if k.endswith("Ref"))]["name"])
            for e in container["envFrom"]}
    assert refs == {("configMapRef", "medic-config"), ("secretRef", "medic-secrets")}
    for env in container.get("env", []):
        assert env["name"] not in SECRET_KEYS or "valueFrom" in env, f"{env['name']} inline"
    # Same image for every process, entrypoint `medic` from the image.
    assert container["image"].split(":")[0] == "medic"
    assert "command" not in container, "the image's ENTRYPOINT is `medic`; use args"
    # Non-root, read-only root filesystem, writable /tmp.
    pod_sc = spec["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] != 0
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "/tmp" in mounts
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert container["resources"]["limits"]["memory"]
    assert spec["automountServiceAccountToken"] is False


def test_servicemonitor() -> None:
    sm, pm = load_docs(K8S / "servicemonitor.yaml")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["kind"] == "ServiceMonitor"
    assert sm["metadata"]["name"] and "namespace" not in sm["metadata"]
    assert set(sm["spec"]) <= {"selector", "endpoints", "jobLabel", "namespaceSelector", "targetLabels"}
    svc = by_kind_name("Service", "medic-web")
    wanted = sm["spec"]["selector"]["matchLabels"]
    assert wanted.items() <= svc["metadata"]["labels"].items(), "ServiceMonitor does not select the web Service"
    [endpoint] = sm["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in svc["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert re.fullmatch(r"\d+[smh]", endpoint["interval"])
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels",
                             "relabelings", "metricRelabelings"}

    # The worker serves its own counters; the PodMonitor must select its pods and named port.
    assert pm["kind"] == "PodMonitor" and "namespace" not in pm["metadata"]
    worker = by_kind_name("Deployment", "medic-worker")
    assert pm["spec"]["selector"]["matchLabels"].items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    [pod_endpoint] = pm["spec"]["podMetricsEndpoints"]
    ports = {p["name"]: p["containerPort"] for c in worker["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    assert pod_endpoint["port"] in ports and pod_endpoint["path"] == "/metrics"
    assert ports[pod_endpoint["port"]] == 9091  # WORKER_METRICS_PORT's default


def test_cli_provides_every_command_the_deployment_runs() -> None:
    """Cross-check with the application once its CLI is importable."""
    cli = pytest.importorskip("medic.cli", reason="medic.cli not importable here (package not installed)")
    click = pytest.importorskip("click")
    group = getattr(cli, "main", None)
    if not isinstance(group, click.Group):
        pytest.skip("medic.cli.main is not a click group; cannot introspect subcommands")
    for argv in CLI_COMMANDS:
        command = group
        for part in argv:
            assert isinstance(command, click.Group), f"`medic {' '.join(argv)}`: {part!r} has no subcommands"
            command = command.get_command(click.Context(command), part)
            assert command is not None, f"`medic {' '.join(argv)}` is used by deploy/ but does not exist"


# --------------------------------------------------------------------------
# docker-compose
# --------------------------------------------------------------------------

def check_compose_schema(path: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)])


def test_compose_validates_against_compose_spec() -> None:
    result = check_compose_schema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_is_not_vacuous(tmp_path: Path) -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    doc["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(doc))
    result = check_compose_schema(broken)
    assert result.returncode != 0, "an invalid depends_on condition passed the compose schema"


def test_compose_service_graph() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())  # resolves the YAML anchors/merge keys
    services = doc["services"]
    assert set(services) == {"postgres", "migrate", "web", "worker"}

    pg = services["postgres"]
    assert pg["image"].split(":")[1].startswith("16")
    test = pg["healthcheck"]["test"]
    assert "pg_isready" in " ".join(test if isinstance(test, list) else [test])

    migrate = services["migrate"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"

    for name, command in (("web", ["serve"]), ("worker", ["worker"])):
        svc = services[name]
        assert svc["command"] == command
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy", name

    assert services["web"]["ports"] == ["5000:5000"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "medic", "probe", "worker"]

    # One image, built from the repository root with deploy/Dockerfile.
    for name in ("migrate", "web", "worker"):
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE
        assert services[name]["image"] == services["web"]["image"]


def test_compose_environment() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    header = COMPOSE.read_text().split("\nname:")[0]
    for name in ("migrate", "web", "worker"):
        env = doc["services"][name]["environment"]
        unknown = set(env) - KNOWN_ENV
        assert not unknown, f"{name}: variables Medic does not read: {unknown}"
        assert env["DB_HOST"] == "postgres"
        assert env["MEDIC_AUTH"] == "${MEDIC_AUTH:-disabled}"
    for var in doc["x-medic-environment"]:
        if var.startswith(("DB_", "PG_")):
            continue
        assert var in header, f"{var} is not documented in the compose file header"


# --------------------------------------------------------------------------
# Prometheus rules
# --------------------------------------------------------------------------

REQUIRED_ALERTS = {
    "MedicWorkerStalled": "medic_worker_last_cycle_timestamp_seconds",
    "MedicNotificationBacklogGrowing": "medic_outbox_pending",
    "MedicNotificationOldestPendingTooOld": "medic_outbox_oldest_pending_age_seconds",
    "MedicNotificationDeliveriesFailing": "medic_notifications_total",
    "MedicDatabaseUnreachable": "medic_database_up",
    "MedicHighErrorRate": "medic_http_request_duration_seconds_count",
    "MedicHighLatency": "medic_http_request_duration_seconds_bucket",
}


def rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_promtool_check_rules() -> None:
    result = run([promtool(), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rule_unit_tests(tmp_path: Path) -> None:
    """Scenarios in medic-rules.test.yml: which alerts fire, when, with which labels."""
    tool = promtool()
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)  # promtool compares annotations verbatim
    (tmp_path / "medic-rules.yml").write_text(yaml.safe_dump(doc))
    shutil.copy(RULES_TESTS, tmp_path / RULES_TESTS.name)
    result = run([tool, "test", "rules", RULES_TESTS.name], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {t["alertname"] for case in yaml.safe_load(RULES_TESTS.read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    missing = {"MedicWorkerStalled", "MedicNotificationBacklogGrowing",
               "MedicNotificationDeliveriesFailing", "MedicDatabaseUnreachable"} - tested
    assert not missing, f"no unit test scenario for {missing}"


def test_rules_structure() -> None:
    by_name = {r["alert"]: r for r in rules() if "alert" in r}
    for alert, metric in REQUIRED_ALERTS.items():
        assert alert in by_name, f"missing alert {alert}"
        assert metric in by_name[alert]["expr"], f"{alert} does not use {metric}"
    assert re.search(r"medic_worker_last_cycle_timestamp_seconds\)?\s*>\s*120\b", by_name["MedicWorkerStalled"]["expr"])
    assert by_name["MedicWorkerStalled"]["for"] == "2m"
    assert 'outcome="failed"' in by_name["MedicNotificationDeliveriesFailing"]["expr"]
    assert "== 0" in by_name["MedicDatabaseUnreachable"]["expr"]
    for name, rule in by_name.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key, "").strip(), f"{name} has no {key} annotation"


def test_rules_use_only_exported_metrics() -> None:
    for rule in rules():
        for name in metric_names_in(rule["expr"]):
            assert base_metric(name) in METRICS, f"{rule.get('alert')}: unknown metric {name}"
            if name != base_metric(name):
                assert METRICS[base_metric(name)] == "histogram", f"{name}: suffix on a non-histogram"


# --------------------------------------------------------------------------
# Grafana dashboard
# --------------------------------------------------------------------------

def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(panels: list[dict]) -> list[dict]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels", [])))
    return out


def dashboard_exprs() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in all_panels(dashboard()["panels"]) for t in p.get("targets", [])]


def test_dashboard_structure() -> None:
    dash = dashboard()
    assert dash["schemaVersion"] >= 36
    assert dash["uid"] and dash["title"]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = all_panels(dash["panels"])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels:
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboard_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in all_panels(dashboard()["panels"]):
        g = panel["gridPos"]
        for y in range(g["y"], g["y"] + g["h"]):
            for x in range(g["x"], g["x"] + g["w"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_dashboard_covers_every_metric() -> None:
    used = {base_metric(n) for _, expr in dashboard_exprs() for n in metric_names_in(expr)}
    missing = set(METRICS) - used
    assert not missing, f"no dashboard panel queries {sorted(missing)}"
    unknown = used - set(METRICS)
    assert not unknown, f"dashboard queries unknown metrics {sorted(unknown)}"
    titles = " | ".join(title.lower() for title, _ in dashboard_exprs())
    for words in ("p50", "p99", "db query", "outbox", "cleanup", "by status", "by state"):
        assert words in titles, f"no panel titled with {words!r}"


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule (Grafana variables substituted)."""
    tool = promtool()
    substitutions = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$job": ".*"}
    records = []
    for i, (title, expr) in enumerate(dashboard_exprs()):
        for var, value in substitutions.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, f"{title}: unsubstituted variable in {expr}"
        records.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    result = run([tool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment inside a continuation
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continuation"
    return out


def dockerfile_stages() -> list[dict]:
    args: dict[str, str] = {}
    stages: list[dict] = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert m, f"cannot parse FROM {rest}"
            image = re.sub(r"\$\{?(\w+)\}?", lambda v: args.get(v.group(1), v.group(0)), m.group(1))
            stages.append({"image": image, "name": m.group(2), "instructions": []})
        else:
            assert stages or keyword == "ARG", f"{keyword} before FROM"
            stages[-1]["instructions"].append((keyword, rest))
    return stages


def test_dockerfile_multi_stage_slim() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "not a multi-stage build"
    for stage in stages:
        assert stage["image"] == "python:3.11-slim", stage["image"]
    names = {s["name"] for s in stages}
    final = stages[-1]["instructions"]
    # The final stage installs wheels from the build stage and compiles nothing.
    text = " ".join(rest for _, rest in final)
    assert re.search(r"from=(\w+)", text) and re.search(r"from=(\w+)", text).group(1) in names
    assert "--no-index" in text, "final stage must install only the wheels built in the first stage"
    for tool in ("gcc", "build-essential", "apt-get install", "git "):
        assert tool not in text, f"build tool {tool!r} in the final image"
    build_text = " ".join(rest for _, rest in stages[0]["instructions"])
    assert "pip wheel" in build_text


def test_dockerfile_runtime_contract() -> None:
    final = dockerfile_stages()[-1]["instructions"]
    values = {}
    for keyword, rest in final:
        values.setdefault(keyword, []).append(rest)
    users = values["USER"]
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), "final image runs as root"
    assert user.isdigit(), "numeric USER lets Kubernetes verify runAsNonRoot"
    k8s_uid = pod_spec(by_kind_name("Deployment", "medic-web"))["securityContext"]["runAsUser"]
    assert int(user) == k8s_uid
    assert json.loads(values["ENTRYPOINT"][-1]) == ["medic"]
    assert json.loads(values["CMD"][-1]) == ["serve"]
    assert values["EXPOSE"] == ["5000"]
    healthcheck = values["HEALTHCHECK"][-1]
    assert "/health/live" in healthcheck and "python" in healthcheck and "curl" not in healthcheck
    env = " ".join(values["ENV"])
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "LOG_FORMAT=json"):
        assert setting in env, setting


def test_dockerfile_copies_what_the_wheel_build_needs() -> None:
    build = dockerfile_stages()[0]["instructions"]
    sources = []
    for keyword, rest in build:
        if keyword == "COPY" and "--from" not in rest:
            sources.extend(rest.split()[:-1])
    assert "pyproject.toml" in sources and "src" in sources
    pyproject = (ROOT / "pyproject.toml").read_text()
    readme = re.search(r'^readme\s*=\s*"([^"]+)"', pyproject, re.MULTILINE)
    if readme:
        assert readme.group(1) in sources, "pyproject's readme must be in the build context copy"
    readme_name = readme.group(1) if readme else None
    for source in sources:
        if source == readme_name and not (ROOT / source).exists():
            continue  # reported by the skip below
        assert (ROOT / source).exists(), f"COPY source {source} is not in the repository root"
    if readme_name and not (ROOT / readme_name).exists():
        pytest.skip(f"pyproject.toml names {readme_name}, which does not exist yet: "
                    "neither the image nor `pip install .` can build until it does")


def test_readme_documents_the_deployment() -> None:
    text = (DEPLOY / "README.md").read_text()
    for needle in ("docker build -f deploy/Dockerfile", "docker compose", "apply -k deploy/kubernetes",
                   "secret.example.yaml", "servicemonitor.yaml", "medic-rules.yml",
                   "medic-dashboard.json", "/health/live", "/health/ready", "medic probe worker"):
        assert needle in text, f"deploy/README.md does not mention {needle}"


def test_cloudnativepg_cluster_for_medic() -> None:
    """The CloudNativePG manifest: the operator's own schema is not on this machine,
    so check the structure Medic depends on (docs/clustering.md)."""
    docs = load_docs(K8S / "cloudnativepg" / "cluster.yaml")
    assert len(docs) == 1
    cluster = docs[0]
    assert (cluster["apiVersion"], cluster["kind"]) == ("postgresql.cnpg.io/v1", "Cluster")
    spec = cluster["spec"]
    assert spec["instances"] >= 3
    synchronous = spec["postgresql"]["synchronous"]
    assert synchronous["method"] in ("any", "first") and synchronous["number"] >= 1
    assert synchronous["dataDurability"] == "required"
    assert spec["bootstrap"]["initdb"]["database"] == "medic"
    assert spec["imageName"].endswith(":15")
    assert set(spec) <= {"instances", "imageName", "primaryUpdateStrategy", "postgresql", "bootstrap",
                         "storage", "affinity", "monitoring"}
