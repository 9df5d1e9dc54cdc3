"""CoreDNS: the cluster's DNS (Service names, and the VPC resolver for everything else)."""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from infra.constructs.addons.managed_addon import ManagedAddon


class CoreDns(Construct):
    """The `coredns` add-on; created after the nodes exist, since its pods need somewhere to run."""

    def __init__(self, scope: Construct, id: str, *, cluster: eks.ICluster, version: str) -> None:
        super().__init__(scope, id)
        self.addon = ManagedAddon(
            self, "Addon", cluster=cluster, addon_name="coredns", version=version
        )
