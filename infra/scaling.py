"""What the CRM's ScaledObjects scale on: names and values shared by templates, stacks and tests.

KEDA (the cluster add-on, infra/constructs/addons/keda.py) turns each ScaledObject of
k8s/32-autoscaling.yaml.j2 into one HorizontalPodAutoscaler (`keda-hpa-<name>`): CPU and memory
come from metrics-server, the request rate from CloudWatch and the queue depth from Redis through
KEDA's metrics API server. docs/architecture.md, "Scaling", explains the choices.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra import twenty

# KEDA's namespace (infra/constructs/addons/keda.py). Its operator reads Secrets only here.
KEDA_NAMESPACE = "keda"
# The trigger credentials (k8s/12-keda-trigger-auth.yaml.j2): the Redis one is a
# ClusterTriggerAuthentication, whose Secret KEDA reads in its own namespace; the AWS one a
# TriggerAuthentication of the crm namespace (no secret: KEDA's own Pod Identity).
REDIS_TRIGGER_AUTH = "twenty-keda-redis"
AWS_TRIGGER_AUTH = "twenty-keda-aws"
# The Secret External Secrets writes in KEDA's namespace (the ElastiCache AUTH token only).
REDIS_AUTH_SECRET = "twenty-keda-redis"
# Seconds between KEDA's polls of the external triggers (KEDA's default).
POLLING_INTERVAL_SECONDS = 30
# Consecutive failed polls before a ScaledObject's fallback applies.
FALLBACK_FAILURE_THRESHOLD = 3
# RequestCountPerTarget: AWS/ApplicationELB, dimension TargetGroup, statistic Sum over 60 s
# (the only valid statistic; it is already the per-target average).
REQUEST_METRIC_PERIOD_SECONDS = 60


@dataclass(frozen=True)
class QueueKey:
    """One Redis key holding waiting jobs of one of Twenty's BullMQ queues."""

    queue: str
    suffix: str
    redis_type: str

    @property
    def key(self) -> str:
        prefix = twenty.contract()["queues"]["key_prefix"]
        return f"{prefix}:{self.queue}:{self.suffix}"


def queue_keys() -> list[QueueKey]:
    """Every waiting-jobs key of every queue Twenty's worker drains (from the contract)."""
    queues = twenty.contract()["queues"]
    return [
        QueueKey(queue=name, suffix=entry["suffix"], redis_type=entry["redis_type"])
        for name in queues["names"]
        for entry in queues["waiting_keys"]
    ]


def target_group_full_name(arn: str) -> str:
    """`targetgroup/<name>/<id>` of a literal target group ARN: the CloudWatch `TargetGroup`
    dimension. A deployed ARN is a cross-stack token: pass the target group's own
    `target_group_full_name` instead (CloudFormation's Fn::Split does not take the
    Fn::GetStackOutput of a weak reference)."""
    if "${Token[" in arn or not arn.startswith("arn:"):
        raise ValueError(f"{arn!r} is not a literal target group ARN; pass its full name")
    return arn.split(":", 5)[5]
