"""The database host's security group: PostgreSQL from the workloads, little egress."""

from __future__ import annotations

import ipaddress

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

# The Amazon-provided DNS resolver sits at the VPC's base address plus two.
_RESOLVER_OFFSET = 2


class DatabaseSecurityGroup(Construct):
    """`self.security_group`: ingress `port` from `clients` only; egress HTTPS, DNS and NTP.

    HTTPS reaches the package mirrors, S3 (pgBackRest), Secrets Manager, SSM and CloudWatch.
    Instance metadata and the Amazon Time Sync Service (169.254.169.123) are link-local and need
    no rule; NTP to the internet stays open as the fallback clock source.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        vpc_cidr: ipaddress.IPv4Network,
        clients: ec2.ISecurityGroup,
        port: int,
        replication: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Twenty database host: PostgreSQL from the EKS nodes only",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(
            clients, ec2.Port.tcp(port), "PostgreSQL from the EKS nodes (workload security group)"
        )
        resolver = ec2.Peer.ipv4(f"{vpc_cidr.network_address + _RESOLVER_OFFSET}/32")
        anywhere = ec2.Peer.any_ipv4()
        for peer, port_range, why in (
            (anywhere, ec2.Port.tcp(443), "HTTPS: packages, S3, Secrets Manager, SSM, CloudWatch"),
            (resolver, ec2.Port.udp(53), "DNS to the VPC resolver"),
            (resolver, ec2.Port.tcp(53), "DNS over TCP to the VPC resolver"),
            (anywhere, ec2.Port.udp(123), "NTP fallback (Amazon Time Sync is link-local)"),
        ):
            self.security_group.add_egress_rule(peer, port_range, why)
        # --- streaming standby (issue 21)
        self.quarantine: ec2.SecurityGroup | None = None
        if not replication:
            return
        self.security_group.add_ingress_rule(
            self.security_group, ec2.Port.tcp(port), "Replication from the other database host"
        )
        self.security_group.add_egress_rule(
            self.security_group, ec2.Port.tcp(port), "Replication to the other database host"
        )
        # The fence of `python -m infra failover`: a host swapped into this group takes no
        # connection (no ingress) but still reaches SSM, Secrets Manager and S3 (HTTPS) and the
        # primary (PostgreSQL), so `rebuild-standby` can turn it into a standby first.
        self.quarantine = ec2.SecurityGroup(
            self,
            "Quarantine",
            vpc=vpc,
            description="Twenty database host fenced by failover: no ingress",
            allow_all_outbound=False,
        )
        for peer, port_range, why in (
            (anywhere, ec2.Port.tcp(443), "HTTPS: SSM, Secrets Manager, S3, CloudWatch"),
            (resolver, ec2.Port.udp(53), "DNS to the VPC resolver"),
            (resolver, ec2.Port.tcp(53), "DNS over TCP to the VPC resolver"),
            (self.security_group, ec2.Port.tcp(port), "Clone from the new primary"),
        ):
            self.quarantine.add_egress_rule(peer, port_range, why)
        self.security_group.add_ingress_rule(
            self.quarantine, ec2.Port.tcp(port), "A fenced host cloning the new primary"
        )
