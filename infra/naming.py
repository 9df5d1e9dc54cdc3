"""Names several stacks must agree on, defined once.

The cluster's External Secrets role may read only secrets under `secret_prefix(env)`; the
database and data stacks name their secrets under it, so all three use these functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.config import EnvironmentConfig, Site

# Every environment has one stack per part, named twenty-<env>-<part>; an environment with a
# `cicd` section has one more. Here, not in infra/estate.py, so that commands can name stacks
# without importing the CDK.
STACK_PARTS = ("network", "dns", "edge", "cluster", "database", "data", "crm", "monitoring")
OPTIONAL_PARTS = ("cicd",)


def stack_parts(cfg: EnvironmentConfig) -> tuple[str, ...]:
    """The parts `cfg`'s environment has."""
    return STACK_PARTS + (("cicd",) if cfg.cicd is not None else ())


def stack_name(environment: str, part: str) -> str:
    return f"twenty-{environment}-{part}"


def secret_prefix(environment: str) -> str:
    """Secrets Manager name prefix of `environment` (`twenty/<env>/`)."""
    return f"twenty/{environment}/"


def secret_name(environment: str, *parts: str) -> str:
    """A secret's name under the environment's prefix, e.g. `twenty/dev/database/app`."""
    return secret_prefix(environment) + "/".join(parts)


def partition_of(region: str) -> str:
    """The AWS partition of a region (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def deploy_role_name(environment: str) -> str:
    """The GitHub deploy role (stack twenty-<env>-cicd), named so the workflow derives its ARN."""
    return f"twenty-{environment}-github-deploy"


def deploy_role_arn(site: Site) -> str:
    return (
        f"arn:{partition_of(site.region)}:iam::{site.account}:role/"
        f"{deploy_role_name(site.environment)}"
    )
