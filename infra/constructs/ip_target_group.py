"""An IP-type ALB target group whose pods are registered by a TargetGroupBinding.

With IP targets the AWS Load Balancer Controller registers each pod IP with the pod's container
port, so the group's own `port` is only the nominal default; health checks probe the
`traffic-port` (the registered pod port) unless config pins another one.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.config import TargetGroupConfig


class IpTargetGroup(Construct):
    """`self.target_group`: HTTP, IP targets, health check and draining from config."""

    def __init__(
        self, scope: Construct, id: str, *, vpc: ec2.IVpc, target_group: TargetGroupConfig
    ) -> None:
        super().__init__(scope, id)
        check = target_group.health_check
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=vpc,
            target_type=elbv2.TargetType.IP,
            protocol=elbv2.ApplicationProtocol.HTTP,
            port=target_group.port,
            deregistration_delay=Duration.seconds(target_group.deregistration_delay_seconds),
            health_check=elbv2.HealthCheck(
                enabled=True,
                protocol=elbv2.Protocol.HTTP,
                path=check.path,
                port=str(check.port),
                healthy_http_codes=check.healthy_http_codes,
                interval=Duration.seconds(check.interval_seconds),
                timeout=Duration.seconds(check.timeout_seconds),
                healthy_threshold_count=check.healthy_threshold,
                unhealthy_threshold_count=check.unhealthy_threshold,
            ),
        )
