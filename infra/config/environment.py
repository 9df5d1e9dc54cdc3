"""One environment composed of its components, and what must hold across them."""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from infra import capacity, twenty
from infra.config import aws_limits, aws_names
from infra.config.base import Site, Strict, SubfieldError
from infra.config.cicd import CicdConfig
from infra.config.cluster import ClusterConfig
from infra.config.data import RedisConfig, StorageConfig
from infra.config.database import DatabaseConfig
from infra.config.dns import DnsConfig, within_domain
from infra.config.edge import EdgeConfig
from infra.config.email import EmailConfig
from infra.config.monitoring import MonitoringConfig
from infra.config.network import NetworkConfig
from infra.config.recovery import RecoveryConfig
from infra.config.workloads import WorkloadsConfig

REQUIRED_TAGS = ("Project", "Environment", "Owner", "CostCenter")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{1,14}$")
# Words the tooling gives a meaning where an environment name goes: an environment so named
# could not be addressed, or would take another's place.
RESERVED_NAMES = {
    "all": "make's ENV=all and `python -m infra diff --env all` mean every environment",
    "test": "the deploy workflow (.github/workflows/deploy.yml) has a job `test` beside one "
    "job per environment",
}
# What the database host and the EKS nodes boot: Canonical Ubuntu amd64 (database.ami_ids)
# and the AL2023 x86_64 EKS AMI (infra/constructs/eks_node_group.py).
HOST_ARCHITECTURE = "x86_64"


class EnvironmentConfig(Strict):
    """Everything one environment (dev, qa, prod, ...) is made of."""

    name: str = Field(description="Environment name; must equal the file name (dev in dev.yaml).")
    account: str = Field(
        description="AWS account id, 12 digits, quoted. The committed ids are examples: "
        "replace them."
    )
    region: str = Field(
        description="AWS region, e.g. sa-east-1; checked against botocore's endpoint data and "
        "against the pattern Twenty accepts for its bucket region (STORAGE_S3_REGION: no "
        "us-gov-*, us-iso*, eusc-*)."
    )
    availability_zones: list[str] = Field(
        description="Exactly two availability zones of `region`, e.g. [sa-east-1a, sa-east-1b]; "
        "explicit so that synth needs no AWS lookup; checked against cfn-lint's zone list."
    )
    domain_name: str = Field(description="DNS name the CRM is served on, lower-case.")
    tags: dict[str, str] = Field(
        description="Tags applied to every resource; must include Project, Owner and CostCenter. "
        "Environment is derived from `name`; leave it out (if given, it must equal `name`)."
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
    email: EmailConfig = Field(
        default_factory=EmailConfig,
        description="Outbound e-mail through Amazon SES: sender, MAIL FROM domain, SMTP port.",
    )
    cicd: CicdConfig | None = Field(
        default=None,
        description="GitHub Actions deploys: the repository trusted by the OIDC deploy role of "
        "stack `twenty-<env>-cicd` and the promotion order. Absent: no cicd stack; deploy "
        "from a workstation with `make deploy`.",
    )
    recovery: RecoveryConfig | None = Field(
        default=None,
        description="Off-region (and optionally off-account) copies of the CRM's data in stack "
        "`twenty-<env>-recovery`: pgBackRest's second repository, a locked AWS Backup vault "
        "the snapshots are copied to, the file bucket's replica. Required for production "
        "(an environment named prod, or one whose deploys need approval), in compliance mode.",
    )
    recovery_of: str | None = Field(
        default=None,
        description="Set only in a stand-in written by `python -m infra recovery-config` after "
        "a region loss: the environment this one replaces. It may then serve that "
        "environment's domain (the DNS moves to it); it must name another environment of the "
        "directory.",
    )

    @model_validator(mode="before")
    @classmethod
    def _environment_tag_from_name(cls, data: Any) -> Any:
        """tags.Environment is `name`: derived, so a file never has to repeat it."""
        if not isinstance(data, dict):
            return data
        tags, name = data.get("tags"), data.get("name")
        if isinstance(tags, dict) and "Environment" not in tags and isinstance(name, str):
            return {**data, "tags": {**tags, "Environment": name}}
        return data

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
        if value in RESERVED_NAMES:
            raise ValueError(
                f"{value!r} is reserved: {RESERVED_NAMES[value]}; choose another name (and "
                "rename the file)"
            )
        if problem := next(aws_limits.derived_name_problems(value), None):
            raise ValueError(f"{value!r} {problem}")
        return value

    @field_validator("region")
    @classmethod
    def _region_known(cls, value: str) -> str:
        problem = aws_names.region_problem(value) or twenty.region_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("domain_name")
    @classmethod
    def _domain_lower(cls, value: str) -> str:
        if value != value.lower():
            raise ValueError(f"{value!r} must be lower-case: use {value.lower()!r}")
        if not re.fullmatch(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", value):
            raise ValueError(f"{value!r} is not a valid DNS name")
        if problem := aws_limits.certificate_name_problems(value):
            raise ValueError(problem)
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
        problems.extend(self._aws_name_problems())
        for key in REQUIRED_TAGS:
            if key not in self.tags:
                problems.append(("tags", f"{key} is missing; add it"))
        problems.extend(aws_limits.tag_problems(self.tags))
        for i, name in enumerate(self.dns.subject_alternative_names):
            if not within_domain(name, self.domain_name):
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
        problems.extend(self._connection_problems())
        problems.extend(self._recovery_problems())
        env_tag = self.tags.get("Environment")
        if env_tag is not None and env_tag != self.name:
            problems.append(
                (
                    "tags.Environment",
                    f"{env_tag!r} differs from name {self.name!r}; remove it (it is derived "
                    "from name)",
                )
            )
        if problems:
            raise SubfieldError(problems)
        return self

    def _aws_name_problems(self) -> list[tuple[str, str]]:
        """Zones, instance types and node types that AWS's own lists do not have."""
        checks = [
            (f"availability_zones[{i}]", aws_names.zone_problem(zone, self.region))
            for i, zone in enumerate(self.availability_zones)
        ]
        checks.append(
            ("database.instance_type", aws_names.instance_type_problem(self.database.instance_type))
        )
        for tier in capacity.TIERS:
            group = getattr(self.cluster.node_groups, tier)
            checks.extend(
                (
                    f"cluster.node_groups.{tier}.instance_types[{i}]",
                    aws_names.instance_type_problem(name),
                )
                for i, name in enumerate(group.instance_types)
            )
        checks.append(
            (
                "redis.node_type",
                aws_names.cache_node_type_problem(self.redis.node_type, self.region),
            )
        )
        checks.append(
            (
                "database.instance_type",
                aws_limits.architecture_problem(
                    self.database.instance_type,
                    HOST_ARCHITECTURE,
                    "the database AMI (Canonical Ubuntu amd64, database.ami_ids)",
                ),
            )
        )
        for tier in capacity.TIERS:
            group = getattr(self.cluster.node_groups, tier)
            checks.extend(
                (
                    f"cluster.node_groups.{tier}.instance_types[{i}]",
                    aws_limits.architecture_problem(
                        name, HOST_ARCHITECTURE, "the node AMI (AL2023 x86_64 EKS)"
                    ),
                )
                for i, name in enumerate(group.instance_types)
            )
        return [(loc, problem) for loc, problem in checks if problem]

    @property
    def is_production(self) -> bool:
        """Production: the environment named prod, or any whose deploys need reviewers."""
        return self.name == "prod" or bool(self.cicd and self.cicd.approval_required)

    def _recovery_problems(self) -> list[tuple[str, str]]:
        """Production keeps compliance-locked copies in another region; the lock's retention
        window admits the backups' own retention."""
        recovery = self.recovery
        if recovery is None:
            if self.is_production:
                return [
                    (
                        "recovery",
                        "is missing: production keeps its backups in a second region; add "
                        "recovery.region (e.g. us-east-1) and recovery.lock_mode: compliance",
                    )
                ]
            return []
        problems: list[tuple[str, str]] = []
        if recovery.region == self.region:
            problems.append(
                (
                    "recovery.region",
                    f"{recovery.region!r} is the estate's own region; pick another region so "
                    "that a region outage does not take the copies with it",
                )
            )
        if self.is_production and recovery.lock_mode != "compliance":
            problems.append(
                (
                    "recovery.lock_mode",
                    f"{recovery.lock_mode!r}: production's copies must be undeletable by any "
                    "admin; use compliance",
                )
            )
        backup = self.database.backup
        longest = max(backup.snapshot_retention_days, backup.pgbackrest_retention_days)
        if recovery.max_retention_days < longest:
            problems.append(
                (
                    "recovery.max_retention_days",
                    f"{recovery.max_retention_days} is below the backups' retention ({longest} "
                    f"days); raise it to at least {longest}",
                )
            )
        return problems

    @property
    def recovery_site(self) -> Site | None:
        """Where `twenty-<env>-recovery` is deployed: the recovery region, and the recovery
        account or the environment's own. No zones: the stack has no network."""
        if self.recovery is None:
            return None
        return Site(
            environment=self.name,
            account=self.recovery.account or self.account,
            region=self.recovery.region,
            availability_zones=(),
            tags=tuple(sorted(self.tags.items())),
        )

    def node_overhead(self) -> capacity.Allocatable:
        """What every node's DaemonSets take, as configured."""
        overhead = self.workloads.node_overhead
        return capacity.Allocatable(
            cpu_m=capacity.cpu_millicores(overhead.cpu),
            memory_mib=capacity.memory_mib(overhead.memory),
            pods=overhead.pods,
        )

    def tier_fit(self, tier: str, *, at_max: bool = False) -> capacity.TierFit:
        """Do `tier`'s Deployments fit its node group?

        At the minimum (default): min replicas + one surge pod on the group's min_size nodes.
        `at_max`: every Deployment at its ScaledObject's maxReplicaCount on the group's max_size
        nodes (the Cluster Autoscaler grows the group up to there, no further).
        """
        group = getattr(self.cluster.node_groups, tier)
        node = capacity.smallest_node(group.instance_types)
        overhead = self.node_overhead()
        pods = []
        for name in capacity.TIERS[tier]:
            workload = getattr(self.workloads, name)
            pods.append(
                capacity.PodSet(
                    name=name,
                    count=workload.max_replicas if at_max else workload.min_replicas + 1,
                    cpu_m=capacity.cpu_millicores(workload.cpu_request),
                    memory_mib=capacity.memory_mib(workload.memory_request),
                )
            )
        nodes = group.max_size if at_max else group.min_size
        left = capacity.unplaced_pods(pods, nodes=nodes, node=node, overhead=overhead)
        return capacity.TierFit(node=node, overhead=overhead, pods=pods, left=left)

    def connection_budget(self) -> capacity.ConnectionBudget:
        """Connections at full scale against the app role's CONNECTION LIMIT (the database
        host keeps 20 of max_connections for the superuser and administration)."""
        pools = int(twenty.contract()["pools_per_process"])
        return capacity.ConnectionBudget(
            per_deployment={
                name: (w.max_replicas, pools * w.db_pool_size)
                for name, w in self.workloads.deployments().items()
            },
            job=pools * self.workloads.backend.db_pool_size,
            reserve=self.workloads.connection_reserve,
            limit=self.database.app_connection_limit,
        )

    def _connection_problems(self) -> list[tuple[str, str]]:
        budget = self.connection_budget()
        if budget.fits:
            return []
        return [
            (
                "workloads",
                f"{budget.explain()}; lower max_replicas or db_pool_size, or raise "
                "database.tuning.max_connections",
            )
        ]

    def _capacity_problems(self) -> list[tuple[str, str]]:
        """All minimum replicas plus one surge pod per Deployment fit each node group's minimum,
        and all maximum replicas (the ScaledObjects' maxReplicaCount) its maximum."""
        problems: list[tuple[str, str]] = []
        try:
            self.node_overhead()
        except ValueError as exc:
            return [("workloads.node_overhead", str(exc))]
        for tier, names in capacity.TIERS.items():
            group = getattr(self.cluster.node_groups, tier)
            unknown = [t for t in group.instance_types if t not in capacity.INSTANCE_TYPES]
            if any(
                aws_names.instance_type_problem(t)
                or aws_limits.architecture_problem(t, HOST_ARCHITECTURE, "")
                for t in unknown
            ):
                continue  # reported by _aws_name_problems
            if unknown:
                problems.append(
                    (
                        f"cluster.node_groups.{tier}.instance_types",
                        f"{unknown[0]} is not in the capacity table; add it to "
                        "infra/capacity.py INSTANCE_TYPES",
                    )
                )
                continue
            for at_max, what, size, field, knob in (
                (False, "min replicas + 1 surge", group.min_size, "cpu_request", "min_size"),
                (True, "max replicas", group.max_size, "max_replicas", "max_size"),
            ):
                fit = self.tier_fit(tier, at_max=at_max)
                if not fit.left:
                    continue
                wanted = " + ".join(
                    f"{p.count} {p.name} x {p.cpu_m}m/{p.memory_mib}Mi" for p in fit.pods
                )
                node, overhead = fit.node, fit.overhead
                problems.append(
                    (
                        f"workloads.{names[0]}.{field}",
                        f"{wanted} ({what}) do not fit {size} "
                        f"x {group.instance_types[0]} (each {node.cpu_m}m/"
                        f"{node.memory_mib}Mi/{node.pods} pods allocatable, less "
                        f"{overhead.cpu_m}m/{overhead.memory_mib}Mi/{overhead.pods} pods of "
                        f"DaemonSets): {len(fit.left)} pods left over; lower the requests "
                        f"{'or max_replicas, or' if at_max else 'or'} raise "
                        f"cluster.node_groups.{tier}.{knob}",
                    )
                )
                break
        return problems

    @property
    def github_environment(self) -> str | None:
        """The GitHub environment whose jobs deploy this environment (None without cicd)."""
        if self.cicd is None:
            return None
        return self.cicd.github_environment or self.name

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
