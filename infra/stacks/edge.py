"""`twenty-<env>-edge`: the internet-facing ALB, its WAF, logs, target groups and DNS name."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from infra.config import PATHS_PER_RULE, EdgeConfig, Site
from infra.constructs.access_log_bucket import AccessLogBucket
from infra.constructs.alb_security_group import AlbSecurityGroup
from infra.constructs.ip_target_group import IpTargetGroup
from infra.constructs.web_acl import LoadBalancerWebAcl
from infra.stacks.base import EstateStack

# The CDK enum member of each policy config accepts (the enum renders exactly that name).
TLS_POLICY_MEMBERS = {
    "ELBSecurityPolicy-TLS13-1-2-2021-06": elbv2.SslPolicy.RECOMMENDED_TLS,
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": elbv2.SslPolicy.TLS13_RES,
    "ELBSecurityPolicy-TLS13-1-3-2021-06": elbv2.SslPolicy.TLS13_13,
    "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09": elbv2.SslPolicy.TLS13_12_PQ,
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09": elbv2.SslPolicy.TLS13_12_RES_PQ,
}
# Listener rule priorities of the frontend path rules: 10, 20, ...; gaps leave room for more.
_RULE_PRIORITY_STEP = 10


class EdgeStack(EstateStack):
    """Internet → WAF → ALB (HTTPS only) → pod IPs, registered by TargetGroupBinding.

    The ALB talks to the pods on `edge.pod_port` only: its security group has no other egress,
    and the network's workload security group admits that port from it alone.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        site: Site,
        edge: EdgeConfig,
        vpc: ec2.IVpc,
        workload_security_group: ec2.ISecurityGroup,
        zone: route53.IHostedZone,
        certificate: acm.ICertificate,
    ) -> None:
        super().__init__(
            scope, site=site, part="edge", description="Twenty CRM: ALB, WAF, access logs, DNS"
        )
        self.alb_security_group = AlbSecurityGroup(
            self,
            "Alb",
            vpc=vpc,
            workload=workload_security_group,
            ports=_pod_ports(edge),
        ).security_group
        self.access_logs = AccessLogBucket(
            self,
            "AccessLogs",
            logical_id="AccessLogsBucket",
            expiration_days=edge.access_logs.expiration_days,
            retain=edge.access_logs.retain,
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=self.alb_security_group,
            ip_address_type=elbv2.IpAddressType.IPV4,
            deletion_protection=edge.deletion_protection,
            idle_timeout=Duration.seconds(edge.idle_timeout_seconds),
            drop_invalid_header_fields=True,
            desync_mitigation_mode=elbv2.DesyncMitigationMode.DEFENSIVE,
            http2_enabled=True,
        )
        self.load_balancer.log_access_logs(self.access_logs.bucket, prefix="alb")

        self.frontend_target_group = IpTargetGroup(
            self, "FrontendTargetGroup", vpc=vpc, target_group=edge.frontend
        ).target_group
        self.backend_target_group = IpTargetGroup(
            self, "BackendTargetGroup", vpc=vpc, target_group=edge.backend
        ).target_group

        self.load_balancer.add_redirect(source_port=80, target_port=443)
        # Every route of Twenty's server and every UI deep link goes to the backend tier (the
        # default), the only pods with the server's full capability; only the static UI files
        # of `edge.frontend_paths` go to the frontend tier (docs/architecture.md, "Routing").
        https = self.load_balancer.add_listener(
            "Https",
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            ssl_policy=TLS_POLICY_MEMBERS[edge.tls_policy],
            certificates=[elbv2.ListenerCertificate.from_certificate_manager(certificate)],
            default_action=elbv2.ListenerAction.forward([self.backend_target_group]),
            open=False,
        )
        paths = edge.frontend_paths
        for n, start in enumerate(range(0, len(paths), PATHS_PER_RULE), start=1):
            elbv2.ApplicationListenerRule(
                self,
                f"FrontendPaths{n}",
                listener=https,
                priority=n * _RULE_PRIORITY_STEP,
                conditions=[
                    elbv2.ListenerCondition.path_patterns(paths[start : start + PATHS_PER_RULE])
                ],
                action=elbv2.ListenerAction.forward([self.frontend_target_group]),
            )

        # WAF's CloudWatch metrics name the web ACL by this visibility metric name.
        self.web_acl_metric_name = f"twenty-{site.environment}-edge"
        self.web_acl = LoadBalancerWebAcl(
            self,
            "Waf",
            waf=edge.waf,
            load_balancer_arn=self.load_balancer.load_balancer_arn,
            metric=self.web_acl_metric_name,
            log_group_name=f"aws-waf-logs-twenty-{site.environment}",
        ).web_acl
        # The VPC is IPv4 only, so the ALB is IPv4 and the name gets an A record only.
        route53.ARecord(
            self,
            "AliasRecord",
            zone=zone,
            target=route53.RecordTarget.from_alias(targets.LoadBalancerTarget(self.load_balancer)),
            comment="The CRM's name points at the ALB",
        )

        CfnOutput(self, "LoadBalancerDnsName", value=self.load_balancer.load_balancer_dns_name)
        CfnOutput(self, "AlbSecurityGroupId", value=self.alb_security_group.security_group_id)
        CfnOutput(self, "FrontendTargetGroupArn", value=self.frontend_target_group.target_group_arn)
        CfnOutput(self, "BackendTargetGroupArn", value=self.backend_target_group.target_group_arn)
        CfnOutput(self, "WebAclArn", value=self.web_acl.attr_arn)
        CfnOutput(self, "AccessLogsBucketName", value=self.access_logs.bucket.bucket_name)
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        """Every nag acknowledgement of this stack, each with the reason it does not apply."""
        self.acknowledge(
            self.alb_security_group,
            "AwsSolutions-EC23",
            "The ALB is the public entry of the CRM: ports 80 (redirect only) and 443 must be "
            "open to every client IP; WAF filters what passes",
        )
        self.acknowledge(
            self.access_logs.bucket,
            "AwsSolutions-S1",
            "This bucket only receives ALB access logs; logging its own accesses to itself "
            "would loop, and CloudTrail records its management events",
        )


def _pod_ports(edge: EdgeConfig) -> set[int]:
    """Ports the ALB must reach on the pods: the pod port and any pinned health-check port."""
    pinned = {tg.health_check.port for tg in (edge.frontend, edge.backend)}
    return {edge.pod_port} | {port for port in pinned if isinstance(port, int)}
