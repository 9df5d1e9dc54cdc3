"""`twenty-<env>-dns`: the environment's public hosted zone and its TLS certificate (DNS-1xx)."""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, RemovalPolicy
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from constructs import Construct

from infra.config import DnsConfig, EmailConfig, Site
from infra.constructs.outbound_mail import OutboundMail
from infra.constructs.stateful import pin_logical_id
from infra.nag import skip_checkov
from infra.naming import secret_name
from infra.stacks.base import EstateStack


class DnsStack(EstateStack):
    """The zone is the root of trust of the environment's name: it is retained and its logical
    id pinned, because a new zone gets new name servers and breaks the parent's delegation.

    The certificate is validated by CNAME records CloudFormation writes into this zone, so the
    first deploy waits until the zone is delegated from the parent domain (see README).
    """

    def __init__(
        self,
        scope: Construct,
        *,
        site: Site,
        domain_name: str,
        dns: DnsConfig,
        email: EmailConfig,
    ) -> None:
        super().__init__(
            scope,
            site=site,
            part="dns",
            description="Twenty CRM: public hosted zone, certificate, SES identity",
        )
        self.zone = route53.PublicHostedZone(
            self,
            "HostedZone",
            zone_name=domain_name,
            comment=f"Twenty CRM {site.environment}: delegated from the parent domain",
        )
        self.zone.apply_removal_policy(RemovalPolicy.RETAIN)
        pin_logical_id(self.zone, "HostedZone")

        self.certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=domain_name,
            subject_alternative_names=dns.subject_alternative_names or None,
            validation=acm.CertificateValidation.from_dns(self.zone),
        )
        pin_logical_id(self.certificate, "Certificate")
        if any(name.startswith("*.") for name in dns.subject_alternative_names):
            skip_checkov(
                self.certificate,
                "CKV2_AWS_71",
                "The wildcard name is configured on purpose (dns.subject_alternative_names): "
                "names under the environment's own zone, validated by DNS in that zone",
            )

        # Outbound mail lives with the zone: its DKIM and MAIL FROM records are records of it.
        self.mail = OutboundMail(
            self,
            "Mail",
            environment=site.environment,
            zone=self.zone,
            mail_from_domain=email.mail_from_domain(domain_name),
            sender_address=email.sender_address(domain_name),
            smtp_secret_name=secret_name(site.environment, "smtp"),
        )
        self.acknowledge(
            self.mail.smtp_secret,
            "AwsSolutions-SMG4",
            "The value is an IAM access key converted to an SES SMTP password; rotation is "
            "`python -m infra smtp-credentials --rotate` (README), which a rotation Lambda would "
            "have to re-implement together with the pods' restart",
        )

        CfnOutput(self, "HostedZoneId", value=self.zone.hosted_zone_id)
        CfnOutput(
            self,
            "NameServers",
            value=Fn.join(",", self.zone.hosted_zone_name_servers or []),
            description=f"Create an NS record for {domain_name} in the parent zone with these",
        )
        CfnOutput(self, "CertificateArn", value=self.certificate.certificate_arn)
        CfnOutput(self, "SmtpUserName", value=self.mail.smtp_user.user_name)
        CfnOutput(self, "SmtpCredentialsSecretArn", value=self.mail.smtp_secret.secret_arn)
