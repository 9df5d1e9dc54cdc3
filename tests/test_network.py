"""The network stack of every environment matches its config (seed NET-*)."""

from __future__ import annotations

from aws_cdk.assertions import Match

from infra.config import EnvironmentConfig
from tests.conftest import SynthesizedEstate


def _resources(synthesized: SynthesizedEstate, env: str, kind: str) -> dict[str, dict]:
    template = synthesized.template_json(f"twenty-{env}-network")
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_vpc_and_subnet_cidrs(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    template = synthesized.template(env, "network")
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.has_resource_properties(
        "AWS::EC2::VPC",
        {"CidrBlock": str(cfg.network.vpc_cidr), "EnableDnsHostnames": True},
    )
    subnets = _resources(synthesized, env, "AWS::EC2::Subnet").values()
    layout = sorted(
        (s["Properties"]["CidrBlock"], s["Properties"]["AvailabilityZone"],
         s["Properties"]["MapPublicIpOnLaunch"])
        for s in subnets
    )  # fmt: skip
    zones = cfg.availability_zones
    expected = sorted(
        [(str(c), zones[i], True) for i, c in enumerate(cfg.network.public_subnets)]
        + [(str(c), zones[i], False) for i, c in enumerate(cfg.network.private_subnets)]
    )
    assert layout == expected


def test_internet_and_nat_gateways(synthesized: SynthesizedEstate, env: str, cfg):
    template = synthesized.template(env, "network")
    template.resource_count_is("AWS::EC2::InternetGateway", 1)
    template.resource_count_is("AWS::EC2::NatGateway", cfg.network.nat_gateways)
    template.resource_count_is("AWS::EC2::EIP", cfg.network.nat_gateways)


def test_route_targets(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    routes = _resources(synthesized, env, "AWS::EC2::Route").values()
    default_routes = [r["Properties"] for r in routes]
    to_igw = [r for r in default_routes if "GatewayId" in r]
    to_nat = [r for r in default_routes if "NatGatewayId" in r]
    assert len(to_igw) == 2, "each public route table sends 0.0.0.0/0 to the internet gateway"
    assert len(to_nat) == 2, "each private route table sends 0.0.0.0/0 to a NAT gateway"
    assert all(r["DestinationCidrBlock"] == "0.0.0.0/0" for r in default_routes)
    nat_targets = {r["NatGatewayId"]["Ref"] for r in to_nat}
    assert len(nat_targets) == cfg.network.nat_gateways
    synthesized.template(env, "network").resource_count_is("AWS::EC2::RouteTable", 4)


def test_flow_logs_encrypted_with_retention(synthesized, env: str, cfg: EnvironmentConfig):
    template = synthesized.template(env, "network")
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"},
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "RetentionInDays": cfg.network.flow_log_retention_days,
            "KmsKeyId": Match.object_like({"Fn::GetAtt": Match.any_value()}),
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_s3_gateway_endpoint(synthesized: SynthesizedEstate, env: str):
    synthesized.template(env, "network").has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Gateway",
            "ServiceName": Match.object_like(
                {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}
            ),
        },
    )


def test_default_security_group_closed(synthesized: SynthesizedEstate, env: str):
    synthesized.template(env, "network").has_resource_properties(
        "Custom::VpcRestrictDefaultSG", {"DefaultSecurityGroupId": Match.any_value()}
    )


def test_every_resource_tagged(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    template = synthesized.template_json(f"twenty-{env}-network")
    for kind in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::KMS::Key"):
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != kind:
                continue
            tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
            for key, value in cfg.tags.items():
                assert tags.get(key) == value, f"{logical_id} lacks tag {key}={value}"


def test_outputs_for_later_stacks(synthesized: SynthesizedEstate, env: str):
    outputs = synthesized.template_json(f"twenty-{env}-network")["Outputs"]
    for name in ("VpcId", "PrivateSubnetIds", "PublicSubnetIds", "WorkloadSecurityGroupId"):
        assert name in outputs
