"""The CRM's Kubernetes Deployments: image, resources, replicas and probes."""

from __future__ import annotations

import re

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from infra import capacity, twenty
from infra.config.base import Strict, SubfieldError


class ScaleDownConfig(Strict):
    """How a tier shrinks (the seeds: scale down below 30 % CPU).

    The HorizontalPodAutoscaler KEDA creates has one target per metric and no second threshold:
    n pods become ceil(n x utilization / target). `below_percent` is therefore checked rather
    than rendered: validation requires that at that utilization the autoscaler removes a pod
    from every size above the minimum. The stabilization window and the pace are rendered.
    """

    below_percent: int = Field(
        default=30,
        ge=1,
        le=99,
        description="CPU utilization (percent of the request) under which the seeds scale "
        "down; must be low enough that the autoscaler does shrink at it from min_replicas + 1 "
        "(below cpu_percent x min/(min+1)).",
    )
    stabilization_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="Scale-down acts on the highest recommendation of this window: only load "
        "that stays low removes pods (no flapping after a burst).",
    )
    pods_per_minute: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Most pods removed per minute once a scale-down is due.",
    )


class ScalingConfig(Strict):
    """The KEDA triggers of one tier (docs/architecture.md, Scaling).

    CPU and memory apply to every tier; the request rate only to the web tiers (the ALB target
    group's RequestCountPerTarget), the queue depth only to the worker (Twenty's BullMQ queues).
    """

    cpu_percent: int = Field(
        default=70,
        ge=10,
        le=400,
        description="Scale up above this average CPU utilization (percent of cpu_request).",
    )
    memory_percent: int = Field(
        default=80,
        ge=10,
        le=400,
        description="Scale up above this average memory utilization (percent of memory_request).",
    )
    requests_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="Web tiers only: requests per minute per pod (the target group's "
        "RequestCountPerTarget, Sum over 60 s) above which the tier grows; default 1000 "
        "(the seeds). Not allowed on the worker, which serves no HTTP.",
    )
    waiting_jobs: int | None = Field(
        default=None,
        ge=1,
        description="Worker only: waiting jobs of one queue per worker replica above which "
        "the worker grows (each replica runs every queue at Twenty's concurrency); default "
        "25. Not allowed on the web tiers.",
    )
    fallback_replicas: int | None = Field(
        default=None,
        ge=1,
        description="Replicas KEDA holds at least while a trigger's source (CloudWatch, Redis) "
        "fails 3 polls in a row; more running pods are kept. Default: max_replicas for the "
        "worker (a queue it cannot see may be full), min_replicas for the web tiers (CPU and "
        "memory keep scaling them).",
    )
    scale_down: ScaleDownConfig = Field(
        default=ScaleDownConfig(), description="How the tier shrinks."
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> ScalingConfig:
        if self.scale_down.below_percent >= self.cpu_percent:
            raise SubfieldError(
                [
                    (
                        "scale_down.below_percent",
                        f"{self.scale_down.below_percent} is not below cpu_percent "
                        f"{self.cpu_percent}; the scale-down threshold must be lower than the "
                        "scale-up one",
                    )
                ]
            )
        return self


# The HorizontalPodAutoscaler's default tolerance: it acts only when the metric is more than
# 10 % away from the target (kube-controller-manager --horizontal-pod-autoscaler-tolerance).
HPA_TOLERANCE = 0.1
# The seeds' request rate per pod and our queue-depth target (defaults of ScalingConfig).
DEFAULT_REQUESTS_PER_MINUTE = 1000
DEFAULT_WAITING_JOBS = 25


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
    db_pool_size: int = Field(
        default=5,
        ge=1,
        le=100,
        description="PostgreSQL pool size per datasource of each pod (Twenty's "
        "PG_POOL_MAX_CONNECTIONS); a pod opens up to twice this (core + workspace pools). "
        "Counted in the connection budget.",
    )
    scaling: ScalingConfig = Field(
        default=ScalingConfig(),
        description="KEDA triggers and thresholds (seeds: CPU 70 %, memory 80 %, 1000 "
        "requests a minute, scale down below 30 %).",
    )

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
        fallback = self.scaling.fallback_replicas
        if fallback is not None and not self.min_replicas <= fallback <= self.max_replicas:
            problems.append(
                (
                    "scaling.fallback_replicas",
                    f"{fallback} is outside min_replicas..max_replicas ({self.min_replicas}.."
                    f"{self.max_replicas}); pick a count in that range",
                )
            )
        down = self.scaling.scale_down.below_percent
        # From n = min + 1 pods at `down` % the autoscaler wants ceil(n x down / cpu) pods; it
        # shrinks only if that is below n, i.e. down < cpu x min / (min + 1) (larger n shrink
        # at higher utilization still), and only beyond its 10 % tolerance (down < 0.9 x cpu).
        n = self.min_replicas + 1
        ceiling = min(
            self.scaling.cpu_percent * self.min_replicas / n,
            self.scaling.cpu_percent * (1 - HPA_TOLERANCE),
        )
        if down < self.scaling.cpu_percent and not down < ceiling:
            problems.append(
                (
                    "scaling.scale_down.below_percent",
                    f"at {down} % CPU the autoscaler would keep {n} pods (it shrinks {n} pods "
                    f"only below {ceiling:.1f} % with cpu_percent {self.scaling.cpu_percent}); "
                    "lower below_percent or raise cpu_percent",
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


# The deploy waits at most this long for each Job (infra/stacks/crm.py), below the 15 minutes of
# the kubectl handler Lambda the wait runs in; the backup gate must give up before the deploy.
JOB_WAIT_SECONDS = 14 * 60
_POD_START_MARGIN_SECONDS = 120


class UpgradeBackupConfig(Strict):
    """The backup gate of an upgrade: a pgBackRest backup on the database host through SSM Run
    Command, which must succeed before the migration Job runs (docs/runbooks/upgrade.md)."""

    aws_cli_image: str = Field(
        default="public.ecr.aws/aws-cli/aws-cli:2.36.43",
        description="The official AWS CLI v2 image (tag = CLI release) the gate's pod runs, "
        "pinned to a release tag; `latest` and untagged are refused.",
    )
    timeout_seconds: int = Field(
        default=600,
        ge=60,
        le=JOB_WAIT_SECONDS - _POD_START_MARGIN_SECONDS,
        description="How long the gate waits for the backup on the host (also the SSM "
        "command's execution timeout); below the deploy's 14-minute wait for the Job, with "
        "two minutes for the pod to start.",
    )
    poll_seconds: int = Field(
        default=10, ge=1, le=60, description="Seconds between status polls of the SSM command."
    )

    @field_validator("aws_cli_image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        match = _IMAGE.match(value)
        if not match or not match.group("tag") or match.group("tag") == "latest":
            raise ValueError(
                f"{value!r} is not pinned; use a release tag such as "
                "public.ecr.aws/aws-cli/aws-cli:2.36.43"
            )
        return value


class WorkloadsConfig(Strict):
    """The CRM's Deployments (seed component specifications)."""

    image: str = Field(
        description="Twenty's container image with a pinned release tag, e.g. "
        "twentycrm/twenty:v2.33.0, optionally followed by @sha256:<digest>; `latest`, untagged "
        "and a tag other than the contract's (infra/twenty/contract.yaml) are refused."
    )
    deployed_version: str | None = Field(
        default=None,
        description="Twenty release running in this environment now (e.g. v2.32.0), updated "
        "after every successful rollout; omit for a new environment. `validate` refuses an "
        "image Twenty cannot upgrade to from it (see docs/runbooks/upgrade.md).",
    )
    connection_reserve: int = Field(
        default=10,
        ge=0,
        description="Database connections kept free of the CRM's pools (psql, monitoring, "
        "pgBackRest); part of the connection budget.",
    )
    secret_store_name: str = Field(
        default="aws-secrets-manager",
        description="Name of the External Secrets ClusterSecretStore reading Secrets Manager; "
        "used to render the review copy, the cluster stack passes the real one.",
    )
    upgrade_backup: UpgradeBackupConfig = Field(
        default=UpgradeBackupConfig(),
        description="The pgBackRest backup that gates every new release (before migration).",
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
                f"{value!r} is not an image reference such as twentycrm/twenty:v2.33.0"
            )
        if match.group("tag") == "latest":
            raise ValueError(f"{value!r} uses the moving tag latest; pin a release such as v2.33.0")
        if not match.group("tag"):
            raise ValueError(f"{value!r} has no tag; pin a release such as {value}:v2.33.0")
        pinned = twenty.contract()["version"]
        if match.group("tag") != pinned:
            raise ValueError(
                f"tag {match.group('tag')} is not the release the contract describes ({pinned}); "
                "update infra/twenty/contract.yaml from that release's source first"
            )
        return value

    @field_validator("deployed_version")
    @classmethod
    def _release_tag(cls, value: str | None) -> str | None:
        if value is not None and twenty.parse_version(value) is None:
            raise ValueError(f"{value!r} is not a release tag such as v2.32.0")
        return value

    @model_validator(mode="after")
    def _triggers_fit_the_tiers(self) -> WorkloadsConfig:
        problems: list[tuple[str, str]] = []
        for name in ("frontend", "backend"):
            if getattr(self, name).scaling.waiting_jobs is not None:
                problems.append(
                    (
                        f"{name}.scaling.waiting_jobs",
                        f"the {name} runs no queue jobs; remove it (only the worker scales on "
                        "queue depth)",
                    )
                )
        if self.worker.scaling.requests_per_minute is not None:
            problems.append(
                (
                    "worker.scaling.requests_per_minute",
                    "the worker serves no HTTP requests; remove it (only frontend and "
                    "backend scale on request rate)",
                )
            )
        if problems:
            raise SubfieldError(problems)
        return self

    @model_validator(mode="after")
    def _upgrade_allowed(self) -> WorkloadsConfig:
        if self.deployed_version is not None:
            problem = twenty.upgrade_problem(self.deployed_version, self.image_version)
            if problem:
                raise SubfieldError([("image", problem)])
        return self

    def requests_per_minute(self, name: str) -> int:
        """Request-rate target per pod of a web tier (the seeds' 1000 unless configured)."""
        value = getattr(self, name).scaling.requests_per_minute
        return DEFAULT_REQUESTS_PER_MINUTE if value is None else int(value)

    @property
    def waiting_jobs(self) -> int:
        """Waiting jobs of one queue per worker replica."""
        value = self.worker.scaling.waiting_jobs
        return DEFAULT_WAITING_JOBS if value is None else int(value)

    def fallback_replicas(self, name: str) -> int:
        """Replicas KEDA holds at least while a trigger's source fails."""
        workload = getattr(self, name)
        if workload.scaling.fallback_replicas is not None:
            return int(workload.scaling.fallback_replicas)
        return int(workload.max_replicas if name == "worker" else workload.min_replicas)

    def deployments(self) -> dict[str, WorkloadConfig]:
        """The Deployments by name (frontend, backend, worker)."""
        return {"frontend": self.frontend, "backend": self.backend, "worker": self.worker}

    @property
    def image_version(self) -> str:
        """The release tag of the image, e.g. v2.33.0: names the migration Job of that version."""
        match = _IMAGE.match(self.image)
        assert match is not None
        tag: str = match.group("tag")
        return tag
