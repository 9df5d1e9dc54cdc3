"""An EventBridge rule: failed or aborted AWS Backup jobs of one vault notify a topic."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

FAILED_STATES = ("FAILED", "ABORTED")


class BackupFailureRule(Construct):
    """AWS Backup reports job failures as events, not metrics with a vault dimension.

    The pattern names the vault, so another environment's vault in the same account and
    region never notifies this environment's topic. EventBridge publishes through a role of its
    own (trusted by EventBridge for rules of this account only, `aws:SourceAccount`), so the
    topic and its key admit no service principal without conditions.
    """

    def __init__(
        self, scope: Construct, id: str, *, vault: backup.IBackupVault, topic: sns.ITopic
    ) -> None:
        super().__init__(scope, id)
        self.role = iam.Role(
            self,
            "PublishRole",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="EventBridge publishes failed-backup events to the alarm topic",
        )
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
            targets=[targets.SnsTopic(topic, role=self.role)],
        )
