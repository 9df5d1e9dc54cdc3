"""Names several stacks (and the day-2 commands) must agree on, defined once.

The cluster's External Secrets role may read only secrets under `secret_prefix(env)`; the
database and data stacks name their secrets under it, so all three use these functions. The
operations commands (`infra/ops/`) find an environment's stacks and alarms by these names
without importing the CDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.config import EnvironmentConfig, Site

# Every environment has one stack per part, named twenty-<env>-<part>, in deploy order; an
# environment with a `cicd` section has one more. Here, not in infra/estate.py, so that commands
# can name stacks without importing the CDK.
STACK_PARTS = ("network", "dns", "edge", "cluster", "database", "data", "crm", "monitoring")
OPTIONAL_PARTS = ("cicd", "recovery")

# Pinned logical id of the database stack's AWS Backup vault (verify reads its recovery points).
BACKUP_VAULT_LOGICAL_ID = "DatabaseBackupVault"


def stack_parts(cfg: EnvironmentConfig) -> tuple[str, ...]:
    """The parts `cfg`'s environment has."""
    optional = {"cicd": cfg.cicd is not None, "recovery": cfg.recovery is not None}
    return STACK_PARTS + tuple(part for part in OPTIONAL_PARTS if optional[part])


def stack_name(environment: str, part: str) -> str:
    """CloudFormation stack name of one part of an environment, e.g. `twenty-dev-dns`."""
    return f"twenty-{environment}-{part}"


def alarm_prefix(environment: str) -> str:
    """Every CloudWatch alarm of the environment is named `twenty-<env>-<what>`."""
    return f"twenty-{environment}-"


def cluster_name(environment: str) -> str:
    """Name of the environment's EKS cluster (`aws eks update-kubeconfig --name ...`)."""
    return f"twenty-{environment}"


def namespace(environment: str) -> str:
    """Kubernetes namespace of the CRM's workloads."""
    return f"twenty-{environment}"


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


def ssm_document_name(environment: str, purpose: str) -> str:
    """Name of one of the environment's SSM Command documents (infra/constructs/
    ssm_command_document.py), e.g. `twenty-dev-upgrade-backup`: the senders derive it."""
    return f"twenty-{environment}-{purpose}"


def permissions_boundary_name(environment: str) -> str:
    """The managed policy `make bootstrap` creates and every role and user of the estate
    carries as its permissions boundary (infra/deploy/bootstrap_policy.py)."""
    return f"twenty-{environment}-permissions-boundary"


def deploy_role_name(environment: str) -> str:
    """The GitHub deploy role (stack twenty-<env>-cicd), named so the workflow derives its ARN."""
    return f"twenty-{environment}-github-deploy"


def deploy_role_arn(site: Site) -> str:
    return (
        f"arn:{partition_of(site.region)}:iam::{site.account}:role/"
        f"{deploy_role_name(site.environment)}"
    )


# --------------------------------------------------------------------------- data and recovery
# The recovery stack lives in another region (and maybe another account). The primary stacks
# reach its bucket, vault and key by these names, derived from config alone: no lookup at synth,
# no cross-region export, and the restore command and the runbook compute the same names.


def pgbackrest_bucket_name(site: Site) -> str:
    """pgBackRest's bucket of `site` (repo1 in the estate's region, repo2 in the recovery
    region's site): globally unique and known at synth."""
    return f"twenty-{site.environment}-pgbackrest-{site.account}-{site.region}"


def file_bucket_name(site: Site) -> str:
    """The Twenty file bucket of `site` (its replica, in the recovery region's site)."""
    return f"twenty-{site.environment}-files-{site.account}-{site.region}"


def recovery_vault_name(environment: str) -> str:
    """The locked AWS Backup vault of the recovery stack that snapshots are copied into."""
    return f"twenty-{environment}-recovery"


def recovery_key_alias(environment: str) -> str:
    """Alias of the recovery region's KMS key (the primary stacks name the key by it)."""
    return f"alias/twenty-{environment}-recovery"


def file_replication_role_name(environment: str) -> str:
    """The IAM role S3 assumes to replicate the file bucket (named: the recovery account's
    bucket policy admits it by name)."""
    return f"twenty-{environment}-file-replication"


def backup_vault_arn(site: Site, vault_name: str) -> str:
    return (
        f"arn:{partition_of(site.region)}:backup:{site.region}:{site.account}:"
        f"backup-vault:{vault_name}"
    )


def key_alias_arn(site: Site, alias: str) -> str:
    return f"arn:{partition_of(site.region)}:kms:{site.region}:{site.account}:{alias}"
