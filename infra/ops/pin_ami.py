"""`python -m infra pin-ami --env <env>`: pin Canonical's current Ubuntu AMI in the config.

The id comes from Canonical's public SSM parameter of the region. The file is edited in
place: ruamel.yaml's round-trip parser finds the line and column of `database.ami_ids.<region>`
and only that scalar is replaced, so comments, quoting and layout stay byte for byte (dumping
the whole document would re-flow the multi-line flow mappings of `edge`). A deployed database
stack is never re-pinned here: a new AMI replaces the host (docs/runbooks/database.md).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from ruamel.yaml import YAML

from infra.config import EnvironmentConfig, display_path
from infra.naming import stack_name
from infra.ops.aws import Aws, find_stack
from infra.ops.report import Finding, Report, UnusableError

RUNBOOK = "docs/runbooks/database.md#move-to-a-newer-ami-on-purpose"
# Canonical publishes gp3-backed images from 23.10 on, gp2-backed ones before.
_VOLUME_TYPE = {"22.04": "ebs-gp2", "24.04": "ebs-gp3"}
# EC2 architecture names to Canonical's.
_ARCHITECTURE = {"x86_64": "amd64", "arm64": "arm64"}
_SCALAR = re.compile(r"""(["']?)ami-[0-9a-f]+\1""")


def canonical_parameter(release: str, architecture: str) -> str:
    """Canonical's SSM parameter holding the current AMI of `release` for `architecture`."""
    volume = _VOLUME_TYPE.get(release, "ebs-gp3")
    return (
        f"/aws/service/canonical/ubuntu/server/{release}/stable/current/"
        f"{architecture}/hvm/{volume}/ami-id"
    )


def replace_ami(text: str, region: str, ami: str, label: str) -> str:
    """`text` with `database.ami_ids.<region>` set to `ami`, everything else unchanged."""
    document = YAML().load(text)
    try:
        line, column = document["database"]["ami_ids"].lc.value(region)
    except (KeyError, TypeError):
        raise UnusableError(f"{label}: database.ami_ids.{region}: missing; add it") from None
    lines = text.splitlines(keepends=True)
    match = _SCALAR.match(lines[line], column)
    if match is None:
        raise UnusableError(f"{label}: line {line + 1}: expected an AMI id at column {column + 1}")
    quote = match.group(1)
    lines[line] = lines[line][:column] + f"{quote}{ami}{quote}" + lines[line][match.end() :]
    updated = "".join(lines)
    # The edit must change exactly that value: compare the parsed documents.
    before, after = yaml.safe_load(io.StringIO(text)), yaml.safe_load(io.StringIO(updated))
    before["database"]["ami_ids"][region] = ami
    if before != after:
        raise UnusableError(f"{label}: line {line + 1}: could not replace the AMI id in place")
    return updated


@dataclass(frozen=True)
class PinResult:
    report: Report
    written: bool


def run_pin_ami(cfg: EnvironmentConfig, config_file: Path, aws: Aws | None = None) -> PinResult:
    aws = aws or Aws(cfg.region)
    label = display_path(config_file)
    account = aws.account()
    if account != cfg.account:
        finding = Finding(
            "account",
            False,
            f"the credentials are for account {account}, {label} names {cfg.account}; set the "
            "real account id first (the database stack is looked up there)",
        )
        return PinResult(Report("pin-ami", cfg.name, (finding,)), written=False)
    db_type = cfg.database.instance_type
    described = aws.client("ec2").describe_instance_types(InstanceTypes=[db_type])
    ec2_arch = described["InstanceTypes"][0]["ProcessorInfo"]["SupportedArchitectures"][0]
    parameter = canonical_parameter(cfg.database.ubuntu_release, _ARCHITECTURE[ec2_arch])
    current = str(aws.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"])
    pinned = cfg.database.ami_ids.get(cfg.region)
    if pinned == current:
        finding = Finding("ami", True, f"{label}: {cfg.region} already pins {current}")
        return PinResult(Report("pin-ami", cfg.name, (finding,)), written=False)
    database = stack_name(cfg.name, "database")
    if find_stack(aws.client("cloudformation"), database) is not None:
        finding = Finding(
            "ami",
            False,
            f"{database} is deployed: a new AMI ({current}, now {pinned}) replaces the "
            f"database host; follow {RUNBOOK} instead",
        )
        return PinResult(Report("pin-ami", cfg.name, (finding,)), written=False)
    text = config_file.read_text()
    config_file.write_text(replace_ami(text, cfg.region, current, label))
    finding = Finding(
        "ami", True, f"{label}: database.ami_ids.{cfg.region} {pinned} -> {current} ({parameter})"
    )
    return PinResult(Report("pin-ami", cfg.name, (finding,)), written=True)
