"""What every stack of an environment shares: where it lives, its tags, its nag register."""

from __future__ import annotations

from aws_cdk import Environment, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from infra.config import Site
from infra.nag import NagAcknowledgement, acknowledge
from infra.naming import permissions_boundary_name, stack_name


class EstateStack(Stack):
    """A `twenty-<env>-<part>` stack pinned to its account, region and configured zones.

    The zones come from config, never from a lookup, so synth needs no AWS credentials.
    """

    def __init__(self, scope: Construct, *, site: Site, part: str, description: str) -> None:
        super().__init__(
            scope,
            stack_name(site.environment, part),
            env=Environment(account=site.account, region=site.region),
            description=description,
        )
        self._zones = list(site.availability_zones)
        self.part = part
        self.acknowledgements: list[NagAcknowledgement] = []
        for key, value in site.tags:
            Tags.of(self).add(key, value)
        # Every role and user of the stack (CDK's own provider roles too) carries the estate's
        # boundary, which `make bootstrap` creates and the execution role requires.
        iam.PermissionsBoundary.of(self).apply(
            iam.ManagedPolicy.from_managed_policy_name(
                self, "PermissionsBoundary", permissions_boundary_name(site.environment)
            )
        )

    @property
    def availability_zones(self) -> list[str]:
        return self._zones

    def acknowledge(self, construct: IConstruct, rule_id: str, reason: str) -> None:
        """Acknowledge one nag finding on one construct, with a concrete reason."""
        self.acknowledgements.append(acknowledge(construct, rule_id, reason))
