"""Builds the stacks of one environment and wires each stack's outputs into the next.

Dependencies follow the resources a stack uses, so an environment deploys in few waves:
network first; then the stacks that only need the VPC, in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from infra.config import EnvironmentConfig
from infra.stacks.base import EstateStack
from infra.stacks.data import DataStack
from infra.stacks.network import NetworkStack

# Every environment has one stack per part, named twenty-<env>-<part>.
STACK_PARTS = ("network", "data")


@dataclass
class Estate:
    """The stacks of one environment, by part."""

    config: EnvironmentConfig
    network: NetworkStack
    data: DataStack

    @property
    def stacks(self) -> list[EstateStack]:
        return [self.network, self.data]


def build_estate(scope: Construct, cfg: EnvironmentConfig) -> Estate:
    """Create every stack of `cfg`'s environment under `scope` (an App or a Stage)."""
    site = cfg.site
    network = NetworkStack(scope, site=site, network=cfg.network)
    data = DataStack(
        scope,
        site=site,
        redis=cfg.redis,
        storage=cfg.storage,
        vpc=network.vpc,
        workload_security_group=network.workload_security_group,
    )
    return Estate(config=cfg, network=network, data=data)
