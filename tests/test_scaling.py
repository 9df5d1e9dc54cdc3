"""The CRM's KEDA ScaledObjects: CRD schemas, one autoscaler per Deployment, the seeds' triggers,
fallback and scale-down behaviour, and the config rules behind them."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from infra import capacity, scaling, twenty
from infra.config import EnvironmentConfig
from infra.config.base import ConfigError
from infra.config.loader import load_environment
from infra.manifests import render_manifests
from tests.conftest import CONFIGS
from tests.manifest_inputs import test_inputs

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "crds" / "keda.sh"
KEDA_KINDS = {
    "ScaledObject": "scaledobject_v1alpha1.json",
    "TriggerAuthentication": "triggerauthentication_v1alpha1.json",
    "ClusterTriggerAuthentication": "clustertriggerauthentication_v1alpha1.json",
}
TIERS = ("frontend", "backend", "worker")


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    return {kind: json.loads((SCHEMAS / name).read_text()) for kind, name in KEDA_KINDS.items()}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {env: render_manifests(test_inputs(cfg)) for env, cfg in CONFIGS.items()}


@pytest.fixture
def manifests(rendered: dict[str, list[dict[str, Any]]], env: str) -> list[dict[str, Any]]:
    return rendered[env]


def _of_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def test_keda_objects_validate_against_the_crd_schemas(
    manifests: list[dict[str, Any]], schemas: dict[str, dict[str, Any]]
) -> None:
    checked = 0
    for manifest in manifests:
        if manifest["kind"] in KEDA_KINDS:
            assert manifest["apiVersion"] == "keda.sh/v1alpha1"
            jsonschema.validate(manifest, schemas[manifest["kind"]])
            checked += 1
    assert checked == 5  # three ScaledObjects, a TriggerAuthentication, a cluster one


def test_schema_rejects_a_misspelled_field(
    manifests: list[dict[str, Any]], schemas: dict[str, dict[str, Any]]
) -> None:
    """Guard: the schemas are closed, so validation catches a typo under spec."""
    scaled = copy.deepcopy(_of_kind(manifests, "ScaledObject")["worker"])
    scaled["spec"]["fallback"]["behaviour"] = "static"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, schemas["ScaledObject"])
    auth = copy.deepcopy(_of_kind(manifests, "TriggerAuthentication")[scaling.AWS_TRIGGER_AUTH])
    auth["spec"]["podIdentity"]["identityOwner"] = "operator"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(auth, schemas["TriggerAuthentication"])


def test_one_autoscaler_per_deployment(manifests: list[dict[str, Any]]) -> None:
    """KEDA's admission webhook refuses a ScaledObject on a Deployment another HPA scales."""
    assert not _of_kind(manifests, "HorizontalPodAutoscaler")
    targets = [m["spec"]["scaleTargetRef"] for m in manifests if m["kind"] == "ScaledObject"]
    assert sorted(t["name"] for t in targets) == sorted(_of_kind(manifests, "Deployment"))
    assert all(t["kind"] == "Deployment" and t["apiVersion"] == "apps/v1" for t in targets)


def test_web_tiers_scale_on_the_seeds_triggers(
    manifests: list[dict[str, Any]], cfg: EnvironmentConfig
) -> None:
    scaled = _of_kind(manifests, "ScaledObject")
    arns = {
        "frontend": test_inputs(cfg).frontend_target_group_arn,
        "backend": test_inputs(cfg).backend_target_group_arn,
    }
    for name in ("frontend", "backend"):
        spec = scaled[name]["spec"]
        workload = getattr(cfg.workloads, name)
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (
            workload.min_replicas,
            workload.max_replicas,
        )
        cpu, memory, requests = spec["triggers"]
        assert cpu == {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
        assert memory == {
            "type": "memory",
            "metricType": "Utilization",
            "metadata": {"value": "80"},
        }
        assert requests["type"] == "aws-cloudwatch" and requests["metricType"] == "Value"
        meta = requests["metadata"]
        assert meta["namespace"] == "AWS/ApplicationELB"
        assert meta["metricName"] == "RequestCountPerTarget"
        assert meta["metricStat"] == "Sum" and meta["metricStatPeriod"] == "60"
        assert meta["targetMetricValue"] == "1000"
        assert meta["awsRegion"] == cfg.region
        # The TargetGroup dimension is the ARN's resource part: this tier's own target group.
        assert meta["dimensionName"] == "TargetGroup"
        assert arns[name].endswith(":" + meta["dimensionValue"])
        assert meta["dimensionValue"].startswith("targetgroup/")
        assert requests["authenticationRef"] == {"name": scaling.AWS_TRIGGER_AUTH}


def test_worker_scales_on_every_queue_key(
    manifests: list[dict[str, Any]], cfg: EnvironmentConfig
) -> None:
    spec = _of_kind(manifests, "ScaledObject")["worker"]["spec"]
    # At least one worker always runs: cron jobs and schedulers need a consumer.
    assert spec["minReplicaCount"] == cfg.workloads.worker.min_replicas >= 1
    assert "idleReplicaCount" not in spec
    redis = [t for t in spec["triggers"] if t["type"] == "redis"]
    queues = twenty.contract()["queues"]
    expected = {
        f"{queues['key_prefix']}:{name}:{entry['suffix']}"
        for name in queues["names"]
        for entry in queues["waiting_keys"]
    }
    assert {t["metadata"]["listName"] for t in redis} == expected
    assert len(redis) == len(expected) == 2 * len(queues["names"])
    for trigger in redis:
        assert trigger["metadata"]["address"] == f"test-redis.{cfg.name}.cache.amazonaws.com:6379"
        assert trigger["metadata"]["enableTLS"] == "true"
        assert trigger["metadata"]["listLength"] == str(cfg.workloads.waiting_jobs)
        assert trigger["metricType"] == "AverageValue"
        assert trigger["authenticationRef"] == {
            "kind": "ClusterTriggerAuthentication",
            "name": scaling.REDIS_TRIGGER_AUTH,
        }
        assert "password" not in trigger["metadata"]
    assert not [t for t in spec["triggers"] if t["type"] == "aws-cloudwatch"]


def test_trigger_credentials_come_from_external_secrets(
    manifests: list[dict[str, Any]], cfg: EnvironmentConfig
) -> None:
    """The Redis token: Secrets Manager -> ExternalSecret in KEDA's namespace (the only one
    whose Secrets KEDA may read) -> ClusterTriggerAuthentication. AWS: KEDA's own identity."""
    (redis_auth,) = _of_kind(manifests, "ClusterTriggerAuthentication").values()
    assert redis_auth["metadata"] == {"name": scaling.REDIS_TRIGGER_AUTH}
    (ref,) = redis_auth["spec"]["secretTargetRef"]
    assert ref["parameter"] == "password"
    external = _of_kind(manifests, "ExternalSecret")[ref["name"]]
    assert external["metadata"]["namespace"] == scaling.KEDA_NAMESPACE == "keda"
    assert external["spec"]["target"]["name"] == ref["name"]
    assert external["spec"]["data"] == [
        {"secretKey": ref["key"], "remoteRef": {"key": f"twenty/{cfg.name}/redis-auth-token"}}
    ]
    (aws_auth,) = _of_kind(manifests, "TriggerAuthentication").values()
    assert aws_auth["metadata"] == {
        "name": scaling.AWS_TRIGGER_AUTH,
        "namespace": f"twenty-{cfg.name}",
    }
    assert aws_auth["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}
    # Every authenticationRef of a ScaledObject names one of the two, with its kind.
    refs = {
        json.dumps(t["authenticationRef"], sort_keys=True)
        for m in manifests
        if m["kind"] == "ScaledObject"
        for t in m["spec"]["triggers"]
        if "authenticationRef" in t
    }
    assert refs == {
        json.dumps(
            {"kind": "ClusterTriggerAuthentication", "name": scaling.REDIS_TRIGGER_AUTH},
            sort_keys=True,
        ),
        json.dumps({"name": scaling.AWS_TRIGGER_AUTH}, sort_keys=True),
    }


def test_fallback_is_accepted_by_keda_and_never_shrinks(
    manifests: list[dict[str, Any]], cfg: EnvironmentConfig
) -> None:
    for name, scaled in _of_kind(manifests, "ScaledObject").items():
        spec = scaled["spec"]
        fallback = spec["fallback"]
        # KEDA 2.20's CheckFallbackValid: a trigger other than cpu/memory must exist.
        assert any(t["type"] not in ("cpu", "memory") for t in spec["triggers"])
        assert fallback["behavior"] == "currentReplicasIfHigher"
        assert spec["minReplicaCount"] <= fallback["replicas"] <= spec["maxReplicaCount"]
        workload = getattr(cfg.workloads, name)
        expected = workload.max_replicas if name == "worker" else workload.min_replicas
        assert fallback["replicas"] == expected


def _hpa_desired(pods: int, utilization: float, target: float) -> int:
    """The HPA's replica formula for one Utilization metric (10 % tolerance)."""
    ratio = utilization / target
    if abs(ratio - 1) <= 0.1:
        return pods
    return math.ceil(pods * ratio)


def test_scale_down_behaviour_reaches_the_seeds_threshold(
    manifests: list[dict[str, Any]], cfg: EnvironmentConfig
) -> None:
    """At the seeds' scale-down level (< 30 % CPU) the HPA removes pods from every size above
    the minimum, one per minute after five stable minutes; at 70 % it keeps them."""
    for name, scaled in _of_kind(manifests, "ScaledObject").items():
        spec = scaled["spec"]
        behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
        assert behavior["scaleDown"]["policies"] == [
            {"type": "Pods", "value": 1, "periodSeconds": 60}
        ]
        scaling_cfg = getattr(cfg.workloads, name).scaling
        below, target = scaling_cfg.scale_down.below_percent, scaling_cfg.cpu_percent
        for pods in range(spec["minReplicaCount"] + 1, spec["maxReplicaCount"] + 1):
            assert _hpa_desired(pods, below - 0.5, target) < pods, (name, pods)
            assert _hpa_desired(pods, target, target) == pods


def test_autoscaler_names_match_the_alert(manifests: list[dict[str, Any]]) -> None:
    """HpaAtMaxReplicas (monitoring/rules/kubernetes.yaml) sees KEDA's HPAs by these names."""
    for name, scaled in _of_kind(manifests, "ScaledObject").items():
        hpa = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["name"]
        assert hpa == f"keda-hpa-{name}"


# ---- config rules ----


def _with(env: str, **changes: Any) -> None:
    """Load `env` with `workloads.<tier>.scaling` changes; raises ConfigError when refused."""
    cfg = load_environment(env)
    raw = cfg.model_dump(mode="json", exclude_unset=True)
    for path, value in changes.items():
        node = raw
        *parents, leaf = path.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        EnvironmentConfig.model_validate(raw)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None


@pytest.mark.parametrize(
    ("changes", "wanted"),
    [
        (
            {
                "workloads__backend__scaling": {
                    "cpu_percent": 40,
                    "scale_down": {"below_percent": 45},
                }
            },
            "below_percent",
        ),
        ({"workloads__worker__scaling": {"requests_per_minute": 500}}, "serves no HTTP"),
        ({"workloads__frontend__scaling": {"waiting_jobs": 5}}, "runs no queue jobs"),
        ({"workloads__worker__scaling": {"fallback_replicas": 99}}, "fallback_replicas"),
        (
            {"workloads__frontend__scaling": {"scale_down": {"below_percent": 50}}},
            "would keep",
        ),
        # 64 % < 70 x 20/21, but within the HPA's 10 % tolerance of 70 %: no scale-down.
        (
            {
                "workloads__frontend__min_replicas": 20,
                "workloads__frontend__max_replicas": 20,
                "workloads__frontend__scaling": {"scale_down": {"below_percent": 64}},
            },
            "would keep",
        ),
    ],
)
def test_config_refuses_inconsistent_scaling(changes: dict[str, Any], wanted: str) -> None:
    with pytest.raises(ConfigError, match=wanted):
        _with("dev", **changes)


def test_capacity_holds_at_every_maximum(cfg: EnvironmentConfig) -> None:
    """At the ScaledObjects' maxima every pod fits its node group at max_size, and the database
    connection budget (computed from the same maxima) holds."""
    for tier in ("frontend", "backend"):
        fit = cfg.tier_fit(tier, at_max=True)
        assert not fit.left, (tier, fit.left)
        assert {p.name: p.count for p in fit.pods} == {
            name: getattr(cfg.workloads, name).max_replicas for name in capacity.TIERS[tier]
        }
    budget = cfg.connection_budget()
    assert budget.fits
    assert {n: m for n, (m, _) in budget.per_deployment.items()} == {
        name: getattr(cfg.workloads, name).max_replicas for name in TIERS
    }


def test_config_refuses_maxima_the_node_groups_cannot_hold() -> None:
    with pytest.raises(ConfigError, match=r"max replicas.*max_size"):
        _with("dev", workloads__backend__max_replicas=40, database__tuning__max_connections=1000)
