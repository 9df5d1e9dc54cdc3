"""AWS's own lists of names, read offline, so a typo fails validation instead of a deploy.

Synth makes no AWS calls, so the lists come from installed packages, pinned in requirements:
- regions: botocore's endpoint data (`botocore/data/endpoints.json`, every partition);
- EC2 instance types: the `InstanceType` enum of botocore's EC2 service model (newest API
  version), which AWS regenerates with each new type;
- availability zones: cfn-lint's per-region list (`cfnlint.helpers.AVAILABILITY_ZONES`, kept by
  the AWS CloudFormation team); read from its source without importing cfn-lint (seconds of
  import time). A region cfn-lint does not list yet is checked by the naming rule alone
  (region + one letter);
- ElastiCache node types: cfn-lint's per-region enum of `AWS::ElastiCache::CacheCluster`
  `CacheNodeType` (generated from the AWS pricing API).

Each check returns None or one message naming the fix, with a "did you mean" for near misses.
A name AWS launched after the pinned package is refused: update botocore/cfn-lint to use it.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import json
from functools import cache
from pathlib import Path

from botocore.loaders import Loader


def _did_you_mean(name: str, known: frozenset[str]) -> str:
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]}?" if matches else ""


@cache
def regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoint data."""
    endpoints = Loader().load_data("endpoints")
    return frozenset(region for p in endpoints["partitions"] for region in p["regions"])


@cache
def ec2_instance_types() -> frozenset[str]:
    """The InstanceType enum of botocore's newest EC2 service model."""
    model = Loader().load_service_model("ec2", "service-2")
    return frozenset(model["shapes"]["InstanceType"]["enum"])


def _cfn_lint_dir() -> Path:
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed; install requirements.lock")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def availability_zones() -> dict[str, frozenset[str]]:
    """cfn-lint's AVAILABILITY_ZONES literal, evaluated as data (no cfn-lint code runs)."""
    tree = ast.parse((_cfn_lint_dir() / "helpers.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "AVAILABILITY_ZONES" for t in targets):
                assert node.value is not None
                zones: dict[str, list[str]] = ast.literal_eval(node.value)
                return {region: frozenset(names) for region, names in zones.items()}
    raise RuntimeError("cfnlint/helpers.py has no AVAILABILITY_ZONES; check the cfn-lint pin")


@cache
def cache_node_types() -> dict[str, frozenset[str]]:
    """cfn-lint's ElastiCache node types per region."""
    path = (
        _cfn_lint_dir()
        / "data/schemas/extensions/aws_elasticache_cachecluster/cachenodetype_enum.json"
    )
    data: dict[str, object] = json.loads(path.read_text())
    return {
        region: frozenset(entry["enum"])
        for region, entry in data.items()
        if isinstance(entry, dict)  # beside the regions: a "description" string
    }


def region_problem(region: str) -> str | None:
    """None if botocore knows `region`."""
    if region in regions():
        return None
    hint = _did_you_mean(region, regions()) or "; use one such as sa-east-1"
    return f"{region!r} is not an AWS region (botocore's endpoint data){hint}"


def instance_type_problem(instance_type: str) -> str | None:
    """None if `instance_type` is in botocore's EC2 model."""
    if instance_type in ec2_instance_types():
        return None
    hint = _did_you_mean(instance_type, ec2_instance_types()) or "; use one such as t3.large"
    return f"{instance_type!r} is not an EC2 instance type (botocore's EC2 model){hint}"


def zone_problem(zone: str, region: str) -> str | None:
    """None if `zone` is a zone of `region` (cfn-lint's list, else the naming rule)."""
    known = availability_zones().get(region)
    if known is None:
        ok = zone.startswith(region) and len(zone) == len(region) + 1 and zone[-1].isalpha()
        return None if ok else f"{zone!r} is not a zone of {region}; use {region}a, {region}b, ..."
    if zone in known:
        return None
    return (
        f"{zone!r} is not a zone of {region}; use two of {', '.join(sorted(known))} "
        "(cfn-lint's zone list)"
    )


def cache_node_type_problem(node_type: str, region: str) -> str | None:
    """None if ElastiCache offers `node_type` in `region` (cfn-lint's list)."""
    by_region = cache_node_types()
    known = by_region.get(region) or frozenset().union(*by_region.values())
    if node_type in known:
        return None
    where = f"in {region}" if region in by_region else "in any region"
    hint = _did_you_mean(node_type, known) or "; use one such as cache.t4g.micro"
    return f"{node_type!r} is not an ElastiCache node type offered {where} (cfn-lint's list){hint}"
