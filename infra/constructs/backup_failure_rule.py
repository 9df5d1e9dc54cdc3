"""An EventBridge rule: failed or aborted AWS Backup jobs of one vault notify a topic."""

from __future__ import annotations

from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct

FAILED_STATES = ("FAILED", "ABORTED")


class BackupFailureRule(Construct):
    """AWS Backup reports job failures as events, not metrics with a vault dimension.

    The pattern names the vault, so another environment's vault in the same account and
    region never notifies this environment's topic.
    """

    def __init__(
        self, scope: Construct, id: str, *, vault: backup.IBackupVault, topic: sns.ITopic
    ) -> None:
        super().__init__(scope, id)
        self.rule = events.Rule(
            self,
            "Rule",
            description="Failed or aborted backup jobs of the database vault",
            event_pattern=events.EventPattern(
                source=["aws.backup"],
                detail_type=["Backup Job State Change"],
                detail={
                    "state": list(FAILED_STATES),
                    "backupVaultName": [vault.backup_vault_name],
                },
            ),
            targets=[targets.SnsTopic(topic)],
        )
