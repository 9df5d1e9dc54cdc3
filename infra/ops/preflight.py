"""`python -m infra preflight --env <env>`: can this environment be deployed as configured?

The offline part runs first and needs no credentials: the committed example values
(`infra/ops/placeholders.py`) are refused by name. Then, with the caller's credentials: the
account is the config's, the region is enabled, the CDK bootstrap stack is there at the version
the synthesized stacks require, the AMI is Canonical's Ubuntu for the host's architecture, EC2
quotas cover the estate, and the parent domain delegates the zone if it is already deployed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.config import EnvironmentConfig, display_path
from infra.naming import STACK_PARTS, partition_of, permissions_boundary_name, stack_name
from infra.ops.aws import Aws, error_code, find_stack, run_checks, stack_outputs
from infra.ops.delegation import ParentLookup, check_delegation, dns_parent_delegation
from infra.ops.pin_images import unpinned_images
from infra.ops.placeholders import placeholder_problems
from infra.ops.report import Finding, Report, UnusableError

CANONICAL_OWNER = "099720109477"  # Canonical's AWS account, owner of the official Ubuntu AMIs
TOOLKIT_STACK = "CDKToolkit"  # `cdk bootstrap`'s default stack name
COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
# Service Quotas codes: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"
# (vCPUs) and "EC2-VPC Elastic IPs".
STANDARD_VCPU_QUOTA = "L-1216C47A"
ELASTIC_IP_QUOTA = "L-0263D0A3"
STANDARD_FAMILIES = frozenset("acdhimrtz")


@dataclass(frozen=True)
class BootstrapRequirement:
    version: int
    ssm_parameter: str


def bootstrap_requirement(assembly: Path, env: str) -> BootstrapRequirement:
    """The newest bootstrap version the environment's stacks and assets require, from the
    cloud assembly's manifest (what `cdk deploy` itself checks before deploying)."""
    manifest_file = assembly / "manifest.json"
    hint = f"run `python -m infra synth --env {env}` first (or pass --assembly)"
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, ValueError):
        raise UnusableError(f"{display_path(manifest_file)}: no cloud assembly; {hint}") from None
    prefixes = tuple(stack_name(env, part) for part in STACK_PARTS)
    versions: list[int] = []
    parameters: set[str] = set()
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if not artifact_id.startswith(prefixes):
            continue
        properties = artifact.get("properties", {})
        if "requiresBootstrapStackVersion" in properties:
            versions.append(int(properties["requiresBootstrapStackVersion"]))
        if "bootstrapStackVersionSsmParameter" in properties:
            parameters.add(properties["bootstrapStackVersionSsmParameter"])
    if not versions or len(parameters) != 1:
        raise UnusableError(f"{display_path(manifest_file)}: has no stacks of {env}; {hint}")
    return BootstrapRequirement(max(versions), parameters.pop())


class Preflight:
    """The online checks of one environment; each returns its findings."""

    def __init__(
        self,
        cfg: EnvironmentConfig,
        aws: Aws,
        bootstrap: BootstrapRequirement,
        parent_lookup: ParentLookup = dns_parent_delegation,
    ) -> None:
        self.cfg = cfg
        self.aws = aws
        self.bootstrap = bootstrap
        self.parent_lookup = parent_lookup
        # The recovery region's session (tests pass one); made on first use otherwise.
        self.recovery_aws: Aws | None = None

    def region(self) -> list[Finding]:
        regions = self.aws.client("ec2").describe_regions(AllRegions=True)["Regions"]
        status = next(
            (r.get("OptInStatus", "") for r in regions if r["RegionName"] == self.cfg.region),
            "unknown to this account",
        )
        ok = status in ("opt-in-not-required", "opted-in")
        fix = "" if ok else "; enable it (Account settings, AWS Regions) before deploying"
        return [Finding("region", ok, f"{self.cfg.region}: {status}{fix}")]

    def bootstrap_stack(self) -> list[Finding]:
        fix = f"run `make bootstrap ENV={self.cfg.name}`"
        return [self._bootstrap_in(self.aws, "cdk bootstrap", fix)]

    def recovery_bootstrap(self) -> list[Finding]:
        """The recovery stack deploys in `recovery.region` (and account): bootstrapped there?"""
        site = self.cfg.recovery_site
        if site is None:
            return []
        check = f"cdk bootstrap {site.region}"
        if site.account != self.cfg.account:
            return [
                Finding(
                    check,
                    True,
                    f"account {site.account} is not checkable with these credentials; bootstrap "
                    f"it with `npx cdk bootstrap aws://{site.account}/{site.region} --trust "
                    f"{self.cfg.account}`",
                )
            ]
        aws = self.recovery_aws or Aws(site.region)
        fix = f"run `npx cdk bootstrap aws://{site.account}/{site.region}`"
        return [self._bootstrap_in(aws, check, fix)]

    def _bootstrap_in(self, aws: Aws, check: str, fix: str) -> Finding:
        need = self.bootstrap
        stack = find_stack(aws.client("cloudformation"), TOOLKIT_STACK)
        if stack is None:
            return Finding(check, False, f"no {TOOLKIT_STACK} stack; {fix}")
        if stack["StackStatus"] not in COMPLETE:
            return Finding(
                check, False, f"{TOOLKIT_STACK} is {stack['StackStatus']}; repair it, then {fix}"
            )
        try:
            value = aws.client("ssm").get_parameter(Name=need.ssm_parameter)
        except ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            return Finding(check, False, f"no {need.ssm_parameter}; {fix}")
        version = int(value["Parameter"]["Value"])
        ok = version >= need.version
        detail = f"{TOOLKIT_STACK} version {version}, the stacks need >= {need.version}"
        return Finding(check, ok, detail if ok else f"{detail}; {fix}")

    def boundary(self) -> list[Finding]:
        """Every role the stacks create names this policy as its boundary: without it the
        first role fails to create, halfway into a deploy."""
        name = permissions_boundary_name(self.cfg.name)
        arn = f"arn:{partition_of(self.cfg.region)}:iam::{self.cfg.account}:policy/{name}"
        try:
            self.aws.client("iam").get_policy(PolicyArn=arn)
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            return [
                Finding(
                    "permissions boundary",
                    False,
                    f"no policy {name}; run `make bootstrap ENV={self.cfg.name}`",
                )
            ]
        return [Finding("permissions boundary", True, name)]

    def _instance_types(self, names: set[str]) -> dict[str, dict[str, Any]]:
        pages = self.aws.client("ec2").get_paginator("describe_instance_types")
        found: dict[str, dict[str, Any]] = {}
        for page in pages.paginate(InstanceTypes=sorted(names)):
            for item in page["InstanceTypes"]:
                found[item["InstanceType"]] = item
        return found

    def ami(self) -> list[Finding]:
        ami = self.cfg.database.ami_ids[self.cfg.region]
        db_type = self.cfg.database.instance_type
        fix = f"run `python -m infra pin-ami --env {self.cfg.name}`"
        try:
            images = self.aws.client("ec2").describe_images(ImageIds=[ami])["Images"]
        except ClientError as exc:
            if not error_code(exc).startswith("InvalidAMIID"):
                raise
            images = []
        if not images:
            return [Finding("ami", False, f"{ami} does not exist in {self.cfg.region}; {fix}")]
        image = images[0]
        problems = []
        if image.get("OwnerId") != CANONICAL_OWNER:
            problems.append(
                f"is owned by {image.get('OwnerId')}, not Canonical ({CANONICAL_OWNER})"
            )
        release = self.cfg.database.ubuntu_release
        if f"-{release}-" not in image.get("Name", ""):
            problems.append(f"is {image.get('Name')!r}, not Ubuntu {release}")
        architectures = self._instance_types({db_type})[db_type]["ProcessorInfo"][
            "SupportedArchitectures"
        ]
        if image.get("Architecture") not in architectures:
            problems.append(
                f"is {image.get('Architecture')}, but {db_type} runs {'/'.join(architectures)}"
            )
        if image.get("State", "available") != "available":
            problems.append(f"is {image.get('State')}")
        if problems:
            return [Finding("ami", False, f"{ami} {'; '.join(problems)}; {fix}")]
        return [Finding("ami", True, f"{ami}: {image.get('Name')}")]

    def _quota(self, code: str) -> float:
        quotas = self.aws.client("service-quotas")
        try:
            return float(
                quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]
            )
        except ClientError as exc:
            if error_code(exc) != "NoSuchResourceException":
                raise
        # No applied value: the account has the AWS default.
        return float(
            quotas.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"][
                "Value"
            ]
        )

    def quotas(self) -> list[Finding]:
        groups = self.cfg.cluster.node_groups
        sized = [(g.max_size, g.instance_types) for g in (groups.frontend, groups.backend)]
        # the database host, and its standby where `database.standby` is on
        hosts = 2 if self.cfg.database.standby.enabled else 1
        sized.append((hosts, [self.cfg.database.instance_type]))
        types = self._instance_types({t for _, names in sized for t in names})
        findings = []
        other = sorted(t for t in types if t[0] not in STANDARD_FAMILIES)
        if other:
            findings.append(
                Finding(
                    "quota vcpus",
                    False,
                    f"{', '.join(other)} are not standard families; check their vCPU quota "
                    "by hand (Service Quotas, EC2)",
                )
            )
        need = sum(
            count * max(types[t]["VCpuInfo"]["DefaultVCpus"] for t in names)
            for count, names in sized
            if all(t[0] in STANDARD_FAMILIES for t in names)
        )
        have = self._quota(STANDARD_VCPU_QUOTA)
        detail = (
            f"{have:g} standard vCPUs, the node groups at max_size plus the database "
            f"host{'s' if hosts > 1 else ''} need {need}"
        )
        ok = have >= need
        fix = "" if ok else f"; request an increase of {STANDARD_VCPU_QUOTA} in Service Quotas"
        findings.append(Finding("quota vcpus", ok, detail + fix))
        deployed = find_stack(
            self.aws.client("cloudformation"), stack_name(self.cfg.name, "network")
        )
        need_ips = 0 if deployed else self.cfg.network.nat_gateways
        in_use = len(self.aws.client("ec2").describe_addresses()["Addresses"])
        ips = self._quota(ELASTIC_IP_QUOTA)
        ok = ips - in_use >= need_ips
        detail = f"{ips:g} Elastic IPs, {in_use} allocated, the NAT gateways need {need_ips} more"
        fix = "" if ok else f"; release unused ones or request an increase of {ELASTIC_IP_QUOTA}"
        findings.append(Finding("quota elastic ips", ok, detail + fix))
        return findings

    def delegation(self) -> list[Finding]:
        cfg = self.cfg
        stack = find_stack(self.aws.client("cloudformation"), stack_name(cfg.name, "dns"))
        zone_id = stack_outputs(stack).get("HostedZoneId") if stack else None
        if zone_id is None:
            return [
                Finding(
                    "dns delegation",
                    True,
                    f"{stack_name(cfg.name, 'dns')} not deployed yet: delegate {cfg.domain_name} "
                    "once its zone exists (README)",
                )
            ]
        return [
            check_delegation(
                self.aws.client("route53"), zone_id, cfg.domain_name, self.parent_lookup
            )
        ]


def offline_problems(cfg: EnvironmentConfig, config_file: Path) -> list[str]:
    """What preflight refuses without asking AWS: the committed example values."""
    return placeholder_problems(config_file, display_path(config_file))


def image_pins(cfg: EnvironmentConfig) -> Finding:
    """A warning, not a failure: an image without a digest runs whatever its tag points at on
    the day a node pulls it."""
    unpinned = unpinned_images(cfg)
    if not unpinned:
        return Finding("images", True, "every image is pinned by digest")
    return Finding(
        "images",
        True,
        f"WARNING: not pinned by digest: {'; '.join(unpinned)}; run python -m infra "
        f"pin-images --env {cfg.name}",
    )


def run_preflight(
    cfg: EnvironmentConfig,
    config_file: Path,
    assembly: Path,
    aws: Aws | None = None,
    parent_lookup: ParentLookup = dns_parent_delegation,
) -> Report:
    """Offline problems raise `UnusableError` (exit 2); online checks give the report."""
    problems = offline_problems(cfg, config_file)
    if problems:
        raise UnusableError("\n".join(problems))
    bootstrap = bootstrap_requirement(assembly, cfg.name)
    aws = aws or Aws(cfg.region)
    account = aws.account()
    if account != cfg.account:
        return Report(
            "preflight",
            cfg.name,
            (
                Finding(
                    "account",
                    False,
                    f"the credentials are for account {account}, {display_path(config_file)} "
                    f"names {cfg.account}; use credentials of {cfg.account} (or fix `account`)",
                ),
            ),
        )
    checks = Preflight(cfg, aws, bootstrap, parent_lookup)
    findings = [Finding("account", True, account), image_pins(cfg)]
    findings += run_checks(
        [
            ("region", checks.region),
            ("cdk bootstrap", checks.bootstrap_stack),
            ("permissions boundary", checks.boundary),
            ("cdk bootstrap (recovery region)", checks.recovery_bootstrap),
            ("ami", checks.ami),
            ("quotas", checks.quotas),
            ("dns delegation", checks.delegation),
        ]
    )
    return Report("preflight", cfg.name, tuple(findings))
