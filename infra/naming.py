"""Names several stacks (and the day-2 commands) must agree on, defined once.

The cluster's External Secrets role may read only secrets under `secret_prefix(env)`; the
database and data stacks name their secrets under it, so all three use these functions. The
operations commands (`infra/ops/`) find an environment's stacks and alarms by these names
without importing the CDK.
"""

from __future__ import annotations

# Every environment has one stack per part, named twenty-<env>-<part>, in deploy order.
STACK_PARTS = ("network", "dns", "edge", "cluster", "database", "data", "crm", "monitoring")

# Pinned logical id of the database stack's AWS Backup vault (verify reads its recovery points).
BACKUP_VAULT_LOGICAL_ID = "DatabaseBackupVault"


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
