"""The SNS topic every alarm of an environment notifies: KMS-encrypted, TLS-only, e-mailed."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

# Services that publish to the topic and so must encrypt with its key.
PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com")


class AlarmTopic(Construct):
    """`self.topic`, encrypted with its own retained, rotated key, each address subscribed.

    CloudWatch alarms and EventBridge publish to an encrypted topic only if the key policy
    lets their service principals use the key; nothing else may.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, emails: list[str]) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the {name} alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        cfn_key = self.key.node.default_child
        assert isinstance(cfn_key, kms.CfnKey)
        cfn_key.override_logical_id("AlarmTopicKey")
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmPublishers",
                principals=[iam.ServicePrincipal(p) for p in PUBLISHERS],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
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
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
