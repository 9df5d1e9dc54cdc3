"""The VPC of an environment (seed NET-200)."""

from __future__ import annotations

import ipaddress

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from infra.config.aws_limits import block_size_problem
from infra.config.base import Strict, SubfieldError, check_log_retention


class NetworkConfig(Strict):
    """The VPC: one public and one private subnet per availability zone, in zone order."""

    vpc_cidr: ipaddress.IPv4Network = Field(description="IPv4 CIDR of the VPC, e.g. 10.0.0.0/16.")
    public_subnets: list[ipaddress.IPv4Network] = Field(
        description="Public subnet CIDRs, one per availability zone, in the order of "
        "`availability_zones`. Hold the ALB and the NAT gateways."
    )
    private_subnets: list[ipaddress.IPv4Network] = Field(
        description="Private subnet CIDRs, one per availability zone, in the order of "
        "`availability_zones`. Hold the EKS nodes, the database host and Redis."
    )
    nat_gateways: int = Field(
        ge=1,
        le=2,
        description="NAT gateways: 1 (one shared, cheaper) or 2 (one per AZ, survives an AZ loss).",
    )
    flow_log_retention_days: int = Field(
        description="Retention of the VPC flow logs in CloudWatch Logs, in days "
        "(a CloudWatch-supported value such as 30, 90, 365)."
    )

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention_supported(cls, days: int) -> int:
        return check_log_retention(days)

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkConfig:
        problems: list[tuple[str, str]] = []
        named = [(f"public_subnets[{i}]", s) for i, s in enumerate(self.public_subnets)] + [
            (f"private_subnets[{i}]", s) for i, s in enumerate(self.private_subnets)
        ]
        for field in ("public_subnets", "private_subnets"):
            count = len(getattr(self, field))
            if count != 2:
                problems.append(
                    (field, f"has {count} subnets; give exactly 2, one per availability zone")
                )
        if problem := block_size_problem(self.vpc_cidr, "a VPC"):
            problems.append(("vpc_cidr", problem))
        for loc, subnet in named:
            if problem := block_size_problem(subnet, "a subnet"):
                problems.append((loc, problem))
            elif not subnet.subnet_of(self.vpc_cidr):
                problems.append((loc, f"{subnet} is not inside vpc_cidr {self.vpc_cidr}"))
        for i, (loc, subnet) in enumerate(named):
            for other_loc, other in named[:i]:
                if subnet.overlaps(other):
                    problems.append((loc, f"{subnet} overlaps {other_loc} {other}"))
        if problems:
            raise SubfieldError(problems)
        return self
