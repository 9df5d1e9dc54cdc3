"""A CloudWatch log group encrypted with its own customer-managed KMS key.

CloudWatch Logs may only use a key whose policy admits the regional logs service for log groups
of this account; the key is retained because deleting it would make old logs unreadable.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.stateful import retained_key

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS, 7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS, 150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS, 2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}  # fmt: skip


def retention_days(days: int) -> logs.RetentionDays:
    """The CDK enum for a retention period config already validated."""
    return _RETENTION[days]


def allow_cloudwatch_logs(key: kms.IKey) -> None:
    """Let the regional CloudWatch Logs service use `key`, only for log groups of this account."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )


class EncryptedLogGroup(Construct):
    """`self.log_group`, encrypted by `self.key` (rotation on, retained)."""

    def __init__(self, scope: Construct, id: str, *, retention: int, purpose: str) -> None:
        super().__init__(scope, id)
        self.key = retained_key(self, "Key", description=f"Encrypts the {purpose} log group")
        allow_cloudwatch_logs(self.key)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=retention_days(retention),
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
