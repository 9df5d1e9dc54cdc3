"""metrics-server: CPU and memory metrics for HorizontalPodAutoscalers and `kubectl top`."""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from infra.constructs.addons.managed_addon import ManagedAddon


class MetricsServer(Construct):
    """The EKS community add-on `metrics-server` (AWS-built image, versioned like the others)."""

    def __init__(self, scope: Construct, id: str, *, cluster: eks.ICluster, version: str) -> None:
        super().__init__(scope, id)
        self.addon = ManagedAddon(
            self, "Addon", cluster=cluster, addon_name="metrics-server", version=version
        )
