"""preflight: the offline refusal of example values, and each online check passing and failing.

moto serves STS, EC2, CloudFormation, SSM and Route53. moto's Service Quotas knows only VPC
quotas, so the EC2 quotas are answered by botocore's Stubber with responses shaped like
GetServiceQuota's; the parent's DNS delegation comes from an injected fake resolver.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from infra.cli import main
from infra.naming import stack_name
from infra.ops.aws import Aws
from infra.ops.placeholders import PLACEHOLDERS
from infra.ops.preflight import (
    CANONICAL_OWNER,
    ELASTIC_IP_QUOTA,
    STANDARD_VCPU_QUOTA,
    TOOLKIT_STACK,
    BootstrapRequirement,
    Preflight,
    bootstrap_requirement,
)
from tests.conftest import ALL_CONFIGS, ROOT, SynthesizedEstate
from tests.ops.conftest import ACCOUNT, NOBLE, canonical_image, load

REQUIREMENT = BootstrapRequirement(6, "/cdk-bootstrap/hnb659fds/version")
# Stand-in template for stacks moto creates: one resource it supports, outputs as given.
HANDLE = {"Topic": {"Type": "AWS::SNS::Topic"}}


def create_stack(aws: Aws, name: str, outputs: dict[str, str] | None = None) -> None:
    template = {
        "Resources": HANDLE,
        "Outputs": {k: {"Value": v} for k, v in (outputs or {}).items()},
    }
    aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def bootstrap(aws: Aws, version: int, *, boundary: bool = True) -> None:
    """What `make bootstrap` leaves: the toolkit stack, its version, the boundary policy (IAM is
    global: a second region's `npx cdk bootstrap` leaves no second one, boundary=False)."""
    create_stack(aws, TOOLKIT_STACK, {"BootstrapVersion": str(version)})
    if boundary:
        aws.client("iam").create_policy(
            PolicyName="twenty-dev-permissions-boundary",
            PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"NotAction":"iam:*","Resource":"*"}]}',
        )
    aws.client("ssm").put_parameter(
        Name=REQUIREMENT.ssm_parameter, Value=str(version), Type="String"
    )


def stub_quotas(aws: Aws, vcpus: float, ips: float) -> Stubber:
    """Service Quotas is not in moto for EC2: GetServiceQuota answers shaped like AWS's."""
    stubber = Stubber(aws.client("service-quotas"))
    for code, value in ((STANDARD_VCPU_QUOTA, vcpus), (ELASTIC_IP_QUOTA, ips)):
        stubber.add_response(
            "get_service_quota",
            {
                "Quota": {
                    "ServiceCode": "ec2",
                    "QuotaCode": code,
                    "QuotaArn": f"arn:aws:servicequotas:sa-east-1:{ACCOUNT}:ec2/{code}",
                    "Value": value,
                    "Unit": "None",
                    "Adjustable": True,
                }
            },
            {"ServiceCode": "ec2", "QuotaCode": code},
        )
    stubber.activate()
    return stubber


def details(findings: list[Any]) -> dict[str, tuple[bool, str]]:
    return {f.check: (f.ok, f.detail) for f in findings}


# --- offline: the committed example values -------------------------------------------------


@pytest.mark.parametrize("env", sorted(ALL_CONFIGS))
def test_committed_config_is_refused_by_name_without_credentials(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    assert main(["preflight", "--env", env]) == 2
    err = capsys.readouterr().err
    text = (ROOT / "config" / f"{env}.yaml").read_text()
    for placeholder in PLACEHOLDERS:
        if placeholder.value in text:
            assert placeholder.value in err, placeholder
    assert "Traceback" not in err
    assert all(line.startswith(f"config/{env}.yaml: ") for line in err.splitlines())


def test_every_placeholder_is_one_the_configs_commit() -> None:
    committed = "".join(p.read_text() for p in (ROOT / "config").glob("*.yaml"))
    assert [p.value for p in PLACEHOLDERS if p.value not in committed] == []


def test_deployable_config_without_credentials_exits_2(
    config_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    synthesized: SynthesizedEstate,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    args = ["preflight", "--env", "dev", "--config-dir", str(config_dir)]
    assert main([*args, "--assembly", synthesized.assembly.directory]) == 2
    assert capsys.readouterr().err.strip() == (
        "no AWS credentials found: set AWS_PROFILE (or run `aws sso login`) for the account in "
        "the config file, then run the command again"
    )


# --- the bootstrap version comes from the synthesized assembly ------------------------------


def test_bootstrap_requirement_read_from_the_real_assembly(synthesized: SynthesizedEstate) -> None:
    need = bootstrap_requirement(Path(synthesized.assembly.directory), "dev")
    assert need.ssm_parameter == "/cdk-bootstrap/hnb659fds/version"
    assert need.version >= 6


def test_bootstrap_requirement_without_assembly_is_bad_input(tmp_path: Path) -> None:
    from infra.ops.report import UnusableError

    with pytest.raises(UnusableError, match="run `python -m infra synth --env dev` first"):
        bootstrap_requirement(tmp_path, "dev")


# --- online, against moto --------------------------------------------------------------------


def test_preflight_passes_with_matching_account_ami_and_bootstrap(
    aws: Aws, config_dir: Path, synthesized: SynthesizedEstate, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra.ops.preflight import run_preflight

    image = canonical_image(aws, NOBLE)
    (config_dir / "dev.yaml").write_text(
        (config_dir / "dev.yaml").read_text().replace("ami-0123456789abcdef0", image)
    )
    bootstrap(aws, 30)
    stub_quotas(aws, vcpus=64, ips=5)
    report = run_preflight(
        load(config_dir),
        config_dir / "dev.yaml",
        Path(synthesized.assembly.directory),
        aws=aws,
        parent_lookup=lambda domain, parent: pytest.fail("no DNS lookup before the zone exists"),
    )
    assert report.exit_code == 0, report.as_table()
    assert [f.check for f in report.findings] == [
        "account", "images", "region", "cdk bootstrap", "permissions boundary", "ami",
        "quota vcpus", "quota elastic ips", "dns delegation",
    ]  # fmt: skip
    # The committed images carry tags only: a warning that names the command, not a failure.
    images = report.findings[1]
    assert images.ok and images.detail.startswith("WARNING: not pinned by digest")
    assert "pin-images --env dev" in images.detail


def test_account_mismatch_stops_at_the_first_check(
    aws: Aws, config_dir: Path, tmp_path: Path
) -> None:
    from infra.ops.preflight import run_preflight

    # The shape of a cloud assembly manifest, cut to what preflight reads.
    stack = {
        "type": "aws:cloudformation:stack",
        "properties": {
            "requiresBootstrapStackVersion": REQUIREMENT.version,
            "bootstrapStackVersionSsmParameter": REQUIREMENT.ssm_parameter,
        },
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {"twenty-dev-dns": stack}}))

    text = (config_dir / "dev.yaml").read_text().replace(ACCOUNT, "444455556666")
    (config_dir / "dev.yaml").write_text(text)
    report = run_preflight(load(config_dir), config_dir / "dev.yaml", tmp_path, aws=aws)
    assert report.exit_code == 1
    [finding] = report.findings
    assert "credentials are for account 123456789012" in finding.detail


def checks(aws: Aws, config_dir: Path, **update: Any) -> Preflight:
    cfg = load(config_dir)
    return Preflight(cfg.model_copy(update=update), aws, REQUIREMENT, lambda d, p: set())


def test_region_enabled_and_not(aws: Aws, config_dir: Path) -> None:
    assert details(checks(aws, config_dir).region())["region"][0]
    ok, detail = details(checks(aws, config_dir, region="me-central-1").region())["region"]
    assert not ok and "not-opted-in" in detail


@pytest.mark.parametrize(
    ("version", "ssm", "expected"),
    [
        (None, True, "no CDKToolkit stack"),
        (5, True, "version 5, the stacks need >= 6"),
        (30, False, "no /cdk-bootstrap/hnb659fds/version"),
        (30, True, None),
    ],
)
def test_bootstrap(
    aws: Aws, config_dir: Path, version: int | None, ssm: bool, expected: str | None
) -> None:
    if version is not None:
        create_stack(aws, TOOLKIT_STACK, {"BootstrapVersion": str(version)})
        if ssm:
            aws.client("ssm").put_parameter(
                Name=REQUIREMENT.ssm_parameter, Value=str(version), Type="String"
            )
    ok, detail = details(checks(aws, config_dir).bootstrap_stack())["cdk bootstrap"]
    assert ok is (expected is None), detail
    if expected:
        assert expected in detail and "make bootstrap ENV=dev" in detail


def test_permissions_boundary(aws: Aws, config_dir: Path) -> None:
    """Without the boundary every role of the deploy would fail to create."""
    ok, detail = details(checks(aws, config_dir).boundary())["permissions boundary"]
    assert not ok and "make bootstrap ENV=dev" in detail
    aws.client("iam").create_policy(
        PolicyName="twenty-dev-permissions-boundary",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"NotAction":"iam:*","Resource":"*"}]}',
    )
    ok, detail = details(checks(aws, config_dir).boundary())["permissions boundary"]
    assert ok and detail == "twenty-dev-permissions-boundary"


@pytest.mark.parametrize(
    ("name", "architecture", "canonical", "expected"),
    [
        (NOBLE, "x86_64", True, None),
        (NOBLE, "x86_64", False, "not Canonical"),
        (NOBLE.replace("amd64", "arm64"), "arm64", True, "is arm64, but t3.large runs"),
        (
            "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-1",
            "x86_64",
            True,
            "not Ubuntu 24.04",
        ),
        (None, None, None, "does not exist in sa-east-1"),
    ],
)
def test_ami(
    aws: Aws,
    config_dir: Path,
    name: str | None,
    architecture: str,
    canonical: bool,
    expected: str | None,
) -> None:
    cfg = load(config_dir)
    ami = "ami-0123456789abcdef0"
    if name is not None:
        ami = canonical_image(
            aws, name, architecture, owner=CANONICAL_OWNER if canonical else ACCOUNT
        )
    database = cfg.database.model_copy(update={"ami_ids": {"sa-east-1": ami}})
    ok, detail = details(checks(aws, config_dir, database=database).ami())["ami"]
    assert ok is (expected is None), detail
    if expected:
        assert expected in detail and "pin-ami --env dev" in detail


def test_quotas_cover_the_estate(aws: Aws, config_dir: Path) -> None:
    # dev: frontend 4 x t3.medium (2) + backend 4 x t3.large (2) + database t3.large (2) = 18
    stub_quotas(aws, vcpus=18, ips=5)
    found = details(checks(aws, config_dir).quotas())
    assert found["quota vcpus"] == (True, "18 standard vCPUs, the node groups at max_size plus "
                                    "the database host need 18")  # fmt: skip
    assert found["quota elastic ips"][0]


def test_quotas_too_low_name_the_quota(aws: Aws, config_dir: Path) -> None:
    aws.client("ec2").allocate_address(Domain="vpc")
    stubber = stub_quotas(aws, vcpus=16, ips=1)
    found = details(checks(aws, config_dir).quotas())
    stubber.assert_no_pending_responses()
    assert not found["quota vcpus"][0] and STANDARD_VCPU_QUOTA in found["quota vcpus"][1]
    assert not found["quota elastic ips"][0]
    assert "1 allocated, the NAT gateways need 1 more" in found["quota elastic ips"][1]


def _zone_with_parent(aws: Aws, delegate: bool, servers: list[str] | None = None) -> list[str]:
    route53 = aws.client("route53")
    zone = route53.create_hosted_zone(Name="mgenialdev.olhai.app.br", CallerReference="dev")
    zone_ns = zone["DelegationSet"]["NameServers"]
    create_stack(
        aws, stack_name("dev", "dns"), {"HostedZoneId": zone["HostedZone"]["Id"].split("/")[-1]}
    )
    parent = route53.create_hosted_zone(Name="olhai.app.br", CallerReference="parent")
    if delegate:
        route53.change_resource_record_sets(
            HostedZoneId=parent["HostedZone"]["Id"],
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": "mgenialdev.olhai.app.br",
                            "Type": "NS",
                            "TTL": 300,
                            "ResourceRecords": [{"Value": n} for n in servers or zone_ns],
                        },
                    }
                ]
            },
        )
    return list(zone_ns)


def test_delegation_when_the_parent_zone_is_in_the_account(aws: Aws, config_dir: Path) -> None:
    _zone_with_parent(aws, delegate=True)
    ok, detail = details(checks(aws, config_dir).delegation())["dns delegation"]
    assert ok and detail.startswith("Route53 zone olhai.app.br delegates")


def test_delegation_missing_in_the_parent_zone(aws: Aws, config_dir: Path) -> None:
    _zone_with_parent(aws, delegate=False)
    ok, detail = details(checks(aws, config_dir).delegation())["dns delegation"]
    assert not ok and "has no NS record for mgenialdev.olhai.app.br" in detail


def test_delegation_to_other_servers_in_the_parent_zone(aws: Aws, config_dir: Path) -> None:
    _zone_with_parent(aws, delegate=True, servers=["ns-1.old.example.net."])
    ok, detail = details(checks(aws, config_dir).delegation())["dns delegation"]
    assert not ok and "delegates mgenialdev.olhai.app.br to ns-1.old.example.net" in detail


def test_delegation_read_over_dns_when_the_parent_is_elsewhere(aws: Aws, config_dir: Path) -> None:
    route53 = aws.client("route53")
    zone = route53.create_hosted_zone(Name="mgenialdev.olhai.app.br", CallerReference="dev")
    zone_ns = {n.rstrip(".") for n in zone["DelegationSet"]["NameServers"]}
    create_stack(aws, stack_name("dev", "dns"), {"HostedZoneId": zone["HostedZone"]["Id"]})
    asked: list[tuple[str, str]] = []

    def fake_dns(domain: str, parent: str) -> set[str]:
        asked.append((domain, parent))
        return zone_ns

    cfg = load(config_dir)
    assert Preflight(cfg, aws, REQUIREMENT, fake_dns).delegation()[0].ok
    assert asked == [("mgenialdev.olhai.app.br", "olhai.app.br")]
    wrong = Preflight(cfg, aws, REQUIREMENT, lambda d, p: {"ns1.elsewhere.net"}).delegation()
    assert not wrong[0].ok and "the name servers of olhai.app.br delegates" in wrong[0].detail


def test_recovery_region_bootstrap(aws: Aws, config_dir: Path) -> None:
    """qa deploys its recovery stack in us-east-1: that region must be bootstrapped too."""
    cfg = load(config_dir, "qa")
    assert cfg.recovery is not None
    check = Preflight(cfg, aws, REQUIREMENT, lambda d, p: set())
    check.recovery_aws = Aws(cfg.recovery.region)
    bootstrap(aws, 30)  # the estate's own region only
    [finding] = check.recovery_bootstrap()
    assert not finding.ok
    assert f"run `npx cdk bootstrap aws://{cfg.account}/us-east-1`" in finding.detail
    bootstrap(check.recovery_aws, 30, boundary=False)
    [finding] = check.recovery_bootstrap()
    assert finding.ok, finding.detail
    assert checks(aws, config_dir).recovery_bootstrap() == []  # dev has no recovery region
    other = cfg.model_copy(
        update={"recovery": cfg.recovery.model_copy(update={"account": "444444444444"})}
    )
    [finding] = Preflight(other, aws, REQUIREMENT, lambda d, p: set()).recovery_bootstrap()
    assert finding.ok and "--trust" in finding.detail
