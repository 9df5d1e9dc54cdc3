"""The EKS cluster: Kubernetes version, node groups, access and pinned add-ons."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from infra.config.aws_limits import public_endpoint_problem
from infra.config.base import Strict, SubfieldError, check_log_retention, check_sizes

# Kubernetes minor versions in EKS standard support that the estate can run, each with the CDK
# kubectl Lambda layer (package, class) that matches it. A version leaves this table when it
# leaves standard support (extended support costs six times as much per cluster-hour); a new
# one enters with its `aws-cdk.lambda-layer-kubectl-vNN` package pinned in requirements.
KUBERNETES_VERSIONS: dict[str, tuple[str, str]] = {
    "1.34": ("aws_cdk.lambda_layer_kubectl_v34", "KubectlV34Layer"),
    "1.35": ("aws_cdk.lambda_layer_kubectl_v35", "KubectlV35Layer"),
    "1.36": ("aws_cdk.lambda_layer_kubectl_v36", "KubectlV36Layer"),
}
# IAM policies of the AWS Load Balancer Controller, one file per controller release, copied from
# the controller's docs/install/iam_policy.json (chart 1.X.Y installs controller v2.X.Y).
ALB_CONTROLLER_POLICIES = Path(__file__).resolve().parents[1] / "constructs" / "addons" / "policies"
_EKS_ADDON_VERSION = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
_CHART_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def alb_controller_policy_file(chart_version: str) -> Path:
    """The vendored IAM policy of the controller release that chart `chart_version` installs."""
    return (
        ALB_CONTROLLER_POLICIES
        / f"aws-load-balancer-controller-v2.{chart_version.split('.', 1)[1]}.json"
    )


class NodeGroupConfig(Strict):
    """One EKS managed node group."""

    instance_types: list[str] = Field(min_length=1, description="EC2 instance types of the nodes.")
    min_size: int = Field(ge=0, description="Fewest nodes the autoscaler keeps.")
    desired_size: int = Field(ge=0, description="Nodes at creation.")
    max_size: int = Field(ge=1, description="Most nodes the autoscaler may start.")
    root_volume_size_gib: int = Field(
        default=30,
        ge=20,
        le=1000,
        description="Encrypted gp3 root volume of each node, GiB (images and container logs).",
    )

    @model_validator(mode="after")
    def _sizes_ordered(self) -> NodeGroupConfig:
        if problems := check_sizes(self.min_size, self.desired_size, self.max_size):
            raise SubfieldError(problems)
        return self


class NodeGroupsConfig(Strict):
    """The two tiers of the cluster (seed EKS-200)."""

    frontend: NodeGroupConfig = Field(description="Nodes labelled tier=frontend (the UI).")
    backend: NodeGroupConfig = Field(description="Nodes labelled tier=backend (API and worker).")


class AddonVersionsConfig(Strict):
    """Pinned version of every cluster add-on; upgrades are deliberate config changes.

    The defaults are a tested set for Kubernetes 1.35 (the default version).

    EKS add-on versions: `aws eks describe-addon-versions --kubernetes-version <v> --addon-name
    <name>`. Chart versions: `helm search repo <repo>/<chart> --versions`.
    """

    vpc_cni: str = Field(
        default="v1.21.1-eksbuild.1",
        description="EKS add-on `vpc-cni` version, e.g. v1.21.1-eksbuild.1.",
    )
    coredns: str = Field(default="v1.13.2-eksbuild.1", description="EKS add-on `coredns` version.")
    kube_proxy: str = Field(
        default="v1.35.0-eksbuild.2",
        description="EKS add-on `kube-proxy` version; its minor must equal kubernetes_version.",
    )
    pod_identity_agent: str = Field(
        default="v1.3.9-eksbuild.5", description="EKS add-on `eks-pod-identity-agent` version."
    )
    metrics_server: str = Field(
        default="v0.8.0-eksbuild.2", description="EKS community add-on `metrics-server` version."
    )
    aws_load_balancer_controller: str = Field(
        default="1.17.1",
        description="Helm chart version of eks-charts/aws-load-balancer-controller (chart 1.X.Y "
        "runs controller v2.X.Y, whose IAM policy must be vendored in "
        "infra/constructs/addons/policies/).",
    )
    external_secrets: str = Field(
        default="0.20.4", description="Helm chart version of external-secrets."
    )
    cluster_autoscaler: str = Field(
        default="9.52.1", description="Helm chart version of autoscaler/cluster-autoscaler."
    )
    cloudwatch_observability: str = Field(
        default="v4.10.3-eksbuild.1",
        description="EKS add-on `amazon-cloudwatch-observability` version (CloudWatch agent "
        "for Container Insights, Fluent Bit for pod and node logs).",
    )
    kube_state_metrics: str = Field(
        default="7.0.1",
        description="Helm chart version of prometheus-community/kube-state-metrics (7.0.1 "
        "runs kube-state-metrics 2.17.0), scraped by the managed Prometheus collector.",
    )
    keda: str = Field(
        default="2.20.2",
        description="Helm chart version of kedacore/keda (chart 2.X.Y runs KEDA 2.X.Y), the "
        "event-driven autoscaler of the CRM's ScaledObjects.",
    )
    cluster_autoscaler_image: str = Field(
        default="v1.35.0",
        description="Cluster Autoscaler image tag, e.g. v1.35.0; its minor must equal "
        "kubernetes_version (the autoscaler is released per Kubernetes minor).",
    )

    @model_validator(mode="after")
    def _versions_shaped(self) -> AddonVersionsConfig:
        problems: list[tuple[str, str]] = []
        for field in (
            "vpc_cni",
            "coredns",
            "kube_proxy",
            "pod_identity_agent",
            "metrics_server",
            "cloudwatch_observability",
        ):
            value = getattr(self, field)
            if not _EKS_ADDON_VERSION.match(value):
                problems.append(
                    (field, f"{value!r} is not an EKS add-on version like v1.2.3-eksbuild.1")
                )
        for field in (
            "aws_load_balancer_controller",
            "external_secrets",
            "cluster_autoscaler",
            "kube_state_metrics",
            "keda",
        ):
            value = getattr(self, field)
            if not _CHART_VERSION.match(value):
                problems.append((field, f"{value!r} is not a Helm chart version like 1.2.3"))
        if not re.fullmatch(r"v\d+\.\d+\.\d+", self.cluster_autoscaler_image):
            problems.append(
                (
                    "cluster_autoscaler_image",
                    f"{self.cluster_autoscaler_image!r} is not a tag like v1.35.0",
                )
            )
        alb = self.aws_load_balancer_controller
        if _CHART_VERSION.match(alb) and not alb_controller_policy_file(alb).exists():
            vendored = sorted(
                "1." + p.stem.rsplit("-v2.", 1)[1] for p in ALB_CONTROLLER_POLICIES.glob("*.json")
            )
            problems.append(
                (
                    "aws_load_balancer_controller",
                    f"{alb!r} has no vendored IAM policy; use one of {', '.join(vendored)} or add "
                    f"{alb_controller_policy_file(alb).name} from the controller release",
                )
            )
        if problems:
            raise SubfieldError(problems)
        return self


class ClusterConfig(Strict):
    """The EKS control plane (seeds EKS-100/101), its node groups, access and add-ons."""

    kubernetes_version: str = Field(
        default="1.35",
        description="Kubernetes minor version of the control plane; must be in EKS standard "
        f"support: one of {', '.join(KUBERNETES_VERSIONS)}.",
    )
    public_endpoint_cidrs: list[ipaddress.IPv4Network] = Field(
        default=[],
        description="CIDRs allowed to reach the public Kubernetes API endpoint (the private "
        "endpoint is always on). Empty (the default) turns the public endpoint off: private only.",
    )
    admin_role_arns: list[str] = Field(
        default=[],
        description="IAM role ARNs granted cluster-admin (AmazonEKSClusterAdminPolicy) by an "
        "access entry. May be empty: then only the CDK kubectl Lambda administers the cluster.",
    )
    read_only_role_arns: list[str] = Field(
        default=[],
        description="IAM role ARNs granted read-only access (AmazonEKSViewPolicy: no Secrets).",
    )
    node_groups: NodeGroupsConfig = Field(description="Managed node groups, one per tier.")
    controller_replicas: int = Field(
        default=2,
        ge=1,
        le=5,
        description="Replicas of the AWS Load Balancer Controller and External Secrets; 2 keeps "
        "them serving through a node loss.",
    )
    addons: AddonVersionsConfig = Field(
        default=AddonVersionsConfig(), description="Pinned versions of the cluster add-ons."
    )
    log_retention_days: int = Field(
        default=30,
        description="Retention of the control-plane log group (/aws/eks/<cluster>/cluster) and "
        "of the pod, node and Container Insights log groups "
        "(/aws/containerinsights/<cluster>/...), days; a CloudWatch Logs period (1, 3, 5, 7, "
        "14, 30, 60, 90, ...).",
    )

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, days: int) -> int:
        return check_log_retention(days)

    @field_validator("kubernetes_version")
    @classmethod
    def _version_supported(cls, value: str) -> str:
        if value not in KUBERNETES_VERSIONS:
            raise ValueError(
                f"{value!r} is out of EKS standard support (or unknown to this app); use one of "
                f"{', '.join(KUBERNETES_VERSIONS)}"
            )
        return value

    @model_validator(mode="after")
    def _access_and_versions(self) -> ClusterConfig:
        problems: list[tuple[str, str]] = []
        for i, cidr in enumerate(self.public_endpoint_cidrs):
            if cidr.prefixlen < 8:
                problems.append(
                    (
                        f"public_endpoint_cidrs[{i}]",
                        f"{cidr} opens the API endpoint to a large part of the internet; list "
                        "your office or VPN ranges, or none for private only",
                    )
                )
            elif problem := public_endpoint_problem(cidr):
                problems.append((f"public_endpoint_cidrs[{i}]", problem))
        for field in ("admin_role_arns", "read_only_role_arns"):
            for i, arn in enumerate(getattr(self, field)):
                if not _ROLE_ARN.match(arn):
                    problems.append(
                        (
                            f"{field}[{i}]",
                            f"{arn!r} is not an IAM role ARN like "
                            "arn:aws:iam::123456789012:role/name",
                        )
                    )
        minor = self.kubernetes_version
        for field in ("kube_proxy", "cluster_autoscaler_image"):
            value = getattr(self.addons, field)
            if not value.startswith(f"v{minor}."):
                problems.append(
                    (
                        f"addons.{field}",
                        f"{value!r} does not match kubernetes_version {minor}; "
                        f"use a v{minor}.x release",
                    )
                )
        if problems:
            raise SubfieldError(problems)
        return self
