"""The dns stack of every environment: a retained zone and a DNS-validated certificate."""

from __future__ import annotations

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
