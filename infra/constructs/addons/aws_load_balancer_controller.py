"""AWS Load Balancer Controller: keeps pod IPs registered in the edge stack's target groups.

The edge stack owns the ALB; the controller serves TargetGroupBindings only (an Ingress or a
Service of type LoadBalancer would fail for want of rights, on purpose: see docs/security.md).
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


# The services whose read calls a TargetGroupBinding needs (target health, the target group's
# type and VPC, the VPC's CIDRs for IP targets); the published policy's other services (ACM,
# Cognito, IAM certificates, WAF, Shield) serve Ingress and Service load balancers only.
READ_SERVICES = ("ec2", "elasticloadbalancing")
READ_VERBS = ("Describe", "Get")
# The writes a TargetGroupBinding needs, granted on this estate's target groups by the crm stack.
TARGET_WRITES = ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets")


def is_read(action: str) -> bool:
    service, _, name = action.partition(":")
    return service in READ_SERVICES and name.startswith(READ_VERBS)


def published_actions(chart_version: str) -> set[str]:
    """Every action of the controller project's published policy for this release."""
    policy = json.loads(alb_controller_policy_file(chart_version).read_text())
    return {
        action
        for statement in policy["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }


def read_actions(chart_version: str) -> list[str]:
    """The published policy's EC2 and ELB Describe/Get actions (all on `*` there)."""
    return sorted(a for a in published_actions(chart_version) if is_read(a))


class AwsLoadBalancerController(Construct):
    """The eks-charts Helm chart at a pinned version, serving TargetGroupBindings only.

    The estate's ALB, listeners, rules, target groups, WAF association and security groups are
    CloudFormation's (edge stack); the controller only keeps pod IPs registered in two target
    groups. So its role gets the read calls of the published policy for this release (vendored
    in `policies/`, filtered by `read_actions`) and nothing else here; the crm stack, which
    declares the bindings, grants Register/DeregisterTargets on exactly those target groups.
    No listener, rule, load balancer, security group, WAF or Shield write: docs/security.md
    lists what was removed. WAF and Shield handling are off in the controller too.
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
        self.role: iam.IRole = self.service_account.role
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DescribeTargetGroupsAndTheirNetwork",
                actions=read_actions(chart_version),
                resources=["*"],
            )
        )
        # Wildcard resources of the role, for the stack's nag acknowledgements.
        self.wildcard_resources = ["*"]
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
                # The web ACL is associated by the edge stack; the controller must not manage
                # (nor, without the rights, fail at) WAF or Shield on anything.
                "enableShield": False,
                "enableWaf": False,
                "enableWafv2": False,
            },
        )
        self.chart.node.add_dependency(self.service_account)

    @staticmethod
    def target_statement(target_group_arns: list[str]) -> iam.PolicyStatement:
        """What a TargetGroupBinding writes: its target group's registrations, nothing else."""
        return iam.PolicyStatement(
            sid="RegisterPodsInTheEstatesTargetGroups",
            actions=list(TARGET_WRITES),
            resources=target_group_arns,
        )
