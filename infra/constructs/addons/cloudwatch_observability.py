"""Amazon CloudWatch Observability: pod and node logs (Fluent Bit) and Container Insights.

The EKS add-on `amazon-cloudwatch-observability` runs the CloudWatch agent and Fluent Bit as
DaemonSets under the service account `cloudwatch-agent` (namespace `amazon-cloudwatch`); both
authenticate through EKS Pod Identity with the role here, not the node role.
"""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.addons.managed_addon import ManagedAddon, pod_identity_role

SERVICE_ACCOUNT = "cloudwatch-agent"
METRICS_NAMESPACE = "ContainerInsights"


class CloudWatchObservability(Construct):
    """The add-on at a pinned version and its least-privilege Pod Identity role.

    Instead of the AWS-managed CloudWatchAgentServerPolicy (logs in every group, any metric
    namespace, SSM parameters), the role may write only to `log_groups` (created beforehand,
    with our key and retention) and put metrics only into the ContainerInsights namespace. The
    EC2 Describe calls the agent uses to label node metrics cannot be scoped to resources.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        version: str,
        log_groups: list[logs.ILogGroup],
    ) -> None:
        super().__init__(scope, id)
        self.role = pod_identity_role(
            self,
            "Role",
            description="CloudWatch agent and Fluent Bit: pod/node logs, Container Insights",
        )
        # A LogGroup's ARN ends in `:*`, which covers its streams.
        group_arns = [group.log_group_arn for group in log_groups]
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteClusterLogGroups",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                resources=group_arns,
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ContainerInsightsMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeNodes",
                actions=["ec2:DescribeTags", "ec2:DescribeVolumes", "ec2:DescribeInstances"],
                resources=["*"],
            )
        )
        # Wildcard resources of the role, for the stack's nag acknowledgements.
        self.wildcard_resources = ["*"]
        self.addon = ManagedAddon(
            self,
            "Addon",
            cluster=cluster,
            addon_name="amazon-cloudwatch-observability",
            version=version,
            service_account=SERVICE_ACCOUNT,
            role=self.role,
        )
        for group in log_groups:
            self.addon.node.add_dependency(group)
