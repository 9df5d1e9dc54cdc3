"""The SNS topic every alarm of an environment notifies: KMS-encrypted, TLS-only, e-mailed."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constructs.stateful import retained_key

CLOUDWATCH = "cloudwatch.amazonaws.com"


class AlarmTopic(Construct):
    """`self.topic`, encrypted with its own retained, rotated key, each address subscribed.

    CloudWatch alarms publish to an encrypted topic with a resource policy only if both the
    key policy and the topic policy admit the CloudWatch service; the topic policy admits only
    this account's alarms named `alarm_name_prefix`*, the key this account's services only
    (`aws:SourceAccount`). (EventBridge publishes through a role: BackupFailureRule.)
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        emails: list[str],
        account: str,
        region: str,
        alarm_name_prefix: str,
    ) -> None:
        super().__init__(scope, id)
        self.key = retained_key(
            self,
            "Key",
            description=f"Encrypts the {name} alarm topic",
            logical_id="AlarmTopicKey",
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarms",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                # Only on behalf of this account's alarms (confused deputy).
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=name,
            display_name=name,
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarms",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{region}:{account}:alarm:"
                        f"{alarm_name_prefix}*"
                    },
                },
            )
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self._account = account

    def admit_service(self, service: str, *, source_arn: str) -> None:
        """Let `service` publish (and use the key) on behalf of the one resource `source_arn`.

        Used for the Prometheus workspace's alert manager, which publishes as
        aps.amazonaws.com.
        """
        sid = "".join(part.title() for part in service.split(".")[0].split("-"))
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"{sid}Publish",
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self._account}},
            )
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"{sid}Publish",
                principals=[iam.ServicePrincipal(service)],
                actions=["sns:Publish", "sns:GetTopicAttributes"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": self._account},
                    "ArnEquals": {"aws:SourceArn": source_arn},
                },
            )
        )
