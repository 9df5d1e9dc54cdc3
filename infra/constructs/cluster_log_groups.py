"""The cluster's CloudWatch log groups, created by us before anything writes to them.

EKS writes control-plane logs to `/aws/eks/<cluster>/cluster` and the CloudWatch Observability
add-on (Fluent Bit and the CloudWatch agent) to `/aws/containerinsights/<cluster>/<kind>`. Left
to them, both create their groups on first write, unencrypted and kept forever. Creating them
first (same names) gives them our KMS key and the configured retention; the writers find them
and use them.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.encrypted_log_group import allow_cloudwatch_logs, retention_days
from infra.constructs.stateful import retained_key

# Log groups the amazon-cloudwatch-observability add-on writes: pod stdout/stderr
# (application), kubelet/containerd/... journals (dataplane), node /var/log (host) and the
# Container Insights metrics as embedded metric format (performance).
CONTAINER_INSIGHTS_KINDS = ("application", "dataplane", "host", "performance")


def control_plane_log_group_name(cluster_name: str) -> str:
    """The name EKS writes the control-plane logs of `cluster_name` to (fixed by EKS)."""
    return f"/aws/eks/{cluster_name}/cluster"


def container_insights_log_group_name(cluster_name: str, kind: str) -> str:
    """The name the CloudWatch Observability add-on writes `kind` logs of `cluster_name` to."""
    return f"/aws/containerinsights/{cluster_name}/{kind}"


class ClusterLogGroups(Construct):
    """`self.control_plane` and `self.container_insights[kind]`, all under `self.key`.

    One retained, rotated key for the cluster's logs; its policy admits the regional CloudWatch
    Logs service only for log groups of this account. The groups are retained: audit logs
    outlive a stack deletion (a later deploy of the same cluster name must delete them first).
    """

    def __init__(self, scope: Construct, id: str, *, cluster_name: str, retention: int) -> None:
        super().__init__(scope, id)
        self.key = retained_key(
            self,
            "Key",
            description=f"Encrypts the log groups of EKS cluster {cluster_name}",
            logical_id="ClusterLogsKey",
        )
        allow_cloudwatch_logs(self.key)
        self.control_plane = self._group(
            "ControlPlane", control_plane_log_group_name(cluster_name), retention
        )
        self.container_insights = {
            kind: self._group(
                kind.title(), container_insights_log_group_name(cluster_name, kind), retention
            )
            for kind in CONTAINER_INSIGHTS_KINDS
        }

    def _group(self, id: str, name: str, retention: int) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            id,
            log_group_name=name,
            retention=retention_days(retention),
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
