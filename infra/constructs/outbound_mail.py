"""The environment's outbound e-mail through Amazon SES: domain identity, DKIM, MAIL FROM, SMTP.

The identity is the environment's domain; with `Identity.public_hosted_zone` CDK writes the
three Easy DKIM CNAME records and the MAIL FROM domain's MX and SPF records into the zone, so the
domain verifies itself once delegated. SMTP credentials are an IAM user's access key converted
to an SES SMTP password; no key exists at deploy time and none is ever in a template: the
operator runs `python -m infra smtp-credentials --env <env>` once (and to rotate), which writes
{username, password} into the empty secret made here (README, "Outbound e-mail").
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from constructs import Construct

from infra.constructs.stateful import pin_logical_id, retained_key


def smtp_user_name(environment: str) -> str:
    """The IAM user whose access key is the SMTP credential (found by name by the command)."""
    return f"twenty-{environment}-smtp"


class OutboundMail(Construct):
    """`identity`, `smtp_user` (may only send as the identity) and `smtp_secret` (empty)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: str,
        zone: route53.IPublicHostedZone,
        mail_from_domain: str,
        sender_address: str,
        smtp_secret_name: str,
    ) -> None:
        super().__init__(scope, id)
        self.identity = ses.EmailIdentity(
            self,
            "Identity",
            identity=ses.Identity.public_hosted_zone(zone),
            mail_from_domain=mail_from_domain,
            # If the MAIL FROM MX record is ever missing, send from amazonses.com instead of
            # rejecting mail.
            mail_from_behavior_on_mx_failure=ses.MailFromBehaviorOnMxFailure.USE_DEFAULT_VALUE,
        )
        self.smtp_user = iam.User(self, "SmtpUser", user_name=smtp_user_name(environment))
        # The right to send goes to a group the user is in, not to the user (CIS: policies on
        # groups or roles only); the user exists only because SES SMTP needs an access key.
        self.smtp_group = iam.Group(self, "SmtpSenders")
        self.smtp_group.add_to_policy(
            iam.PolicyStatement(
                actions=["ses:SendRawEmail"],
                resources=[self.identity.email_identity_arn],
                conditions={"StringEquals": {"ses:FromAddress": sender_address}},
            )
        )
        self.smtp_user.add_to_group(self.smtp_group)
        # A customer-managed key like every other secret's: its use is logged under a key of the
        # estate, and its policy (IAM delegation) is the estate's, not the AWS managed key's.
        self.key = retained_key(
            self,
            "SmtpSecretKey",
            description="Encrypts the SES SMTP credentials secret",
            logical_id="SmtpSecretKey",
        )
        self.smtp_secret = secretsmanager.Secret(
            self,
            "SmtpCredentials",
            secret_name=smtp_secret_name,
            encryption_key=self.key,
            description="SES SMTP credentials of Twenty (JSON username/password), written by "
            "`python -m infra smtp-credentials`, never by a template",
            removal_policy=RemovalPolicy.RETAIN,
        )
        cfn_secret = self.smtp_secret.node.default_child
        assert isinstance(cfn_secret, secretsmanager.CfnSecret)
        # No value at all: CDK would otherwise generate a random string the SMTP server rejects.
        cfn_secret.add_property_deletion_override("GenerateSecretString")
        pin_logical_id(self.smtp_secret, "SmtpCredentialsSecret")
