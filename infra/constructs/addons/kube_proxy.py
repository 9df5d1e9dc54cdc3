"""kube-proxy: programs each node's Service routing rules."""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from infra.constructs.addons.managed_addon import ManagedAddon


class KubeProxy(Construct):
    """The `kube-proxy` add-on; its version follows the control plane's minor version."""

    def __init__(self, scope: Construct, id: str, *, cluster: eks.ICluster, version: str) -> None:
        super().__init__(scope, id)
        self.addon = ManagedAddon(
            self, "Addon", cluster=cluster, addon_name="kube-proxy", version=version
        )
