"""EKS Pod Identity Agent: hands pods the IAM credentials of their service account's role."""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from constructs import Construct, IConstruct


class PodIdentityAgent(Construct):
    """Pins the version of the cluster's `eks-pod-identity-agent` add-on.

    CDK creates that add-on itself (unversioned) the first time a Pod Identity service account
    is declared, and makes every such service account depend on it; this module takes it over,
    so there is exactly one agent add-on and it is versioned from config. Every controller of
    this cluster gets AWS credentials through the agent; without it their pods find none
    (instance metadata is out of reach at hop limit 1), so they fail closed.
    """

    def __init__(self, scope: Construct, id: str, *, cluster: eks.Cluster, version: str) -> None:
        super().__init__(scope, id)
        agent = cluster.eks_pod_identity_agent
        assert agent is not None
        self.addon: IConstruct = agent
        resource = agent.node.default_child
        assert isinstance(resource, eks.CfnAddon)
        resource.addon_version = version
        resource.resolve_conflicts = "OVERWRITE"
        resource.preserve_on_delete = False
