"""Amazon VPC CNI: gives pods VPC addresses and enforces Kubernetes NetworkPolicy."""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.addons.managed_addon import ManagedAddon, pod_identity_role


class VpcCni(Construct):
    """The `vpc-cni` add-on with network policy enforcement on.

    The CNI's EC2 permissions (AmazonEKS_CNI_Policy) sit on a Pod Identity role of the `aws-node`
    service account instead of the node role, so no other pod on a node inherits them.
    """

    def __init__(self, scope: Construct, id: str, *, cluster: eks.ICluster, version: str) -> None:
        super().__init__(scope, id)
        self.role = pod_identity_role(
            self, "Role", description="VPC CNI (aws-node): assigns pod IP addresses"
        )
        self.role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKS_CNI_Policy")
        )
        self.addon = ManagedAddon(
            self,
            "Addon",
            cluster=cluster,
            addon_name="vpc-cni",
            version=version,
            configuration_values={"enableNetworkPolicy": "true"},
            service_account="aws-node",
            role=self.role,
        )
