"""`python -m infra recovery-config`: the config of an environment's stand-in in its recovery
region.

After a region loss (docs/runbooks/region-loss.md) the estate is deployed again, from the same
config, in `recovery.region`. This writes that environment's file, `config/<env>dr.yaml`, at
that moment; it is never committed beforehand (every committed environment is synthesized by
every test run and by CI). Derived from the origin's file: the recovery region and account, its
first two zones (cfn-lint's list, as the config validation uses), a VPC range no other
environment uses with the subnets at the same offsets, the database in the first zone, the
origin's region as the new recovery region (its copies go back there once it returns), no cicd
section (deployed from a workstation during the incident). The file is validated with every
other environment before it is kept: a range that overlaps, a zone or node type the region
lacks, are refused with the config's own messages.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml

from infra.config import ConfigError, EnvironmentConfig, environment_files, load_all
from infra.config.aws_names import availability_zones
from infra.ops.report import UnusableError

# The committed example AMI id: preflight refuses it by name until `pin-ami` writes the
# region's current Canonical AMI.
EXAMPLE_AMI = "ami-00000000000000000"


def default_name(origin: str) -> str:
    return f"{origin}dr"


def free_range(
    origin: ipaddress.IPv4Network, taken: list[ipaddress.IPv4Network]
) -> ipaddress.IPv4Network:
    """The first range of the origin's size in 10.0.0.0/8 that overlaps none of `taken`."""
    for candidate in ipaddress.IPv4Network("10.0.0.0/8").subnets(new_prefix=origin.prefixlen):
        if not any(candidate.overlaps(other) for other in taken):
            return candidate
    raise UnusableError(f"recovery-config: no free /{origin.prefixlen} range in 10.0.0.0/8")


def _moved(subnet: str, origin: ipaddress.IPv4Network, target: ipaddress.IPv4Network) -> str:
    network = ipaddress.IPv4Network(subnet)
    offset = int(network.network_address) - int(origin.network_address)
    return str(ipaddress.IPv4Network((int(target.network_address) + offset, network.prefixlen)))


def recovery_document(
    origin: EnvironmentConfig, raw: dict[str, Any], *, name: str, vpc: ipaddress.IPv4Network
) -> dict[str, Any]:
    """The origin's YAML document turned into its recovery-region stand-in's."""
    recovery = origin.recovery
    if recovery is None:
        raise UnusableError(
            f"recovery-config: config/{origin.name}.yaml has no recovery section; there is no "
            "recovery region to deploy into"
        )
    zones = sorted(availability_zones().get(recovery.region, ()))[:2]
    if len(zones) < 2:
        raise UnusableError(
            f"recovery-config: cfn-lint lists fewer than two zones of {recovery.region}"
        )
    document = dict(raw)
    document["name"] = name
    document["account"] = recovery.account or origin.account
    document["region"] = recovery.region
    document["availability_zones"] = zones
    network = dict(raw["network"])
    origin_vpc = origin.network.vpc_cidr
    network["vpc_cidr"] = str(vpc)
    for key in ("public_subnets", "private_subnets"):
        network[key] = [_moved(s, origin_vpc, vpc) for s in raw["network"][key]]
    document["network"] = network
    database = dict(raw["database"])
    database["availability_zone"] = zones[0]
    database["ami_ids"] = {recovery.region: EXAMPLE_AMI}
    document["database"] = database
    back: dict[str, Any] = {"region": origin.region}
    if recovery.account is not None:
        back["account"] = origin.account
    back["lock_mode"] = recovery.lock_mode
    back["compliance_grace_days"] = recovery.compliance_grace_days
    back["max_retention_days"] = recovery.max_retention_days
    document["recovery"] = back
    document["recovery_of"] = origin.name
    document.pop("cicd", None)
    return document


def write_recovery_config(origin_name: str, config_dir: Path, name: str | None = None) -> Path:
    """Write `config/<name>.yaml` for `origin_name`'s recovery region, validated with every
    other environment; returns its path. Bad input: UnusableError or ConfigError (exit 2)."""
    name = name or default_name(origin_name)
    target = config_dir / f"{name}.yaml"
    if target.exists():
        raise UnusableError(f"recovery-config: {target} exists already; remove it or pick --name")
    configs = {cfg.name: cfg for cfg in load_all(environment_files(config_dir))}
    if origin_name not in configs:
        raise UnusableError(f"recovery-config: no config/{origin_name}.yaml in {config_dir}")
    origin = configs[origin_name]
    raw = yaml.safe_load((config_dir / f"{origin_name}.yaml").read_text())
    vpc = free_range(origin.network.vpc_cidr, [c.network.vpc_cidr for c in configs.values()])
    document = recovery_document(origin, raw, name=name, vpc=vpc)
    header = (
        f"# Recovery of {origin_name} in {origin.recovery.region if origin.recovery else ''}, "
        f"written by `python -m infra recovery-config --env {origin_name}` "
        "(docs/runbooks/region-loss.md).\n"
        "# Not committed before a region loss. Next: python -m infra pin-ami --env "
        f"{name}, then preflight and deploy.\n"
    )
    target.write_text(header + yaml.safe_dump(document, sort_keys=False, width=100))
    try:
        load_all(environment_files(config_dir))
    except ConfigError:
        target.unlink()
        raise
    return target
