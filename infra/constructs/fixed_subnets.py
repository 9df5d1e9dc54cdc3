"""Subnet CIDRs taken from config instead of computed by CDK.

`ec2.Vpc` normally carves subnets from the VPC range in its own order; the estate's subnets are
documented addresses (10.N.1.0/24 ...), so this IIpAddresses hands back exactly the configured
ones. CDK asks for subnets per subnet group, then per zone: public a, public b, private a, ...
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import aws_ec2 as ec2


@jsii.implements(ec2.IIpAddresses)
class FixedSubnetCidrs:
    """Allocates the VPC range and the subnets in the order given."""

    def __init__(
        self, *, vpc_cidr: ipaddress.IPv4Network, subnets: list[ipaddress.IPv4Network]
    ) -> None:
        self._vpc_cidr = str(vpc_cidr)
        self._subnets = [str(s) for s in subnets]

    def allocate_vpc_cidr(self) -> ec2.VpcIpamOptions:
        return ec2.VpcIpamOptions(cidr_block=self._vpc_cidr)

    def allocate_subnets_cidr(
        self, *, requested_subnets: Sequence[ec2.RequestedSubnet | dict[str, Any]], vpc_cidr: str
    ) -> ec2.SubnetIpamOptions:
        if len(requested_subnets) != len(self._subnets):
            raise ValueError(
                f"VPC asks for {len(requested_subnets)} subnets, config gives {len(self._subnets)}"
            )
        return ec2.SubnetIpamOptions(
            allocated_subnets=[ec2.AllocatedSubnet(cidr=c) for c in self._subnets]
        )
