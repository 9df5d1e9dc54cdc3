"""The rendered Kubernetes manifests of every environment: schemas, checkov, hardening, capacity."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from infra import capacity, prometheus, twenty
from infra.config import EnvironmentConfig
from infra.manifests import (
    TEMPLATE_DIR,
    migration_job_name,
    render_manifests,
    render_phases,
    write_manifests,
)
from tests.conftest import CONFIGS, ROOT
from tests.manifest_inputs import test_inputs

# Kinds defined by CustomResourceDefinitions of add-ons the cluster stack installs. Their
# schemas ship with the operators' Helm charts (versions pinned by the cluster stack), not with
# kubernetes-validate, and cannot be fetched offline; a vendored copy would drift from the chart
# actually installed. Their shape is asserted below instead (KEDA's objects: tests/test_scaling.py,
# against the CRD schemas).
CRD_GROUPS = ("external-secrets.io/", "elbv2.k8s.aws/", "keda.sh/")

# checkov checks that do not apply, each for a stated reason:
CHECKOV_SKIPS = {
    # CPU limits throttle a pod even when the node is idle; the EKS best practices guide
    # (reliability) advises requests without CPU limits. Memory has a limit.
    "CKV_K8S_11",
    # Image digests: the tag is pinned per environment in config (latest/untagged are config
    # errors) and config accepts an @sha256 digest for those who want one.
    "CKV_K8S_43",
    # Twenty reads its configuration from environment variables only; the values come from a
    # Secret that External Secrets keeps in sync, never from the manifest.
    "CKV_K8S_35",
    # Twenty's image runs as uid 1000 and owns its files as 1000; a UID above 10000 would break
    # the image. runAsNonRoot and the restricted PSA profile still apply.
    "CKV_K8S_40",
}
POD_KINDS = ("Deployment", "Job")


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {env: render_manifests(test_inputs(cfg)) for env, cfg in CONFIGS.items()}


@pytest.fixture(scope="module")
def written(
    rendered: dict[str, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    root = tmp_path_factory.mktemp("k8s")
    for env, manifests in rendered.items():
        write_manifests(manifests, root / env)
    return root


def _of_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def _pod_specs(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{m['kind']}/{m['metadata']['name']}": m["spec"]["template"]["spec"]
        for m in manifests
        if m["kind"] in POD_KINDS
    }


def test_core_kinds_validate_strictly(
    rendered: dict[str, list[dict[str, Any]]], env: str, cfg: EnvironmentConfig
) -> None:
    version = cfg.cluster.kubernetes_version
    checked = 0
    for manifest in rendered[env]:
        if manifest["apiVersion"].startswith(CRD_GROUPS):
            continue
        # Raises ValidationError on a bad field and SchemaNotFoundError on an unknown kind.
        kubernetes_validate.validate(manifest, version, strict=True)
        checked += 1
    assert checked >= 20


def test_validation_rejects_an_unknown_field(
    rendered: dict[str, list[dict[str, Any]]], env: str, cfg: EnvironmentConfig
) -> None:
    """Guard: strict mode really catches a typo in a core kind."""
    deployment = json.loads(json.dumps(_of_kind(rendered[env], "Deployment")["backend"]))
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, cfg.cluster.kubernetes_version, strict=True)


def test_custom_resources_shape(rendered: dict[str, list[dict[str, Any]]], env: str, cfg) -> None:
    manifests = rendered[env]
    externals = _of_kind(manifests, "ExternalSecret")
    assert set(externals) == {
        "twenty-env",
        "twenty-database-ca",
        "twenty-smtp",
        "twenty-keda-redis",
    }
    external = externals["twenty-env"]
    assert external["apiVersion"] == "external-secrets.io/v1"
    assert external["spec"]["secretStoreRef"] == {
        "kind": "ClusterSecretStore",
        "name": cfg.workloads.secret_store_name,
    }
    template = external["spec"]["target"]["template"]
    assert template["engineVersion"] == "v2"
    data = template["data"]
    assert data["PG_DATABASE_URL"] == (
        "postgres://{{ .pg_username | urlquery }}:{{ .pg_password | urlquery }}"
        f"@test-database.{env}.internal:5432/twenty"
        "?sslmode=verify-full&sslrootcert=/etc/twenty-database-ca/ca.crt"
    )
    assert data["REDIS_URL"] == (
        f"rediss://:{{{{ .redis_token | urlquery }}}}@test-redis.{env}.cache.amazonaws.com:6379"
    )
    keys = {d["secretKey"]: d["remoteRef"] for d in external["spec"]["data"]}
    assert keys["pg_password"] == {
        "key": f"twenty/{env}/database-app-credentials",
        "property": "password",
    }
    assert keys["redis_token"] == {"key": f"twenty/{env}/redis-auth-token"}
    ca = externals["twenty-database-ca"]["spec"]
    assert ca["data"] == [
        {"secretKey": "ca.crt", "remoteRef": {"key": f"twenty/{env}/database/ca-certificate"}}
    ]
    smtp = externals["twenty-smtp"]["spec"]
    assert set(smtp["target"]["template"]["data"]) == {"EMAIL_SMTP_USER", "EMAIL_SMTP_PASSWORD"}
    assert {d["remoteRef"]["key"] for d in smtp["data"]} == {f"twenty/{env}/smtp"}
    for secret in externals.values():
        assert secret["spec"]["secretStoreRef"]["name"] == cfg.workloads.secret_store_name
    bindings = _of_kind(manifests, "TargetGroupBinding")
    assert {n: (b["spec"]["serviceRef"]["port"], b["spec"]["targetType"]) for n, b in
            bindings.items()} == {"frontend": (3001, "ip"), "backend": (3000, "ip")}  # fmt: skip
    assert all(b["apiVersion"] == "elbv2.k8s.aws/v1beta1" for b in bindings.values())
    assert bindings["frontend"]["spec"]["targetGroupARN"].endswith("test-frontend/0123456789abcdef")


@pytest.mark.slow
def test_checkov_passes_with_the_listed_skips(written: Path) -> None:
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    result = subprocess.run(
        [str(checkov), "-d", str(written), "--framework", "kubernetes", "--output", "json",
         "--quiet", "--skip-check", ",".join(sorted(CHECKOV_SKIPS))],
        capture_output=True, text=True, check=False, timeout=600,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin", "HOME": str(written)},
    )  # fmt: skip
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    passed = sum(r["summary"]["passed"] for r in reports)
    assert failed == []
    assert passed > 100 * len(CONFIGS)


def test_every_pod_hardened(rendered: dict[str, list[dict[str, Any]]], env: str) -> None:
    for name, spec in _pod_specs(rendered[env]).items():
        if spec["serviceAccountName"] == "twenty-upgrade-backup":
            continue  # the AWS CLI pod, not Twenty's image: tests/test_upgrade_backup.py
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 1000, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        mounts_needed = {"/tmp", "/app/packages/twenty-server/.local-storage"}
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["runAsNonRoot"] is True and context["runAsUser"] == 1000, name
            assert "cpu" not in container["resources"].get("limits", {}), name
            assert "memory" in container["resources"]["limits"], name
        mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert mounts_needed <= mounts, name
        volumes = {v["name"]: v for v in spec["volumes"]}
        # Writable scratch only, plus the database CA certificate (read-only Secret volume).
        ca = volumes.pop("database-ca")
        assert ca["secret"] == {"secretName": "twenty-database-ca", "defaultMode": 0o444}, name
        assert all("emptyDir" in v for v in volumes.values()), name


def test_namespace_enforces_restricted(rendered: dict[str, list[dict[str, Any]]], env: str):
    namespace = _of_kind(rendered[env], "Namespace")[f"twenty-{env}"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # Outside it only what KEDA reads: its cluster-scoped Redis authentication and that one's
    # Secret, which KEDA may read only in its own namespace (tests/test_scaling.py).
    elsewhere = {("ClusterTriggerAuthentication", None), ("ExternalSecret", "keda")}
    for manifest in rendered[env]:
        if manifest["kind"] == "Namespace":
            continue
        place = (manifest["kind"], manifest["metadata"].get("namespace"))
        if place[1] != f"twenty-{env}":
            assert place in elsewhere, manifest["metadata"]


def test_images_pinned_never_latest(
    rendered: dict[str, list[dict[str, Any]]], env: str, cfg: EnvironmentConfig
) -> None:
    images = [
        c["image"]
        for spec in _pod_specs(rendered[env]).values()
        for c in spec.get("initContainers", []) + spec["containers"]
    ]
    assert images and set(images) == {
        cfg.workloads.image,
        cfg.workloads.upgrade_backup.aws_cli_image,
    }
    for image in images:
        assert not image.endswith(":latest") and (":" in image.rsplit("/", 1)[-1] or "@" in image)
    templates = "\n".join(p.read_text() for p in TEMPLATE_DIR.glob("*.j2"))
    assert ":latest" not in templates


def test_deployments_match_config(
    rendered: dict[str, list[dict[str, Any]]], env: str, cfg: EnvironmentConfig
) -> None:
    deployments = _of_kind(rendered[env], "Deployment")
    assert set(deployments) == {"frontend", "backend", "worker"}
    tiers = {"frontend": "frontend", "backend": "backend", "worker": "backend"}
    for name, deployment in deployments.items():
        workload = getattr(cfg.workloads, name)
        spec = deployment["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        assert spec["nodeSelector"] == {"tier": tiers[name]}
        env_vars = {e["name"]: e["value"] for e in container["env"]}
        assert env_vars["PG_POOL_MAX_CONNECTIONS"] == str(workload.db_pool_size), name
        # Every container names its command: nothing relies on the image's entrypoint.
        assert container["command"][0] == "yarn", name
        assert not {"DISABLE_DB_MIGRATIONS", "DISABLE_CRON_JOBS_REGISTRATION"} & set(env_vars)
        assert container["resources"] == {
            "requests": {"cpu": workload.cpu_request, "memory": workload.memory_request},
            "limits": {"memory": workload.memory},
        }
        zones = [t for t in spec["topologySpreadConstraints"]
                 if t["topologyKey"] == "topology.kubernetes.io/zone"]  # fmt: skip
        assert zones and zones[0]["whenUnsatisfiable"] == "DoNotSchedule"
    for server in ("frontend", "backend"):
        pod = deployments[server]["spec"]["template"]["spec"]
        assert pod["containers"][0]["command"] == ["yarn", "start:prod"]
        # Both serve UI pages: the server rewrites dist/front/index.html at boot, so both need
        # the writable copy (the root file system is read-only).
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert "/app/packages/twenty-server/dist/front" in mounts, server
        assert [c["name"] for c in pod["initContainers"]] == ["copy-front"], server
    worker = deployments["worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"] == ["yarn", "worker:prod"]
    assert "livenessProbe" not in worker
    probes = cfg.workloads.probes
    for name in ("frontend", "backend"):
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"] == {"path": probes.liveness.path,
                                                         "port": "http"}  # fmt: skip
        assert container["readinessProbe"]["httpGet"]["path"] == probes.readiness.path
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
        assert container["ports"][0] == {"name": "http", "containerPort": 3000, "protocol": "TCP"}


def test_server_and_worker_export_metrics(rendered: dict[str, list[dict[str, Any]]], env: str):
    """Twenty's exporter port, named as the scrape job expects, on every long-running process
    (server and worker), switched on by METER_DRIVER in the same container; never on Jobs."""
    metrics = twenty.contract()["metrics"]
    port = {"name": "metrics", "containerPort": 9464, "protocol": "TCP"}
    assert metrics["port"] == 9464 and prometheus.TWENTY_METRICS_PORT_NAME == "metrics"
    deployments = _of_kind(rendered[env], "Deployment")
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert port in container["ports"], name
        env_vars = {e["name"]: e.get("value") for e in container["env"]}
        assert env_vars["METER_DRIVER"] == "prometheus", name
    worker = deployments["worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["ports"] == [port]
    jobs = [m for m in rendered[env] if m["kind"] == "Job"]
    assert jobs
    for job in jobs:
        for container in job["spec"]["template"]["spec"]["containers"]:
            assert "ports" not in container, job["metadata"]["name"]
            assert "METER_DRIVER" not in {e["name"] for e in container.get("env", [])}


def test_config_map_environment(
    rendered: dict[str, list[dict[str, Any]]], env: str, cfg: EnvironmentConfig
) -> None:
    data = _of_kind(rendered[env], "ConfigMap")["twenty-config"]["data"]
    assert data["SERVER_URL"] == f"https://{cfg.domain_name}"
    assert data["NODE_PORT"] == "3000"
    assert data["STORAGE_TYPE"] == "S_3"  # the enum value: no reliance on the cast (contract)
    assert data["STORAGE_S3_REGION"] == cfg.region
    assert data["STORAGE_S3_NAME"] == f"twenty-{env}-files-{cfg.account}-{cfg.region}"
    assert "MESSAGE_QUEUE_TYPE" not in data and "CACHE_STORAGE_TYPE" not in data  # unread
    # Twenty's names (config-variables.ts @ v2.33.0): SMTP through SES, sender in our domain.
    assert data["EMAIL_DRIVER"] == "SMTP"
    assert data["EMAIL_SMTP_HOST"] == f"email-smtp.{cfg.region}.amazonaws.com"
    assert data["EMAIL_SMTP_PORT"] == str(cfg.email.smtp_port)
    assert data["EMAIL_FROM_ADDRESS"] == f"{cfg.email.sender_local_part}@{cfg.domain_name}"
    assert data["EMAIL_FROM_NAME"] == cfg.email.sender_name
    assert not {k for k in data if "PASSWORD" in k or k == "EMAIL_SMTP_USER"}


def test_every_twenty_container_gets_the_database_ca_and_smtp_secret(
    rendered: dict[str, list[dict[str, Any]]], env: str, cfg: EnvironmentConfig
) -> None:
    pods = [
        m["spec"]["template"]["spec"]
        for m in rendered[env]
        if m["kind"] in ("Deployment", "Job")
        and m["spec"]["template"]["spec"]["containers"][0]["image"] == cfg.workloads.image
    ]
    assert len(pods) == 4  # frontend, backend, worker, migration (not the backup gate)
    for pod in pods:
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["database-ca"]["secret"]["secretName"] == "twenty-database-ca"
        (container,) = pod["containers"]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["database-ca"] == {
            "name": "database-ca", "mountPath": "/etc/twenty-database-ca", "readOnly": True
        }  # fmt: skip
        assert {"secretRef": {"name": "twenty-smtp", "optional": True}} in container["envFrom"]


def test_migration_job_per_image_version(
    rendered: dict[str, list[dict[str, Any]]], env: str, cfg: EnvironmentConfig
) -> None:
    (name, job), = [(n, j) for n, j in _of_kind(rendered[env], "Job").items()
                    if n.startswith("twenty-migrate-")]  # fmt: skip
    version = cfg.workloads.image_version.replace(".", "-")
    assert re.fullmatch(f"twenty-migrate-{version}-[0-9a-f]{{6}}", name)
    container = job["spec"]["template"]["spec"]["containers"][0]
    script = container["command"][-1]
    assert script.index("yarn database:init:prod") < script.index("yarn command:prod upgrade")
    assert script.index("upgrade") < script.index("cache:flush") < script.index("cron:register:all")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_migration_job_renamed_when_its_spec_changes(cfg: EnvironmentConfig) -> None:
    """Same image and spec: same Job (not re-run); other resources: a new Job (pod templates of
    Jobs are immutable); other stacks' values (the Job does not use them): same Job."""
    base = test_inputs(cfg)
    name = migration_job_name(render_phases(base))
    moved = dataclasses.replace(base, database_host="elsewhere.internal", redis_port=6380)
    assert migration_job_name(render_phases(moved)) == name
    backend = cfg.workloads.backend.model_copy(update={"memory_request": "1Gi"})
    resized = dataclasses.replace(
        base, workloads=cfg.workloads.model_copy(update={"backend": backend})
    )
    assert migration_job_name(render_phases(resized)) != name


def test_services_autoscalers_and_budgets(
    rendered: dict[str, list[dict[str, Any]]], env: str, cfg: EnvironmentConfig
) -> None:
    manifests = rendered[env]
    services = _of_kind(manifests, "Service")
    assert services["frontend"]["spec"]["ports"][0]["port"] == 3001
    assert services["backend"]["spec"]["ports"][0]["port"] == 3000
    assert all(s["spec"]["ports"][0]["targetPort"] == "http" for s in services.values())
    # KEDA's ScaledObjects own the replica counts (tests/test_scaling.py); no plain HPA.
    assert not _of_kind(manifests, "HorizontalPodAutoscaler")
    autoscalers = _of_kind(manifests, "ScaledObject")
    budgets = _of_kind(manifests, "PodDisruptionBudget")
    for name in ("frontend", "backend", "worker"):
        workload = getattr(cfg.workloads, name)
        spec = autoscalers[name]["spec"]
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (
            workload.min_replicas,
            workload.max_replicas,
        )
        assert spec["triggers"][0] == {
            "type": "cpu",
            "metricType": "Utilization",
            "metadata": {"value": "70"},
        }
        assert budgets[name]["spec"]["maxUnavailable"] == 1


def test_network_policies(
    rendered: dict[str, list[dict[str, Any]]], env: str, cfg: EnvironmentConfig
) -> None:
    policies = _of_kind(rendered[env], "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    alb = policies["allow-alb-to-web"]["spec"]["ingress"][0]
    assert [b["ipBlock"]["cidr"] for b in alb["from"]] == [
        str(c) for c in cfg.network.public_subnets
    ]
    assert alb["ports"] == [{"protocol": "TCP", "port": 3000}]
    # PostgreSQL on the host's own address only; Redis (no fixed address) in the private subnets.
    (database,) = policies["allow-database"]["spec"]["egress"]
    address = test_inputs(cfg).database_address
    assert database["to"] == [{"ipBlock": {"cidr": f"{address}/32"}}]
    assert database["ports"] == [{"protocol": "TCP", "port": 5432}]
    (redis,) = policies["allow-redis"]["spec"]["egress"]
    assert [b["ipBlock"]["cidr"] for b in redis["to"]] == [
        str(c) for c in cfg.network.private_subnets
    ]
    assert redis["ports"] == [{"protocol": "TCP", "port": 6379}]
    for name, policy in policies.items():
        for egress in policy["spec"].get("egress", []):
            if {"protocol": "TCP", "port": 5432} in egress.get("ports", []):
                assert name == "allow-database", name
    dns = policies["allow-dns"]["spec"]["egress"][0]
    assert {p["port"] for p in dns["ports"]} == {53}
    # The managed scraper (ENIs in the private subnets) reaches the exporter port of the
    # server and worker pods, and nothing else is opened by this policy.
    scraper = policies["allow-scraper-to-metrics"]["spec"]
    assert scraper["policyTypes"] == ["Ingress"]
    assert scraper["podSelector"]["matchExpressions"] == [
        {
            "key": "app.kubernetes.io/component",
            "operator": "In",
            "values": ["frontend", "backend", "worker"],
        }
    ]
    (rule,) = scraper["ingress"]
    assert [b["ipBlock"]["cidr"] for b in rule["from"]] == [
        str(c) for c in cfg.network.private_subnets
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9464}]
    for name, policy in policies.items():
        for ingress in policy["spec"].get("ingress", []):
            if {"protocol": "TCP", "port": 9464} in ingress.get("ports", []):
                assert name == "allow-scraper-to-metrics"
    (smtp,) = policies["allow-smtp"]["spec"]["egress"]
    assert smtp["ports"] == [{"protocol": "TCP", "port": cfg.email.smtp_port}]
    assert policies["allow-smtp"]["spec"]["policyTypes"] == ["Egress"]
    # Only the processes that send mail (the worker runs Twenty's email queue; the backend).
    assert policies["allow-smtp"]["spec"]["podSelector"]["matchExpressions"][0]["values"] == [
        "backend",
        "worker",
    ]
    for name, policy in policies.items():
        for egress in policy["spec"].get("egress", []):
            if {"protocol": "TCP", "port": cfg.email.smtp_port} in egress.get("ports", []):
                assert name == "allow-smtp", name


def test_phases_in_deployment_order(env: str, cfg: EnvironmentConfig) -> None:
    phases = render_phases(test_inputs(cfg))
    assert list(phases) == ["namespace", "config", "backup", "migration", "workloads"]
    assert [m["kind"] for m in phases["namespace"]] == ["Namespace"]
    assert {m["kind"] for m in phases["config"]} == {
        "ServiceAccount", "ConfigMap", "ExternalSecret", "NetworkPolicy", "TriggerAuthentication",
        "ClusterTriggerAuthentication",
    }  # fmt: skip
    assert [m["kind"] for m in phases["backup"]] == ["Job"]
    assert [m["kind"] for m in phases["migration"]] == ["Job"]
    assert "Deployment" in {m["kind"] for m in phases["workloads"]}


# A literal secret would be a long random-looking run of characters, or a key=value pair whose
# key says it is secret.
_RANDOM = re.compile(r"(?<![A-Za-z0-9/._-])[A-Za-z0-9+/=]{32,}(?![A-Za-z0-9])")
_SECRET_PAIR = re.compile(
    r"(password|passwd|secret|token|api_?key)\"?\s*[:=]\s*\"?(?!\{\{)[^\s\"{][^\s\"]{7,}", re.I
)


def test_no_secret_value_in_manifests_or_templates(
    written: Path, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    texts = {str(p): p.read_text() for p in written.rglob("*.yaml")}
    texts.update({str(p): p.read_text() for p in TEMPLATE_DIR.glob("*.j2")})
    for name, text in texts.items():
        assert not _RANDOM.search(text), (name, _RANDOM.search(text))
        for match in _SECRET_PAIR.finditer(text):
            value = match.group(0)
            allowed = ("twenty/", "secretKey", "secretName", "-")
            assert any(a in value for a in allowed), (name, value)
    for manifests in rendered.values():
        assert not [m for m in manifests if m["kind"] == "Secret"], "Secrets come from ESO"
        config = _of_kind(manifests, "ConfigMap")["twenty-config"]["data"]
        assert not [k for k in config if re.search("SECRET|PASSWORD|TOKEN|KEY", k)]


def test_secret_scan_would_catch_a_literal(tmp_path: Path) -> None:
    """Guard: the scan is not blind (a 64-character generated value is caught)."""
    assert _RANDOM.search("APP_SECRET: " + "aB3" * 22)
    assert _SECRET_PAIR.search('password: "hunter2hunter2"')


def test_written_files_round_trip(written: Path, rendered: dict[str, list[dict[str, Any]]]):
    for env, manifests in rendered.items():
        files = sorted((written / env).glob("*.yaml"))
        assert [yaml.safe_load(f.read_text()) for f in files] == manifests


def test_pods_fit_the_minimum_nodes(env: str, cfg: EnvironmentConfig) -> None:
    """All minimum replicas + one surge pod per Deployment fit each group's minimum nodes."""
    for tier in capacity.TIERS:
        left = cfg.tier_fit(tier).left
        assert left == [], f"{env} {tier}: {left} do not fit"


def test_allocatable_follows_the_eks_formula() -> None:
    medium = capacity.allocatable("t3.medium")
    assert medium.cpu_m == 1930  # 2000m - 6% of core 1 - 1% of core 2
    assert medium.memory_mib == 3850 - (255 + 11 * 17) - 100
    assert capacity.allocatable("t3.xlarge").cpu_m == 4000 - 80
    assert capacity.cpu_millicores("1.5") == 1500 and capacity.memory_mib("4Gi") == 4096


def test_capacity_check_reports_what_does_not_fit() -> None:
    node = capacity.allocatable("t3.medium")
    none = capacity.Allocatable(cpu_m=0, memory_mib=0, pods=0)
    seeds = [capacity.PodSet("frontend", 3, 2000, 4096)]  # the seeds' 2 vCPU / 4 GB per pod
    assert capacity.unplaced_pods(seeds, nodes=2, node=node, overhead=none) == ["frontend"] * 3
    small = [capacity.PodSet("frontend", 3, 500, 1024)]
    assert capacity.unplaced_pods(small, nodes=2, node=node, overhead=none) == []
