"""Typed, validated configuration of one environment, loaded from `config/<name>.yaml`.

Every per-environment value of the estate lives in these models; stacks receive the slice they
need and never read YAML. A bad file produces `ConfigError` whose lines each name the file, the
field and the fix, so `python -m infra validate` and `cdk synth` can print them and exit 2.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from infra import capacity

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
REQUIRED_TAGS = ("Project", "Environment", "Owner", "CostCenter")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{1,14}$")


@dataclass(frozen=True)
class Site:
    """Where an environment's stacks are deployed, and how they are tagged."""

    environment: str
    account: str
    region: str
    availability_zones: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]


class ConfigError(Exception):
    """One or more problems in configuration files; `lines` are ready to print."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


class SubfieldError(ValueError):
    """Raised by a model validator to report several problems at sub-locations of the model.

    Each entry is (relative field path, message); the loader prefixes the model's own location.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{loc}: {msg}" for loc, msg in problems))


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_sizes(min_size: int, desired: int, max_size: int) -> list[tuple[str, str]]:
    """min <= desired <= max, reported on the field to change."""
    problems = []
    if min_size > max_size:
        problems.append(("min_size", f"{min_size} is greater than max_size {max_size}; lower it"))
    elif desired < min_size:
        problems.append(
            ("desired_size", f"{desired} is below min_size {min_size}; raise it to at least that")
        )
    elif desired > max_size:
        problems.append(
            ("desired_size", f"{desired} is above max_size {max_size}; lower it to at most that")
        )
    return problems


# --------------------------------------------------------------------------- network


class NetworkConfig(Strict):
    """The VPC: one public and one private subnet per availability zone, in zone order."""

    vpc_cidr: ipaddress.IPv4Network = Field(description="IPv4 CIDR of the VPC, e.g. 10.0.0.0/16.")
    public_subnets: list[ipaddress.IPv4Network] = Field(
        description="Public subnet CIDRs, one per availability zone, in the order of "
        "`availability_zones`. Hold the ALB and the NAT gateways."
    )
    private_subnets: list[ipaddress.IPv4Network] = Field(
        description="Private subnet CIDRs, one per availability zone, in the order of "
        "`availability_zones`. Hold the EKS nodes, the database host and Redis."
    )
    nat_gateways: int = Field(
        ge=1,
        le=2,
        description="NAT gateways: 1 (one shared, cheaper) or 2 (one per AZ, survives an AZ loss).",
    )
    flow_log_retention_days: int = Field(
        description="Retention of the VPC flow logs in CloudWatch Logs, in days "
        "(a CloudWatch-supported value such as 30, 90, 365)."
    )

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention_supported(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            nearest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - days))
            raise ValueError(
                f"{days} is not a CloudWatch Logs retention period; use e.g. {nearest}"
            )
        return days

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkConfig:
        problems: list[tuple[str, str]] = []
        named = [(f"public_subnets[{i}]", s) for i, s in enumerate(self.public_subnets)] + [
            (f"private_subnets[{i}]", s) for i, s in enumerate(self.private_subnets)
        ]
        for field in ("public_subnets", "private_subnets"):
            count = len(getattr(self, field))
            if count != 2:
                problems.append(
                    (field, f"has {count} subnets; give exactly 2, one per availability zone")
                )
        for loc, subnet in named:
            if not subnet.subnet_of(self.vpc_cidr):
                problems.append((loc, f"{subnet} is not inside vpc_cidr {self.vpc_cidr}"))
        for i, (loc, subnet) in enumerate(named):
            for other_loc, other in named[:i]:
                if subnet.overlaps(other):
                    problems.append((loc, f"{subnet} overlaps {other_loc} {other}"))
        if problems:
            raise SubfieldError(problems)
        return self


# --------------------------------------------------------------------------- cluster


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
ALB_CONTROLLER_POLICIES = Path(__file__).resolve().parent / "constructs" / "addons" / "policies"
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
    cluster_autoscaler_image: str = Field(
        default="v1.35.0",
        description="Cluster Autoscaler image tag, e.g. v1.35.0; its minor must equal "
        "kubernetes_version (the autoscaler is released per Kubernetes minor).",
    )

    @model_validator(mode="after")
    def _versions_shaped(self) -> AddonVersionsConfig:
        problems: list[tuple[str, str]] = []
        for field in ("vpc_cni", "coredns", "kube_proxy", "pod_identity_agent", "metrics_server"):
            value = getattr(self, field)
            if not _EKS_ADDON_VERSION.match(value):
                problems.append(
                    (field, f"{value!r} is not an EKS add-on version like v1.2.3-eksbuild.1")
                )
        for field in ("aws_load_balancer_controller", "external_secrets", "cluster_autoscaler"):
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


# --------------------------------------------------------------------------- database


# Ubuntu LTS releases in standard support, and what replaces a retired one.
UBUNTU_RELEASES = ("22.04", "24.04")
# PostgreSQL majors in community support (https://www.postgresql.org/support/versioning/).
POSTGRES_VERSIONS = (14, 15, 16, 17)
_AMI_ID = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
_PG_SIZE = re.compile(r"^\d+(kB|MB|GB|TB)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PgGraphqlPackage(Strict):
    """A pinned pg_graphql .deb (not in Ubuntu's or PGDG's archive), checked by its hash."""

    url: str = Field(
        pattern=r"^https://",
        description="HTTPS URL of the pg_graphql .deb built for this PostgreSQL major and amd64.",
    )
    sha256: str = Field(
        description="SHA-256 of that .deb, lower-case hex; the host refuses others."
    )

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError(f"{value!r} is not 64 lower-case hex digits (sha256sum output)")
        return value


class DatabaseTuningConfig(Strict):
    """PostgreSQL settings written to conf.d/twenty.conf (seed DB-100/200/300 values)."""

    max_connections: int = Field(
        default=200,
        ge=50,
        description="max_connections; the application role may use all but 20 of them (kept "
        "for the superuser and administration).",
    )
    shared_buffers: str = Field(default="4GB", description="shared_buffers, e.g. 4GB.")
    work_mem: str = Field(default="64MB", description="work_mem per sort/hash, e.g. 64MB.")
    maintenance_work_mem: str = Field(
        default="512MB", description="maintenance_work_mem (VACUUM, CREATE INDEX)."
    )
    effective_cache_size: str = Field(
        default="6GB", description="effective_cache_size: planner's guess of the OS file cache."
    )
    archive_timeout_seconds: int = Field(
        default=300,
        ge=60,
        le=900,
        description="archive_timeout: a WAL segment is archived at least this often, so this "
        "bounds the data lost with the host (RPO target < 15 minutes: at most 900).",
    )

    @field_validator("shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size")
    @classmethod
    def _pg_size(cls, value: str) -> str:
        if not _PG_SIZE.match(value):
            raise ValueError(f"{value!r} is not a PostgreSQL size such as 64MB or 4GB")
        return value


class DatabaseBackupConfig(Strict):
    """The two backup layers: EBS snapshots by AWS Backup and pgBackRest to S3."""

    snapshot_retention_days: int = Field(
        default=35, ge=1, le=3650, description="Days AWS Backup keeps each daily volume snapshot."
    )
    pgbackrest_retention_days: int = Field(
        default=35,
        ge=7,
        le=3650,
        description="Days of pgBackRest history kept (full backups and the WAL that follows "
        "them): the furthest back a point-in-time restore can go.",
    )
    bucket_ia_transition_days: int = Field(
        default=30,
        ge=30,
        description="Days after which backup objects move to S3 Standard-IA (30 at least).",
    )
    bucket_noncurrent_expiry_days: int = Field(
        default=30,
        ge=1,
        description="Days S3 keeps overwritten or deleted backup object versions (undo window "
        "for an operator or attacker deleting the repository).",
    )
    access_log_retention_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Days the server access logs of the backup bucket are kept (who read or "
        "deleted backups).",
    )


class DatabaseConfig(Strict):
    """The EC2 host that runs PostgreSQL (seeds DB-100/200/300)."""

    instance_type: str = Field(description="EC2 instance type of the database host.")
    availability_zone: str = Field(
        description="Zone of the host and its data volume; one of `availability_zones`. "
        "Changing it replaces the host and strands the volume: see docs/runbooks/database.md."
    )
    ubuntu_release: str = Field(
        default="24.04", description="Ubuntu LTS release of the host (22.04 or 24.04)."
    )
    ami_ids: dict[str, str] = Field(
        description="Canonical Ubuntu amd64 AMI id per region, pinned: a new AMI never replaces "
        "the host by itself. Find the current one with `aws ssm get-parameters --names "
        "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id`."
    )
    ubuntu_mirror: str = Field(
        default="https://mirrors.edge.kernel.org/ubuntu/",
        pattern=r"^https://",
        description="HTTPS Ubuntu archive mirror for packages and security updates; HTTPS so "
        "that the host's egress stays 443-only (the EC2 regional mirrors are HTTP).",
    )
    root_volume_size_gib: int = Field(
        default=20,
        ge=8,
        le=1024,
        description="Encrypted gp3 root volume of the host, GiB: OS, packages and logs (the "
        "data lives on the data volume).",
    )
    data_volume_size_gib: int = Field(ge=20, le=16384, description="gp3 data volume size, GiB.")
    data_volume_iops: int = Field(default=3000, ge=3000, le=16000, description="gp3 IOPS.")
    data_volume_throughput_mibps: int = Field(
        default=125, ge=125, le=1000, description="gp3 throughput, MiB/s."
    )
    postgres_version: int = Field(default=16, description="PostgreSQL major version (14-17).")
    pg_graphql: PgGraphqlPackage | None = Field(
        default=None,
        description="Install and enable pg_graphql (seed DB-100) from this pinned package; "
        "omit to skip it. It is not in Ubuntu's archive.",
    )
    tuning: DatabaseTuningConfig = Field(
        default_factory=DatabaseTuningConfig, description="PostgreSQL settings."
    )
    backup: DatabaseBackupConfig = Field(
        default_factory=DatabaseBackupConfig, description="Backup schedules and retention."
    )
    log_retention_days: int = Field(
        default=90, description="Retention of the PostgreSQL log group in CloudWatch Logs, days."
    )

    @field_validator("ubuntu_release")
    @classmethod
    def _ubuntu_supported(cls, value: str) -> str:
        if value not in UBUNTU_RELEASES:
            raise ValueError(
                f"{value!r} is not an Ubuntu LTS release in standard support; use 24.04"
            )
        return value

    @field_validator("postgres_version")
    @classmethod
    def _postgres_supported(cls, value: int) -> int:
        if value not in POSTGRES_VERSIONS:
            raise ValueError(f"{value} is not a PostgreSQL major in community support; use 16")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention_supported(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            nearest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - days))
            raise ValueError(
                f"{days} is not a CloudWatch Logs retention period; use e.g. {nearest}"
            )
        return days

    @field_validator("ami_ids")
    @classmethod
    def _ami_shape(cls, value: dict[str, str]) -> dict[str, str]:
        for region, ami in value.items():
            if not _AMI_ID.match(ami):
                raise ValueError(
                    f"{region}: {ami!r} is not an AMI id such as ami-0abc1234def567890"
                )
        return value


# --------------------------------------------------------------------------- workloads


class WorkloadConfig(Strict):
    """Resources and replica bounds of one CRM Deployment.

    `cpu` and `memory` are the seeds' ceilings per pod: memory becomes the limit, CPU is never a
    limit (EKS reliability guide: CPU limits throttle without protecting neighbours). The
    requests are what the scheduler reserves and must fit the node group (see capacity).
    """

    cpu: str = Field(
        description="CPU ceiling per pod (Kubernetes quantity), from the seeds; "
        "not set as a limit, the request may not exceed it."
    )
    memory: str = Field(description="Memory ceiling per pod (Kubernetes quantity); the limit.")
    cpu_request: str = Field(
        description="CPU the scheduler reserves per pod, e.g. 500m; all minimum replicas plus "
        "one surge pod must fit the node group's minimum nodes."
    )
    memory_request: str = Field(description="Memory the scheduler reserves per pod, e.g. 1Gi.")
    min_replicas: int = Field(ge=1, description="Fewest pods the autoscaler keeps.")
    max_replicas: int = Field(ge=1, description="Most pods the autoscaler may run.")

    @model_validator(mode="after")
    def _replicas_ordered(self) -> WorkloadConfig:
        problems: list[tuple[str, str]] = []
        if self.min_replicas > self.max_replicas:
            problems.append(
                (
                    "min_replicas",
                    f"{self.min_replicas} is greater than max_replicas "
                    f"{self.max_replicas}; lower it",
                )
            )
        pairs = (
            ("cpu", "cpu_request", capacity.cpu_millicores, "m"),
            ("memory", "memory_request", capacity.memory_mib, "Mi"),
        )
        for ceiling_field, request_field, parse, unit in pairs:
            values = {}
            for name in (ceiling_field, request_field):
                try:
                    values[name] = parse(getattr(self, name))
                except ValueError as exc:
                    problems.append((name, str(exc)))
            if len(values) == 2 and values[request_field] > values[ceiling_field]:
                problems.append(
                    (
                        request_field,
                        f"{values[request_field]}{unit} is above the ceiling {ceiling_field} "
                        f"{values[ceiling_field]}{unit}; lower it",
                    )
                )
        if problems:
            raise SubfieldError(problems)
        return self


class ProbeConfig(Strict):
    """One HTTP probe of the CRM's server containers."""

    path: str = Field(default="/healthz", description="HTTP path probed on the container port.")
    period_seconds: int = Field(default=10, ge=1, description="Seconds between probes.")
    timeout_seconds: int = Field(default=5, ge=1, description="Seconds before a probe fails.")
    failure_threshold: int = Field(
        default=3, ge=1, description="Consecutive failures before the probe acts."
    )

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must be an absolute HTTP path such as /healthz")
        return value


# Paths whose answer depends on PostgreSQL or Redis: a liveness probe on them would restart every
# pod when the database blips, turning a data-store hiccup into an outage.
_DEPENDENT_PATHS = ("/dbhealth", "/healthz/database", "/healthz/redis", "/healthz/worker")


class ProbesConfig(Strict):
    """Health checks of frontend and backend (Twenty serves /healthz without touching the DB)."""

    readiness: ProbeConfig = Field(
        default=ProbeConfig(period_seconds=5),
        description="Readiness: when failing, the pod leaves the Service and the target group.",
    )
    liveness: ProbeConfig = Field(
        default=ProbeConfig(),
        description="Liveness: when failing, the kubelet restarts the container. Must not "
        "depend on the database or Redis.",
    )
    startup: ProbeConfig = Field(
        default=ProbeConfig(failure_threshold=60),
        description="Startup: holds the other probes off until the server answers; "
        "period x threshold must cover a first boot (default 10 minutes).",
    )

    @model_validator(mode="after")
    def _liveness_independent(self) -> ProbesConfig:
        if self.liveness.path in _DEPENDENT_PATHS:
            raise SubfieldError(
                [
                    (
                        "liveness.path",
                        f"{self.liveness.path} depends on the database or Redis; use a path "
                        "that only checks the process, e.g. /healthz",
                    )
                ]
            )
        return self


class NodeOverheadConfig(Strict):
    """Requests of the DaemonSets every node runs, taken before the CRM's pods are placed."""

    cpu: str = Field(default="250m", description="CPU requests of the per-node DaemonSets.")
    memory: str = Field(default="384Mi", description="Memory requests of the DaemonSets.")
    pods: int = Field(default=5, ge=0, description="DaemonSet pods per node.")


_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9][a-z0-9./_-]*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


class WorkloadsConfig(Strict):
    """The CRM's Deployments (seed component specifications)."""

    image: str = Field(
        description="Twenty's container image with a pinned release tag, e.g. "
        "twentycrm/twenty:v1.14.0 (or a @sha256 digest); `latest` and untagged are refused."
    )
    secret_store_name: str = Field(
        default="aws-secrets-manager",
        description="Name of the External Secrets ClusterSecretStore reading Secrets Manager; "
        "used to render the review copy, the cluster stack passes the real one.",
    )
    probes: ProbesConfig = Field(default=ProbesConfig(), description="Health checks.")
    node_overhead: NodeOverheadConfig = Field(
        default=NodeOverheadConfig(),
        description="Per-node DaemonSet requests the capacity check subtracts.",
    )
    frontend: WorkloadConfig = Field(description="The UI Deployment.")
    backend: WorkloadConfig = Field(description="The API Deployment.")
    worker: WorkloadConfig = Field(description="The background worker Deployment.")

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        match = _IMAGE.match(value)
        if not match:
            raise ValueError(
                f"{value!r} is not an image reference such as twentycrm/twenty:v1.14.0"
            )
        if match.group("tag") == "latest":
            raise ValueError(f"{value!r} uses the moving tag latest; pin a release such as v1.14.0")
        if not match.group("tag") and not match.group("digest"):
            raise ValueError(f"{value!r} has no tag; pin a release such as {value}:v1.14.0")
        return value

    @property
    def image_version(self) -> str:
        """The tag (or digest) of the image: names the migration Job of that version."""
        match = _IMAGE.match(self.image)
        assert match is not None
        return match.group("tag") or match.group("digest")


# --------------------------------------------------------------------------- redis


class RedisConfig(Strict):
    """The ElastiCache replication group Twenty uses for its cache and BullMQ queues."""

    engine: str = Field(default="valkey", description="valkey or redis (Redis OSS).")
    engine_version: str = Field(
        default="8.0", description="Engine version: 7.2/8.0 for valkey, 7.1 for redis."
    )
    node_type: str = Field(description="Cache node type, e.g. cache.t4g.micro.")
    nodes: int = Field(
        ge=1,
        le=6,
        description="Nodes: 1 (dev, qa) or 2+ (a primary and replicas across zones, with "
        "automatic failover and multi-AZ).",
    )
    snapshot_retention_days: int = Field(
        default=1, ge=0, le=35, description="Days of daily snapshots kept (0 turns them off)."
    )

    @model_validator(mode="after")
    def _engine_known(self) -> RedisConfig:
        supported = {"valkey": ("7.2", "8.0"), "redis": ("7.0", "7.1")}
        if self.engine not in supported:
            raise SubfieldError([("engine", f"{self.engine!r} must be valkey or redis")])
        if self.engine_version not in supported[self.engine]:
            versions = " or ".join(supported[self.engine])
            raise SubfieldError(
                [
                    (
                        "engine_version",
                        f"{self.engine_version!r} must be {versions} for {self.engine}",
                    )
                ]
            )
        return self

    @property
    def parameter_group_family(self) -> str:
        """valkey8, valkey7 or redis7: the family of the engine's major version."""
        return f"{self.engine}{self.engine_version.split('.')[0]}"


# --------------------------------------------------------------------------- storage


class StorageConfig(Strict):
    """The S3 bucket of attachments and its access logs."""

    noncurrent_version_retention_days: int = Field(
        default=90,
        ge=1,
        description="Days an overwritten or deleted file version is kept before expiry.",
    )
    access_log_retention_days: int = Field(
        default=365, ge=1, description="Days the bucket's server access logs are kept."
    )


# --------------------------------------------------------------------------- monitoring

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


class MonitoringConfig(Strict):
    """CloudWatch alarms of the environment and who is told when one fires (seed MON-100).

    Thresholds apply to one `period_seconds` window; an alarm fires after
    `evaluation_periods` windows in a row breach it.
    """

    alarm_emails: list[str] = Field(
        default_factory=list,
        description="E-mail addresses subscribed to the alarm topic; each must confirm the "
        "subscription mail from AWS. May be empty (alarms still show in the console).",
    )
    period_seconds: Literal[60, 300] = Field(
        default=300, description="Length of one alarm evaluation window: 60 or 300 s."
    )
    evaluation_periods: int = Field(
        default=2,
        ge=1,
        le=24,
        description="Consecutive breaching windows before an alarm fires (1-24).",
    )
    alb_5xx_count: int = Field(
        default=10,
        ge=1,
        description="HTTPCode_ELB_5XX_Count per window (errors the ALB itself returns, e.g. "
        "no healthy target) at or above which the load balancer alarm fires.",
    )
    target_5xx_count: int = Field(
        default=10,
        ge=1,
        description="HTTPCode_Target_5XX_Count per window of one target group (errors the "
        "pods return) at or above which its alarm fires.",
    )
    unhealthy_hosts: int = Field(
        default=1,
        ge=1,
        description="UnHealthyHostCount (maximum in the window) of one target group at or "
        "above which its alarm fires.",
    )
    database_cpu_percent: int = Field(
        default=80, description="Database host CPUUtilization (average), percent (1-100)."
    )
    database_disk_used_percent: int = Field(
        default=80,
        description="Used space of the data volume (/var/lib/postgresql, CloudWatch agent "
        "used_percent), percent (1-100).",
    )
    redis_engine_cpu_percent: int = Field(
        default=75,
        description="EngineCPUUtilization of each cache node (the Redis/Valkey main thread), "
        "percent (1-100).",
    )
    redis_memory_percent: int = Field(
        default=80,
        description="DatabaseMemoryUsagePercentage of each cache node, percent (1-100); with "
        "noeviction a full cache fails writes.",
    )

    @field_validator("alarm_emails")
    @classmethod
    def _emails(cls, emails: list[str]) -> list[str]:
        problems = [
            (f"[{i}]", f"{email!r} is not an e-mail address such as alerts@example.com")
            for i, email in enumerate(emails)
            if not _EMAIL.fullmatch(email)
        ]
        if len({e.lower() for e in emails}) != len(emails):
            problems.append(("", "lists an address twice; give each address once"))
        if problems:
            raise SubfieldError(problems)
        return emails

    @field_validator(
        "database_cpu_percent",
        "database_disk_used_percent",
        "redis_engine_cpu_percent",
        "redis_memory_percent",
    )
    @classmethod
    def _percent(cls, value: int) -> int:
        if not 1 <= value <= 100:
            raise ValueError(f"{value} is not a percentage; use 1-100")
        return value


# --------------------------------------------------------------------------- dns


def _within(name: str, domain: str) -> bool:
    bare = name.removeprefix("*.")
    return bare == domain or bare.endswith("." + domain)


class DnsConfig(Strict):
    """The environment's public hosted zone and TLS certificate (seeds DNS-101/102)."""

    subject_alternative_names: list[str] = Field(
        default_factory=list,
        description="Extra names on the ACM certificate besides `domain_name`, e.g. "
        "`*.mgenial.olhai.app.br`. Each must be inside `domain_name`, because the certificate is "
        "validated by DNS records in the environment's own zone.",
    )

    @field_validator("subject_alternative_names")
    @classmethod
    def _names_shape(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.fullmatch(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", name):
                raise ValueError(f"{name!r} is not a lower-case DNS name (a leading *. is allowed)")
        if len(set(names)) != len(names):
            raise ValueError("lists a name twice; give each name once")
        return names


# --------------------------------------------------------------------------- edge

# ALB HTTPS policies that negotiate TLS 1.3 (and at least 1.2): the floor and newer ones.
TlsPolicy = Literal[
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
]
TLS_POLICIES: tuple[str, ...] = get_args(TlsPolicy)
# The rules of AWSManagedRulesCommonRuleSet (version 1.x), which config may switch to count-only.
COMMON_RULE_SET_RULES = (
    "NoUserAgent_HEADER", "UserAgent_BadBots_HEADER", "SizeRestrictions_QUERYSTRING",
    "SizeRestrictions_Cookie_HEADER", "SizeRestrictions_BODY", "SizeRestrictions_URIPATH",
    "EC2MetaDataSSRF_BODY", "EC2MetaDataSSRF_COOKIE", "EC2MetaDataSSRF_URIPATH",
    "EC2MetaDataSSRF_QUERYARGUMENTS", "GenericLFI_QUERYARGUMENTS", "GenericLFI_URIPATH",
    "GenericLFI_BODY", "RestrictedExtensions_URIPATH", "RestrictedExtensions_QUERYARGUMENTS",
    "GenericRFI_QUERYARGUMENTS", "GenericRFI_BODY", "GenericRFI_URIPATH",
    "CrossSiteScripting_COOKIE", "CrossSiteScripting_QUERYARGUMENTS", "CrossSiteScripting_BODY",
    "CrossSiteScripting_URIPATH",
)  # fmt: skip
# AWS WAF's smallest rate-based limit since August 2024 (it was 100 before).
WAF_MIN_RATE_LIMIT = 10
WAF_MAX_RATE_LIMIT = 2_000_000_000
# Path patterns an ALB rule accepts: these characters, at most 128 of them.
_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9_\-.$/~\"'@:+&*?]{0,127}$")
# An ALB listener rule holds at most 5 condition values; longer lists span several rules.
PATHS_PER_RULE = 5
MAX_BACKEND_PATHS = 50


def _check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError(f"{port} is not a TCP port; use 1-65535")
    return port


class HealthCheckConfig(Strict):
    """How the ALB decides a pod may receive traffic."""

    path: str = Field(
        default="/healthz",
        description="HTTP path probed on each target; Twenty's server answers `/healthz` "
        "(the seeds' `/ready`/`/health` are not served by Twenty).",
    )
    port: int | Literal["traffic-port"] = Field(
        default="traffic-port",
        description="Port probed: `traffic-port` (the port the target is registered on, i.e. "
        "the pod port) or a fixed port 1-65535.",
    )
    healthy_http_codes: str = Field(
        default="200", description="HTTP codes that mean healthy, e.g. `200` or `200-299`."
    )
    interval_seconds: int = Field(default=15, ge=5, le=300, description="Seconds between probes.")
    timeout_seconds: int = Field(
        default=5, ge=2, le=120, description="Seconds before a probe counts as failed."
    )
    healthy_threshold: int = Field(
        default=3, ge=2, le=10, description="Consecutive successes before a target is healthy."
    )
    unhealthy_threshold: int = Field(
        default=3, ge=2, le=10, description="Consecutive failures before a target is unhealthy."
    )

    @field_validator("path")
    @classmethod
    def _path_shape(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"{path!r} must start with a slash, e.g. '/{path}'")
        if len(path) > 1024:
            raise ValueError("is longer than 1024 characters; shorten it")
        return path

    @field_validator("port")
    @classmethod
    def _port_range(cls, port: int | str) -> int | str:
        return _check_port(port) if isinstance(port, int) else port

    @field_validator("healthy_http_codes")
    @classmethod
    def _codes_shape(cls, codes: str) -> str:
        if not re.fullmatch(r"[2-4]\d\d(-[2-4]\d\d)?(,[2-4]\d\d(-[2-4]\d\d)?)*", codes):
            raise ValueError(f"{codes!r} must be HTTP codes such as '200', '200-299' or '200,302'")
        return codes

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> HealthCheckConfig:
        if self.timeout_seconds >= self.interval_seconds:
            raise SubfieldError(
                [
                    (
                        "timeout_seconds",
                        f"{self.timeout_seconds} must be below interval_seconds "
                        f"{self.interval_seconds}; lower it",
                    )
                ]
            )
        return self


class TargetGroupConfig(Strict):
    """One IP-type target group; pods are registered into it by a TargetGroupBinding."""

    port: int = Field(
        description="Nominal port of the target group: the seeds' service port, 3001 for "
        "frontend and 3000 for backend. Targets "
        "registered by a TargetGroupBinding carry their own port, the pod port (`edge.pod_port`)."
    )
    deregistration_delay_seconds: int = Field(
        default=30,
        ge=0,
        le=3600,
        description="Seconds a deregistering pod keeps its in-flight requests (connection "
        "draining); keep it below the pod's termination grace period.",
    )
    health_check: HealthCheckConfig = Field(
        default_factory=HealthCheckConfig, description="The target group's health check."
    )

    @field_validator("port")
    @classmethod
    def _port_range(cls, port: int) -> int:
        return _check_port(port)


class AccessLogsConfig(Strict):
    """The S3 bucket the ALB writes its access logs to."""

    expiration_days: int = Field(
        default=90, ge=1, le=3650, description="Days after which access log objects are deleted."
    )
    retain: bool = Field(
        default=True,
        description="Keep the bucket (and its logs) when the stack is deleted. On in prod; "
        "where off, empty the bucket before deleting the stack.",
    )


class WafConfig(Strict):
    """The WAFv2 web ACL in front of the ALB (seed security sections)."""

    rate_limit: int = Field(
        default=2000,
        description="Requests one client IP may send per evaluation window before it is "
        f"blocked; at least {WAF_MIN_RATE_LIMIT} (WAF's minimum).",
    )
    rate_limit_window_seconds: Literal[60, 120, 300, 600] = Field(
        default=300, description="Evaluation window of the rate limit: 60, 120, 300 or 600 s."
    )
    common_rules_count_only: list[str] = Field(
        default_factory=lambda: ["SizeRestrictions_BODY"],
        description="Rules of AWSManagedRulesCommonRuleSet that only count instead of block. "
        "SizeRestrictions_BODY blocks bodies over 8 KB, which Twenty's GraphQL mutations and "
        "file uploads exceed.",
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_range(cls, limit: int) -> int:
        if limit < WAF_MIN_RATE_LIMIT:
            raise ValueError(
                f"{limit} is below WAF's minimum rate limit; use at least {WAF_MIN_RATE_LIMIT}"
            )
        if limit > WAF_MAX_RATE_LIMIT:
            raise ValueError(f"{limit} is above WAF's maximum; use at most {WAF_MAX_RATE_LIMIT}")
        return limit

    @field_validator("common_rules_count_only")
    @classmethod
    def _known_rules(cls, rules: list[str]) -> list[str]:
        problems = [
            (f"[{i}]", f"{rule!r} is not a rule of AWSManagedRulesCommonRuleSet; see the WAF docs")
            for i, rule in enumerate(rules)
            if rule not in COMMON_RULE_SET_RULES
        ]
        if len(set(rules)) != len(rules):
            problems.append(("", "lists a rule twice; give each rule once"))
        if problems:
            raise SubfieldError(problems)
        return rules


def _default_backend_paths() -> list[str]:
    return ["/graphql", "/rest/*", "/auth/*", "/healthz*", "/files/*"]


class EdgeConfig(Strict):
    """The internet-facing ALB, its logs, its target groups and its WAF (seed ALB-101)."""

    tls_policy: TlsPolicy = Field(
        default="ELBSecurityPolicy-TLS13-1-2-2021-06",
        description="HTTPS listener security policy; one of the TLS 1.3 policies: "
        + ", ".join(f"`{p}`" for p in TLS_POLICIES)
        + ".",
    )
    idle_timeout_seconds: int = Field(
        default=60,
        ge=1,
        le=4000,
        description="Seconds an idle client connection stays open; raise it for long "
        "GraphQL subscriptions or uploads.",
    )
    deletion_protection: bool = Field(
        default=True,
        description="ALB deletion protection; on in prod. Turn it off (deploy) before deleting "
        "the stack.",
    )
    pod_port: int = Field(
        default=3000,
        description="Container port the Twenty pods serve UI and API on. TargetGroupBinding "
        "registers pod IPs on this port, and the workload security group admits the ALB on it.",
    )
    backend_paths: list[str] = Field(
        default_factory=_default_backend_paths,
        min_length=1,
        description="ALB path patterns sent to the backend target group; everything else goes "
        "to the frontend. Each starts with a slash; `*` and `?` are wildcards.",
    )
    frontend: TargetGroupConfig = Field(
        default_factory=lambda: TargetGroupConfig(port=3001),
        description="The frontend (UI) target group.",
    )
    backend: TargetGroupConfig = Field(
        default_factory=lambda: TargetGroupConfig(port=3000),
        description="The backend (API) target group.",
    )
    access_logs: AccessLogsConfig = Field(
        default_factory=AccessLogsConfig, description="The ALB access log bucket."
    )
    waf: WafConfig = Field(default_factory=WafConfig, description="The web ACL.")

    @field_validator("pod_port")
    @classmethod
    def _pod_port_range(cls, port: int) -> int:
        return _check_port(port)

    @field_validator("backend_paths")
    @classmethod
    def _paths_shape(cls, paths: list[str]) -> list[str]:
        problems = []
        for i, path in enumerate(paths):
            if not path.startswith("/"):
                problems.append((f"[{i}]", f"{path!r} must start with a slash, e.g. '/{path}'"))
            elif not _PATH_PATTERN.match(path):
                problems.append(
                    (
                        f"[{i}]",
                        f"{path!r} is not an ALB path pattern (at most 128 of A-Z a-z 0-9 "
                        "_-.$/~\"'@:+&*?)",
                    )
                )
        if len(set(paths)) != len(paths):
            problems.append(("", "lists a path twice; give each path once"))
        if len(paths) > MAX_BACKEND_PATHS:
            problems.append(("", f"has {len(paths)} paths; give at most {MAX_BACKEND_PATHS}"))
        if problems:
            raise SubfieldError(problems)
        return paths


# --------------------------------------------------------------------------- environment


class EnvironmentConfig(Strict):
    """Everything one environment (dev, qa, prod, ...) is made of."""

    name: str = Field(description="Environment name; must equal the file name (dev in dev.yaml).")
    account: str = Field(
        description="AWS account id, 12 digits, quoted. The committed ids are examples: "
        "replace them."
    )
    region: str = Field(description="AWS region, e.g. sa-east-1.")
    availability_zones: list[str] = Field(
        description="Exactly two availability zones of `region`, e.g. [sa-east-1a, sa-east-1b]; "
        "explicit so that synth needs no AWS lookup."
    )
    domain_name: str = Field(description="DNS name the CRM is served on, lower-case.")
    tags: dict[str, str] = Field(
        description="Tags applied to every resource; must include Project, Environment (equal to "
        "`name`), Owner and CostCenter."
    )
    network: NetworkConfig = Field(description="The VPC and its subnets.")
    cluster: ClusterConfig = Field(description="The EKS cluster and its node groups.")
    database: DatabaseConfig = Field(description="The PostgreSQL host.")
    workloads: WorkloadsConfig = Field(description="The CRM's Kubernetes Deployments.")
    dns: DnsConfig = Field(
        default_factory=DnsConfig, description="The public hosted zone and the certificate."
    )
    edge: EdgeConfig = Field(
        default_factory=EdgeConfig, description="The ALB, its target groups, logs and WAF."
    )
    redis: RedisConfig = Field(description="The ElastiCache cache and queue store.")
    storage: StorageConfig = Field(
        default=StorageConfig(), description="The S3 bucket of attachments."
    )
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig,
        description="CloudWatch alarms, their thresholds and the alarm topic's subscribers.",
    )

    @field_validator("account", mode="before")
    @classmethod
    def _account_quoted(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} must be a quoted string of 12 digits, e.g. '123456789012'")
        if not re.fullmatch(r"\d{12}", value):
            raise ValueError(f"{value!r} must be 12 digits, e.g. '123456789012'")
        return value

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(
                f"{value!r} must be 2-15 lower-case letters or digits starting with a letter"
            )
        return value

    @field_validator("region")
    @classmethod
    def _region_shape(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name such as sa-east-1")
        return value

    @field_validator("domain_name")
    @classmethod
    def _domain_lower(cls, value: str) -> str:
        if value != value.lower():
            raise ValueError(f"{value!r} must be lower-case: use {value.lower()!r}")
        if not re.fullmatch(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", value):
            raise ValueError(f"{value!r} is not a valid DNS name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EnvironmentConfig:
        problems: list[tuple[str, str]] = []
        zones = self.availability_zones
        if len(zones) != 2:
            problems.append(
                ("availability_zones", f"has {len(zones)} zones; give exactly 2 of {self.region}")
            )
        if len(set(zones)) != len(zones):
            problems.append(("availability_zones", "lists a zone twice; give two different zones"))
        for i, zone in enumerate(zones):
            if not re.fullmatch(re.escape(self.region) + r"[a-z]", zone):
                problems.append(
                    (f"availability_zones[{i}]", f"{zone!r} is not a zone of {self.region}")
                )
        for key in REQUIRED_TAGS:
            if key not in self.tags:
                problems.append(("tags", f"{key} is missing; add it"))
        for i, name in enumerate(self.dns.subject_alternative_names):
            if not _within(name, self.domain_name):
                problems.append(
                    (
                        f"dns.subject_alternative_names[{i}]",
                        f"{name!r} is not inside {self.domain_name}; the certificate is "
                        "validated in that zone only",
                    )
                )
        if self.database.availability_zone not in zones:
            problems.append(
                (
                    "database.availability_zone",
                    f"{self.database.availability_zone!r} is not one of availability_zones "
                    f"{zones}; pick one of them",
                )
            )
        if self.region not in self.database.ami_ids:
            problems.append(
                (
                    "database.ami_ids",
                    f"has no AMI for region {self.region}; add the current Canonical Ubuntu "
                    f"{self.database.ubuntu_release} amd64 AMI of {self.region}",
                )
            )
        problems.extend(self._capacity_problems())
        env_tag = self.tags.get("Environment")
        if env_tag is not None and env_tag != self.name:
            problems.append(("tags.Environment", f"{env_tag!r} must equal name {self.name!r}"))
        if problems:
            raise SubfieldError(problems)
        return self

    def node_overhead(self) -> capacity.Allocatable:
        """What every node's DaemonSets take, as configured."""
        overhead = self.workloads.node_overhead
        return capacity.Allocatable(
            cpu_m=capacity.cpu_millicores(overhead.cpu),
            memory_mib=capacity.memory_mib(overhead.memory),
            pods=overhead.pods,
        )

    def tier_fit(self, tier: str) -> capacity.TierFit:
        """Do the min replicas + one surge pod of `tier`'s Deployments fit its minimum nodes?"""
        group = getattr(self.cluster.node_groups, tier)
        node = capacity.smallest_node(group.instance_types)
        overhead = self.node_overhead()
        pods = [
            capacity.PodSet(
                name=name,
                count=getattr(self.workloads, name).min_replicas + 1,
                cpu_m=capacity.cpu_millicores(getattr(self.workloads, name).cpu_request),
                memory_mib=capacity.memory_mib(getattr(self.workloads, name).memory_request),
            )
            for name in capacity.TIERS[tier]
        ]
        left = capacity.unplaced_pods(pods, nodes=group.min_size, node=node, overhead=overhead)
        return capacity.TierFit(node=node, overhead=overhead, pods=pods, left=left)

    def _capacity_problems(self) -> list[tuple[str, str]]:
        """All minimum replicas plus one surge pod per Deployment fit each node group's minimum."""
        problems: list[tuple[str, str]] = []
        try:
            self.node_overhead()
        except ValueError as exc:
            return [("workloads.node_overhead", str(exc))]
        for tier, names in capacity.TIERS.items():
            group = getattr(self.cluster.node_groups, tier)
            unknown = [t for t in group.instance_types if t not in capacity.INSTANCE_TYPES]
            if unknown:
                problems.append(
                    (
                        f"cluster.node_groups.{tier}.instance_types",
                        f"{unknown[0]} is not in the capacity table; add it to "
                        "infra/capacity.py INSTANCE_TYPES",
                    )
                )
                continue
            fit = self.tier_fit(tier)
            if fit.left:
                wanted = " + ".join(
                    f"{p.count} {p.name} x {p.cpu_m}m/{p.memory_mib}Mi" for p in fit.pods
                )
                node, overhead = fit.node, fit.overhead
                problems.append(
                    (
                        f"workloads.{names[0]}.cpu_request",
                        f"{wanted} (min replicas + 1 surge) do not fit {group.min_size} "
                        f"x {group.instance_types[0]} (each {node.cpu_m}m/"
                        f"{node.memory_mib}Mi/{node.pods} pods allocatable, less "
                        f"{overhead.cpu_m}m/{overhead.memory_mib}Mi/{overhead.pods} pods of "
                        f"DaemonSets): {len(fit.left)} pods left over; lower the requests or raise "
                        f"cluster.node_groups.{tier}.min_size",
                    )
                )
        return problems

    @property
    def site(self) -> Site:
        """Placement and tags shared by every stack of the environment."""
        return Site(
            environment=self.name,
            account=self.account,
            region=self.region,
            availability_zones=tuple(self.availability_zones),
            tags=tuple(sorted(self.tags.items())),
        )


# --------------------------------------------------------------------------- loading


def _format_loc(loc: Iterable[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _join(base: str, sub: str) -> str:
    if not sub:
        return base
    if not base:
        return sub
    return base + sub if sub.startswith("[") else f"{base}.{sub}"


_FIXES = {
    "extra_forbidden": "unknown key; remove it or correct its spelling (docs/config-reference.md)",
    "missing": "is required; add it (docs/config-reference.md)",
}


def _error_lines(label: str, exc: ValidationError) -> Iterator[str]:
    for error in exc.errors(include_url=False):
        loc = _format_loc(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SubfieldError):
            for sub, message in cause.problems:
                yield f"{label}: {_join(loc, sub)}: {message}"
            continue
        fix = _FIXES.get(error["type"])
        if fix is not None:
            message = fix
        else:
            message = error["msg"].removeprefix("Value error, ")
            if "input" in error and error["type"] not in ("value_error",):
                message = f"{error['input']!r}: {message}"
        yield f"{label}: {loc or '(file)'}: {message}"


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_config(path: Path) -> EnvironmentConfig:
    """Parse and validate one environment file; raise ConfigError with one line per problem."""
    label = display_path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(
            [f"{label}: cannot read the file ({exc.strerror}); check the path"]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise ConfigError(
            [f"{label}: (file): is not valid YAML at {where}; fix the syntax"]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{label}: (file): must be a mapping of keys to values"])
    try:
        cfg = EnvironmentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_error_lines(label, exc)) from None
    if cfg.name != path.stem:
        raise ConfigError(
            [f"{label}: name: {cfg.name!r} must equal the file name {path.stem!r}; rename one"]
        )
    return cfg


def environment_files(config_dir: Path = CONFIG_DIR) -> list[Path]:
    """Every `<name>.yaml` in the config directory is an environment."""
    return sorted(config_dir.glob("*.yaml"))


def load_all(paths: Iterable[Path]) -> list[EnvironmentConfig]:
    """Load several environments and check what must hold across them (VPC ranges apart)."""
    lines: list[str] = []
    loaded: list[tuple[Path, EnvironmentConfig]] = []
    for path in paths:
        try:
            loaded.append((path, load_config(path)))
        except ConfigError as exc:
            lines.extend(exc.lines)
    for i, (path, cfg) in enumerate(loaded):
        for other_path, other in loaded[:i]:
            if cfg.network.vpc_cidr.overlaps(other.network.vpc_cidr):
                lines.append(
                    f"{display_path(path)}: network.vpc_cidr: {cfg.network.vpc_cidr} overlaps "
                    f"{other.network.vpc_cidr} of {display_path(other_path)}; give every "
                    "environment its own range"
                )
    if lines:
        raise ConfigError(lines)
    return [cfg for _, cfg in loaded]


def load_environment(name: str, config_dir: Path = CONFIG_DIR) -> EnvironmentConfig:
    """The named environment, validated together with all others (ranges must not collide)."""
    files = environment_files(config_dir)
    if not any(f.stem == name for f in files):
        known = ", ".join(f.stem for f in files) or "none"
        raise ConfigError(
            [f"-c env={name}: no config/{name}.yaml; choose one of: {known}, or add the file"]
        )
    return next(cfg for cfg in load_all(files) if cfg.name == name)
