"""AWS Load Balancer Controller: reconciles Ingress/Service objects and TargetGroupBindings.

The edge stack owns the ALB; the controller registers pod IPs in its target groups
(TargetGroupBinding) and can serve any Ingress a later workload declares.
"""

from __future__ import annotations

import json

from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import alb_controller_policy_file
from infra.constructs.addons.helm import pinned_chart

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"


class AwsLoadBalancerController(Construct):
    """The eks-charts Helm chart at a pinned version, with the controller's own IAM policy.

    The policy is the one the controller project publishes for exactly this release (vendored in
    `policies/`): it scopes every mutating call to resources tagged `elbv2.k8s.aws/cluster`.
    Region and VPC id are passed explicitly, so the controller never asks instance metadata.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        cluster_name: str,
        chart_version: str,
        region: str,
        replicas: int,
        vpc_id: str,
    ) -> None:
        super().__init__(scope, id)
        self.service_account = eks.ServiceAccount(
            self,
            "ServiceAccount",
            cluster=cluster,
            name=SERVICE_ACCOUNT,
            namespace=NAMESPACE,
            identity_type=eks.IdentityType.POD_IDENTITY,
        )
        policy = json.loads(alb_controller_policy_file(chart_version).read_text())
        wildcards: set[str] = set()
        for statement in policy["Statement"]:
            self.service_account.add_to_principal_policy(iam.PolicyStatement.from_json(statement))
            resources = statement["Resource"]
            for resource in [resources] if isinstance(resources, str) else resources:
                if "*" in resource:
                    wildcards.add(resource)
        # Wildcard resources of the published policy, for the stack's nag acknowledgements.
        self.wildcard_resources = sorted(wildcards)
        self.chart = pinned_chart(
            self,
            cluster=cluster,
            repository="https://aws.github.io/eks-charts",
            chart="aws-load-balancer-controller",
            version=chart_version,
            namespace=NAMESPACE,
            values={
                "clusterName": cluster_name,
                "region": region,
                "vpcId": vpc_id,
                "replicaCount": replicas,
                "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
            },
        )
        self.chart.node.add_dependency(self.service_account)
