"""`twenty-<env>-network`: the VPC every other stack of the environment lives in (seed NET-*)."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.config import NetworkConfig, Site
from infra.constructs.encrypted_log_group import EncryptedLogGroup
from infra.constructs.fixed_subnets import FixedSubnetCidrs
from infra.stacks.base import EstateStack


class NetworkStack(EstateStack):
    """Two public and two private subnets in two zones, NAT, flow logs, an S3 endpoint.

    It also owns the security group every EKS node wears (`workload_security_group`), so the
    database and Redis can admit the cluster without depending on the cluster stack: both then
    deploy in the same wave as the cluster.
    """

    def __init__(self, scope: Construct, *, site: Site, network: NetworkConfig) -> None:
        super().__init__(
            scope, site=site, part="network", description="Twenty CRM: VPC, subnets, NAT, flow logs"
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=FixedSubnetCidrs(
                vpc_cidr=network.vpc_cidr,
                subnets=[*network.public_subnets, *network.private_subnets],
            ),
            availability_zones=list(site.availability_zones),
            nat_gateways=network.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
            ],
            restrict_default_security_group=True,
            enable_dns_hostnames=True,
            enable_dns_support=True,
        )
        flow_logs = EncryptedLogGroup(
            self, "FlowLogs", retention=network.flow_log_retention_days, purpose="VPC flow"
        )
        ec2.FlowLog(
            self,
            "FlowLog",
            resource_type=ec2.FlowLogResourceType.from_vpc(self.vpc),
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs.log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        self.vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.workload_security_group = ec2.SecurityGroup(
            self,
            "WorkloadSecurityGroup",
            vpc=self.vpc,
            description="Worn by every EKS node; data stores admit their ports from it",
            allow_all_outbound=True,
        )
        CfnOutput(self, "VpcId", value=self.vpc.vpc_id)
        CfnOutput(
            self,
            "PrivateSubnetIds",
            value=",".join(s.subnet_id for s in self.vpc.private_subnets),
        )
        CfnOutput(
            self, "PublicSubnetIds", value=",".join(s.subnet_id for s in self.vpc.public_subnets)
        )
        CfnOutput(
            self,
            "WorkloadSecurityGroupId",
            value=self.workload_security_group.security_group_id,
        )
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        """Every nag acknowledgement of this stack, each with the reason it does not apply."""
        self.acknowledge(
            self.vpc,
            "CloudFormation-Validate::W3010",
            "Subnet zones come from config on purpose: synth must make no AWS lookup and the "
            "documented subnet-to-zone layout must not move between deploys",
        )
