"""Cluster Autoscaler: adds nodes when pods cannot be scheduled, removes idle ones."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.addons.helm import pinned_chart

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"


def discovery_tags(cluster_name: str) -> dict[str, str]:
    """Tags by which the autoscaler finds (and may resize) a node group's Auto Scaling group.

    EKS puts them on the Auto Scaling group of every managed node group; the node groups carry
    them too so the intent is visible in the template.
    """
    return {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
    }


class ClusterAutoscaler(Construct):
    """The kubernetes/autoscaler chart with auto-discovery by tag.

    Each node group is scaled between its own min and max (read from its Auto Scaling group).
    It may resize only Auto Scaling groups tagged as owned by this cluster.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        cluster_name: str,
        chart_version: str,
        image_tag: str,
        region: str,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.service_account = eks.ServiceAccount(
            self,
            "ServiceAccount",
            cluster=cluster,
            name=SERVICE_ACCOUNT,
            namespace=NAMESPACE,
            identity_type=eks.IdentityType.POD_IDENTITY,
        )
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(
                # Describe/List calls cannot be scoped to resources in IAM.
                actions=[
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                resources=["*"],
            )
        )
        node_groups = stack.format_arn(
            service="eks", resource="nodegroup", resource_name=f"{cluster_name}/*"
        )
        auto_scaling_groups = stack.format_arn(
            service="autoscaling",
            resource="autoScalingGroup",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        # Wildcard resources of the role, for the stack's nag acknowledgements.
        self.wildcard_resources = ["*", node_groups, auto_scaling_groups]
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(actions=["eks:DescribeNodegroup"], resources=[node_groups])
        )
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                resources=[auto_scaling_groups],
                conditions={
                    "StringEquals": {
                        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                    }
                },
            )
        )
        self.chart = pinned_chart(
            self,
            cluster=cluster,
            repository="https://kubernetes.github.io/autoscaler",
            chart="cluster-autoscaler",
            version=chart_version,
            namespace=NAMESPACE,
            values={
                "cloudProvider": "aws",
                "awsRegion": region,
                "autoDiscovery": {"clusterName": cluster_name},
                "image": {"tag": image_tag},
                "rbac": {"serviceAccount": {"create": False, "name": SERVICE_ACCOUNT}},
                "extraArgs": {"expander": "least-waste", "balance-similar-node-groups": "false"},
            },
        )
        self.chart.node.add_dependency(self.service_account)
