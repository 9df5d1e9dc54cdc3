"""AWS Backup of EBS volumes carrying a tag: daily snapshots into a KMS-encrypted vault."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from constructs import Construct

from infra.config import RecoveryConfig
from infra.constructs.stateful import pin_logical_id, retained_key
from infra.naming import BACKUP_VAULT_LOGICAL_ID


def vault_lock(recovery: RecoveryConfig, *, min_retention_days: int) -> backup.LockConfiguration:
    """AWS Backup Vault Lock of both vaults: recovery points kept at least `min_retention_days`
    (the plan's retention) and at most `recovery.max_retention_days`. Compliance mode is a lock
    with ChangeableForDays: after that grace the lock can never be removed (AWS Backup docs,
    "Vault Lock"); without it the lock is in governance mode."""
    return backup.LockConfiguration(
        min_retention=Duration.days(min_retention_days),
        max_retention=Duration.days(recovery.max_retention_days),
        changeable_for=(
            Duration.days(recovery.compliance_grace_days)
            if recovery.lock_mode == "compliance"
            else None
        ),
    )


class VolumeBackupPlan(Construct):
    """Snapshots every resource tagged `tag_key=tag_value` daily, kept `retention_days`.

    With `copy_to_vault_arn` each recovery point is also copied into that vault (the recovery
    region's, maybe in another account), kept as long; with `lock` the vault is locked.

    Selection by tag, not by ARN, so a data volume restored from a snapshot is backed up as
    soon as it carries the tag. The vault has its own retained key: recovery points stay
    readable if the stack is deleted.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        tag_key: str,
        tag_value: str,
        retention_days: int,
        copy_to_vault_arn: str | None = None,
        lock: backup.LockConfiguration | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.key = retained_key(self, "VaultKey", description="Encrypts the database backup vault")
        self.vault = backup.BackupVault(
            self,
            "Vault",
            encryption_key=self.key,
            lock_configuration=lock,
            removal_policy=RemovalPolicy.RETAIN,
        )
        pin_logical_id(self.vault, BACKUP_VAULT_LOGICAL_ID)
        self.plan = backup.BackupPlan(self, "Plan", backup_vault=self.vault)
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="Daily",
                schedule_expression=events.Schedule.cron(minute="0", hour="5"),
                start_window=Duration.hours(1),
                completion_window=Duration.hours(4),
                delete_after=Duration.days(retention_days),
                copy_actions=(
                    [
                        backup.BackupPlanCopyActionProps(
                            destination_backup_vault=backup.BackupVault.from_backup_vault_arn(
                                self, "RecoveryVault", copy_to_vault_arn
                            ),
                            delete_after=Duration.days(retention_days),
                        )
                    ]
                    if copy_to_vault_arn is not None
                    else None
                ),
            )
        )
        self.plan.add_selection(
            "TaggedVolumes",
            resources=[backup.BackupResource.from_tag(tag_key, tag_value)],
        )
