"""AWS Backup of EBS volumes carrying a tag: daily snapshots into a KMS-encrypted vault."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from constructs import Construct

from infra.constructs.stateful import pin_logical_id, retained_key
from infra.naming import BACKUP_VAULT_LOGICAL_ID


class VolumeBackupPlan(Construct):
    """Snapshots every resource tagged `tag_key=tag_value` daily, kept `retention_days`.

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
    ) -> None:
        super().__init__(scope, id)
        self.key = retained_key(self, "VaultKey", description="Encrypts the database backup vault")
        self.vault = backup.BackupVault(
            self,
            "Vault",
            encryption_key=self.key,
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
            )
        )
        self.plan.add_selection(
            "TaggedVolumes",
            resources=[backup.BackupResource.from_tag(tag_key, tag_value)],
        )
