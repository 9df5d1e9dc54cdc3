"""The dns stack of every environment: a retained zone and a DNS-validated certificate."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from infra.config import EnvironmentConfig
from tests.conftest import SynthesizedEstate


def test_hosted_zone_retained_with_pinned_id(synthesized: SynthesizedEstate, env: str, cfg):
    resources = synthesized.template_json(f"twenty-{env}-dns")["Resources"]
    zones = {k: v for k, v in resources.items() if v["Type"] == "AWS::Route53::HostedZone"}
    assert list(zones) == ["HostedZone"], "the zone's logical id is pinned"
    zone = zones["HostedZone"]
    assert zone["Properties"]["Name"] == f"{cfg.domain_name}."
    assert zone["DeletionPolicy"] == "Retain"
    assert zone["UpdateReplacePolicy"] == "Retain"
    assert "VPCs" not in zone["Properties"], "the zone is public"


def test_certificate_dns_validated_in_the_zone(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
):
    resources = synthesized.template_json(f"twenty-{env}-dns")["Resources"]
    certificates = {
        k: v for k, v in resources.items() if v["Type"] == "AWS::CertificateManager::Certificate"
    }
    assert list(certificates) == ["Certificate"], "the certificate's logical id is pinned"
    props = certificates["Certificate"]["Properties"]
    assert props["DomainName"] == cfg.domain_name
    assert props["ValidationMethod"] == "DNS"
    sans = cfg.dns.subject_alternative_names
    assert props.get("SubjectAlternativeNames", []) == sans
    validations = {o["DomainName"]: o["HostedZoneId"] for o in props["DomainValidationOptions"]}
    # A wildcard is validated by the same record as its base name, so CDK lists the base once.
    assert set(validations) == {cfg.domain_name, *(n.removeprefix("*.") for n in sans)}
    assert all(zone == {"Ref": "HostedZone"} for zone in validations.values())


def test_outputs_zone_id_and_name_servers(synthesized: SynthesizedEstate, env: str):
    template = synthesized.template(env, "dns")
    template.has_output("HostedZoneId", {"Value": {"Ref": "HostedZone"}})
    template.has_output(
        "NameServers",
        {"Value": {"Fn::Join": [",", {"Fn::GetAtt": ["HostedZone", "NameServers"]}]}},
    )
    template.has_output("CertificateArn", {"Value": {"Ref": "Certificate"}})


def test_every_resource_tagged(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    template = synthesized.template(env, "dns")
    expected = [{"Key": k, "Value": v} for k, v in sorted(cfg.tags.items())]
    template.has_resource_properties(
        "AWS::CertificateManager::Certificate", {"Tags": Match.array_with(expected)}
    )
    template.has_resource_properties(
        "AWS::Route53::HostedZone", {"HostedZoneTags": Match.array_with(expected)}
    )


def test_ses_identity_with_dkim_and_mail_from_records(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
) -> None:
    template = synthesized.template_json(f"twenty-{env}-dns")["Resources"]
    (identity,) = [r for r in template.values() if r["Type"] == "AWS::SES::EmailIdentity"]
    assert identity["Properties"]["EmailIdentity"] == cfg.domain_name
    mail_from = f"{cfg.email.mail_from_subdomain}.{cfg.domain_name}"
    assert identity["Properties"]["MailFromAttributes"]["MailFromDomain"] == mail_from
    records = [r["Properties"] for r in template.values() if r["Type"] == "AWS::Route53::RecordSet"]
    dkim = [r for r in records if r["Type"] == "CNAME" and "DkimDNSTokenName" in json.dumps(r)]
    assert len(dkim) == 3, "Easy DKIM publishes three CNAME records"
    assert all(r["HostedZoneId"] == {"Ref": "HostedZone"} for r in dkim)
    types = {r["Type"] for r in records if json.dumps(r["Name"]).find(mail_from) >= 0}
    assert {"MX", "TXT"} <= types, "MAIL FROM needs its MX and SPF records"


def test_smtp_secret_is_empty_and_user_may_only_send(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
) -> None:
    resources = synthesized.template_json(f"twenty-{env}-dns")["Resources"]
    secret = resources["SmtpCredentialsSecret"]
    assert secret["Properties"]["Name"] == f"twenty/{env}/smtp"
    assert "SecretString" not in secret["Properties"]
    assert "GenerateSecretString" not in secret["Properties"]
    assert secret["DeletionPolicy"] == "Retain"
    policies = [r for r in resources.values() if r["Type"] == "AWS::IAM::Policy"]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert [s["Action"] for s in statements] == ["ses:SendRawEmail"]
    sender = f"{cfg.email.sender_local_part}@{cfg.domain_name}"
    assert statements[0]["Condition"] == {"StringEquals": {"ses:FromAddress": sender}}
    assert not [r for r in resources.values() if r["Type"] == "AWS::IAM::AccessKey"]
