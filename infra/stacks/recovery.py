"""`twenty-<env>-recovery`: the CRM's data kept in a second region (and maybe account), locked.

Deployed in `recovery.region` before the database and data stacks, which reach it **by name**:
every name here (buckets, vault, key alias, the replication role it admits) is derived from the
config by `infra.naming`, so synth makes no lookup and no cross-region export/SSM parameter is
needed (CDK's `crossRegionReferences` would add custom resources writing SSM parameters in both
regions, and would not work across accounts). The price of naming: a resource must never be
renamed, which holds anyway for retained, pinned stateful resources.

- **pgBackRest repo2**: S3 bucket with versioning and **Object Lock** (default retention = the
  pgBackRest retention), its own KMS key, TLS-only, public access blocked. The database host
  archives WAL and writes every backup to it as well as to repo1.
- **Locked AWS Backup vault**: the primary plan copies each daily snapshot into it. Vault Lock
  in governance mode (dev/qa: a privileged admin can still lift it) or compliance mode (prod:
  after `compliance_grace_days` nobody, root included, can delete a copy or the lock).
- **File replica**: the destination of the file bucket's S3 Replication (replica encrypted with
  this region's key; delete markers are not replicated, so deleting in the primary deletes
  nothing here).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig, Site
from infra.constructs.data_bucket import DataBucket
from infra.constructs.stateful import pin_logical_id, retained_key
from infra.constructs.volume_backup_plan import vault_lock
from infra.naming import (
    file_bucket_name,
    file_replication_role_name,
    partition_of,
    pgbackrest_bucket_name,
    recovery_key_alias,
    recovery_vault_name,
)
from infra.stacks.base import EstateStack

RECOVERY_VAULT_LOGICAL_ID = "RecoveryBackupVault"


def recovery_key_statement(recovery_site: Site, *, actions: list[str]) -> iam.PolicyStatement:
    """`actions` on the recovery region's KMS key, for a role of the primary stacks. The key's
    id is not known at synth (another stack and region): the statement names every key of that
    account and region and keeps only the one carrying the environment's alias
    (kms:ResourceAliases, evaluated by KMS on the key itself)."""
    region, account = recovery_site.region, recovery_site.account
    return iam.PolicyStatement(
        actions=actions,
        resources=[f"arn:{partition_of(region)}:kms:{region}:{account}:key/*"],
        conditions={
            "ForAnyValue:StringEquals": {
                "kms:ResourceAliases": recovery_key_alias(recovery_site.environment)
            }
        },
    )


class RecoveryStack(EstateStack):
    """The off-region copies of one environment; `cfg.recovery` must be set."""

    def __init__(self, scope: Construct, *, cfg: EnvironmentConfig) -> None:
        recovery, site = cfg.recovery, cfg.recovery_site
        assert recovery is not None and site is not None, "recovery stack without recovery"
        super().__init__(
            scope,
            site=site,
            part="recovery",
            description="Twenty CRM: off-region copies (pgBackRest repo2, locked backup vault, "
            "file replica)",
        )
        env = cfg.name
        primary = cfg.site
        backup_config = cfg.database.backup
        self.cross_account = site.account != primary.account
        self.key = retained_key(
            self,
            "RecoveryKey",
            description=f"twenty-{env}: encrypts the off-region copies of the CRM's data",
            logical_id="RecoveryKey",
        )
        kms.Alias(self, "RecoveryKeyAlias", alias_name=recovery_key_alias(env), target_key=self.key)
        lock_mode = (
            s3.ObjectLockRetention.compliance
            if recovery.lock_mode == "compliance"
            else s3.ObjectLockRetention.governance
        )
        self.repo2 = DataBucket(
            self,
            "PgBackRestRepo2",
            bucket_name=pgbackrest_bucket_name(site),
            key=self.key,
            logical_id="PgBackRestRepo2Bucket",
            access_logs_logical_id="PgBackRestRepo2AccessLogs",
            access_log_prefix="pgbackrest/",
            access_log_retention_days=backup_config.access_log_retention_days,
            noncurrent_version_retention_days=backup_config.bucket_noncurrent_expiry_days,
            infrequent_access_after_days=backup_config.bucket_ia_transition_days,
            # Every object version stays at least as long as pgBackRest keeps the backup it
            # belongs to: an expire (or an attacker) only adds delete markers before then.
            object_lock=lock_mode(Duration.days(backup_config.pgbackrest_retention_days)),
        )
        self.file_replica = DataBucket(
            self,
            "FileReplica",
            bucket_name=file_bucket_name(site),
            key=self.key,
            logical_id="FileReplicaBucket",
            access_logs_logical_id="FileReplicaAccessLogs",
            access_log_prefix="files/",
            access_log_retention_days=cfg.storage.access_log_retention_days,
            noncurrent_version_retention_days=cfg.storage.noncurrent_version_retention_days,
        )
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=recovery_vault_name(env),
            encryption_key=self.key,
            lock_configuration=vault_lock(
                recovery, min_retention_days=backup_config.snapshot_retention_days
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        pin_logical_id(self.vault, RECOVERY_VAULT_LOGICAL_ID)
        if self.cross_account:
            self._admit_primary_account(primary.account, env)
        CfnOutput(self, "PgBackRestRepo2BucketName", value=self.repo2.bucket.bucket_name)
        CfnOutput(self, "FileReplicaBucketName", value=self.file_replica.bucket.bucket_name)
        CfnOutput(self, "RecoveryVaultName", value=self.vault.backup_vault_name)

    def _admit_primary_account(self, account: str, env: str) -> None:
        """A separate backup account: the estate's account may write (never delete versions,
        which Object Lock and the vault lock forbid anyway) through these resource policies."""
        primary = iam.AccountPrincipal(account)
        partition = partition_of(self.region)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PrimaryAccountWritesCopies",
                principals=[primary],
                actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=["*"],
            )
        )
        repo2 = self.repo2.bucket
        repo2.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PrimaryAccountPgBackRest",
                principals=[primary],
                actions=["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[repo2.bucket_arn, repo2.arn_for_objects("*")],
            )
        )
        replica = self.file_replica.bucket
        role_arn = f"arn:{partition}:iam::{account}:role/{file_replication_role_name(env)}"
        # The role is created after this stack (data stack): named by a condition, not as a
        # principal, which S3 would check for existence.
        replica.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PrimaryAccountReplicates",
                principals=[primary],
                actions=[
                    "s3:ReplicateObject",
                    "s3:ReplicateTags",
                    "s3:ObjectOwnerOverrideToBucketOwner",
                    "s3:GetBucketVersioning",
                ],
                resources=[replica.bucket_arn, replica.arn_for_objects("*")],
                conditions={"ArnEquals": {"aws:PrincipalArn": role_arn}},
            )
        )
        self.vault.add_to_access_policy(
            iam.PolicyStatement(
                sid="PrimaryAccountCopiesIn",
                principals=[primary],
                actions=["backup:CopyIntoBackupVault"],
                resources=["*"],
            )
        )
