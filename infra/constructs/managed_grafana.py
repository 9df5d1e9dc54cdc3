"""An Amazon Managed Grafana workspace reading the environment's AMP workspace and CloudWatch.

Sign-in needs IAM Identity Center (AWS_SSO) or a SAML identity provider in the account, which
is why the workspace is behind `monitoring.grafana.enabled`. The dashboards of
`monitoring/dashboards/` are imported into it (README, "Dashboards").
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_grafana as grafana
from aws_cdk import aws_iam as iam
from constructs import Construct


class ManagedGrafana(Construct):
    """`self.workspace` with its own role: queries on one AMP workspace, CloudWatch reads."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: str,
        authentication: str,
        prometheus_workspace_arn: str,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "grafana.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"Managed Grafana of twenty-{environment}: read metrics only",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="QueryPrometheus",
                actions=[
                    "aps:QueryMetrics",
                    "aps:GetSeries",
                    "aps:GetLabels",
                    "aps:GetMetricMetadata",
                    "aps:DescribeWorkspace",
                ],
                resources=[prometheus_workspace_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadCloudWatch",
                actions=[
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:GetMetricData",
                    "cloudwatch:ListMetrics",
                    "ec2:DescribeRegions",
                    "tag:GetResources",
                ],
                resources=["*"],
            )
        )
        self.workspace = grafana.CfnWorkspace(
            self,
            "Workspace",
            name=f"twenty-{environment}",
            description=f"Twenty CRM {environment}: dashboards over Prometheus and CloudWatch",
            account_access_type="CURRENT_ACCOUNT",
            authentication_providers=[authentication],
            permission_type="CUSTOMER_MANAGED",
            role_arn=self.role.role_arn,
            data_sources=["PROMETHEUS", "CLOUDWATCH"],
        )
