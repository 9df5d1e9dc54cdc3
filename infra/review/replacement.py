"""What CloudFormation does when one property of a resource changes: update, update with a
stop/start, replacement, or a failed update.

The rules come from AWS's own CloudFormation resource provider schemas, which cfn-lint ships in
its package data (`createOnlyProperties`: a change creates a new physical resource;
`conditionalCreateOnlyProperties`: it may). A conditional property is not a replacement by
itself; what happens depends on the resource, so the estate's known context decides it here
(`CONTEXT`), with the AWS reference's "Update requires" line as the source. A conditional
property without a context rule stays "may be replaced", which the guard treats as a replacement.

Some properties can neither change in place nor replace the resource: AWS rejects the update
and the stack rolls back (`UPDATE_FAILS`, e.g. a KMS key's `MultiRegion`). Their resource
schemas list them as updatable; the property's own description in the same schema says the
update request fails, and each rule quotes that sentence as its source. Likewise a resource
given an explicit name that keeps it cannot be replaced (`custom_name_rule`: the name
property's description says so); impact.py turns such a replacement into a failed update.

Two things the schemas cannot say are added as context too:
- an EBS volume cannot move between availability zones or change its encryption in place
  (EC2 ModifyVolume changes size, type, IOPS and throughput only), although the schema lists
  those properties as updatable;
- a resource bound to a VPC (EKS cluster, ALB, ElastiCache subnet group and replication group)
  cannot follow subnets or security groups into *another* VPC: when the new value comes from a
  replaced VPC, the resource is replaced (`VPC_BOUND`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

# Resource schemas are the same in every region that has the type; one region is enough.
SCHEMA_REGION = "us-east-1"

Path = tuple[str, ...]


class Effect(enum.IntEnum):
    """What a change does to the physical resource, in rising order of harm."""

    UPDATE = 1
    INTERRUPT = 2  # updated in place, with a stop/start (EBS-backed EC2 instance)
    MAY_REPLACE = 3
    REPLACE = 4
    FAIL = 5  # AWS rejects the change: the stack update fails and rolls back

    @property
    def replaces(self) -> bool:
        """A new physical resource (certainly or possibly): its id and attributes change."""
        return self in (Effect.MAY_REPLACE, Effect.REPLACE)

    @property
    def kind(self) -> str:
        return _KINDS[self]


_KINDS = {
    Effect.UPDATE: "updated",
    Effect.INTERRUPT: "updated, with interruption (stop/start)",
    Effect.MAY_REPLACE: "may be replaced",
    Effect.REPLACE: "replaced",
    Effect.FAIL: "update will fail",
}


@dataclass(frozen=True)
class FailRule:
    """A property whose change AWS rejects without replacing the resource.

    `evidence` is a sentence of the property's description in AWS's resource provider schema
    (the pinned cfn-lint ships it); tests/test_update_fails.py checks it is still there, so a
    rule cannot outlive its source.
    """

    resource_type: str
    path: Path
    evidence: str

    @property
    def source(self) -> str:
        return f"resource schema of {self.resource_type}, {'.'.join(self.path)}: {self.evidence!r}"


# The update request fails, whatever the UpdateReplacePolicy: a KMS key is never replaced by
# CloudFormation because of these, the deploy stops and rolls back instead.
UPDATE_FAILS: tuple[FailRule, ...] = (
    FailRule(
        "AWS::KMS::Key",
        ("MultiRegion",),
        "If you change the value of the ``MultiRegion`` property on an existing KMS key, the "
        "update request fails",
    ),
    FailRule(
        "AWS::KMS::Key",
        ("KeySpec",),
        "If you change the value of the ``KeySpec`` property on an existing KMS key, the update "
        "request fails",
    ),
    FailRule(
        "AWS::KMS::Key",
        ("KeyUsage",),
        "If you change the value of the ``KeyUsage`` property on an existing KMS key, the update "
        "request fails",
    ),
    FailRule(
        "AWS::KMS::Key",
        ("Origin",),
        "You cannot change the origin after you create the KMS key.",
    ),
)


def fail_rule(resource_type: str, path: Path) -> FailRule | None:
    """The rule that makes a change at `path` fail, if there is one."""
    plain = names(path)
    for rule in UPDATE_FAILS:
        if rule.resource_type == resource_type and _overlaps(rule.path, plain):
            return rule
    return None


_CUSTOM_NAME = re.compile(
    r"[^.]*(?:can't|cannot|can not) perform updates that require replacement of this resource\.?",
    re.I,
)


@cache
def custom_name_rule(resource_type: str) -> FailRule | None:
    """The property naming the resource, when its schema description says that a resource
    given a name cannot be replaced ("If you specify a name, you cannot perform updates that
    require replacement of this resource"): CloudFormation would create the new one under the
    same name first, so the update fails. Read from the schema, so every such type is covered."""
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    try:
        schema: dict[str, Any] = PROVIDER_SCHEMA_MANAGER.get_resource_schema(
            SCHEMA_REGION, resource_type
        ).schema
    except Exception:  # cfn-lint's ResourceNotFoundError for custom and unknown types
        return None
    for name, prop in (schema.get("properties") or {}).items():
        found = _CUSTOM_NAME.search(" ".join(str(prop.get("description", "")).split()))
        if found:
            return FailRule(resource_type, (name,), found.group(0).strip())
    return None


def keeps_custom_name(resource_type: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Both sides give the resource the same explicit name: a replacement would fail."""
    rule = custom_name_rule(resource_type)
    if rule is None:
        return False
    (name,) = rule.path
    return name in new and old.get(name) == new.get(name)


# Known context, per type: the most specific matching path wins. Sources: the "Update requires"
# line of each property in the AWS CloudFormation template reference.
CONTEXT: dict[str, dict[Path, Effect]] = {
    # Every instance of the estate boots from an EBS-backed AMI (Canonical's Ubuntu images), so
    # these conditional properties stop and start the instance; only an instance-store-backed
    # instance would be replaced.
    "AWS::EC2::Instance": {
        ("InstanceType",): Effect.INTERRUPT,
        ("UserData",): Effect.INTERRUPT,
        ("EbsOptimized",): Effect.INTERRUPT,
        ("KernelId",): Effect.INTERRUPT,
        ("RamdiskId",): Effect.INTERRUPT,
        ("AdditionalInfo",): Effect.INTERRUPT,
        ("Tenancy",): Effect.INTERRUPT,
        ("PrivateDnsNameOptions",): Effect.INTERRUPT,
        ("Affinity",): Effect.UPDATE,
        ("HostId",): Effect.UPDATE,
        # In a VPC (all of ours), security groups change on the running instance.
        ("SecurityGroupIds",): Effect.UPDATE,
        # Only DeleteOnTermination of an attached volume changes in place; anything else in the
        # block device mappings replaces the instance.
        ("BlockDeviceMappings",): Effect.REPLACE,
        ("BlockDeviceMappings", "Ebs", "DeleteOnTermination"): Effect.UPDATE,
    },
    # An EBS volume lives in one zone and keeps its encryption: a new zone, key or snapshot is a
    # new volume (the old one's data stays behind), whatever the schema says.
    "AWS::EC2::Volume": {
        ("AvailabilityZone",): Effect.REPLACE,
        ("AvailabilityZoneId",): Effect.REPLACE,
        ("Encrypted",): Effect.REPLACE,
        ("KmsKeyId",): Effect.REPLACE,
        ("SnapshotId",): Effect.REPLACE,
        ("OutpostArn",): Effect.REPLACE,
    },
}

# Properties that hold subnets or security groups of the resource's VPC. They may change within
# the VPC in place; a value from a new VPC means a new resource.
VPC_BOUND: dict[str, tuple[Path, ...]] = {
    "AWS::EKS::Cluster": (("ResourcesVpcConfig",),),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        ("Subnets",),
        ("SubnetMappings",),
        ("SecurityGroups",),
    ),
    "AWS::ElastiCache::SubnetGroup": (("SubnetIds",),),
    "AWS::ElastiCache::ReplicationGroup": (("SecurityGroupIds",),),
    "AWS::EC2::Instance": (("SecurityGroupIds",),),
}
VPC_TYPE = "AWS::EC2::VPC"


def _schema_paths(pointers: Iterable[str]) -> tuple[Path, ...]:
    """`/properties/A/*/B` -> ("A", "B")."""
    paths = []
    for pointer in pointers:
        parts = pointer.split("/")
        if len(parts) > 2 and parts[1] == "properties":
            paths.append(tuple(p for p in parts[2:] if p and p != "*"))
    return tuple(paths)


@cache
def create_only(resource_type: str) -> tuple[tuple[Path, ...], tuple[Path, ...]] | None:
    """(createOnly, conditionalCreateOnly) property paths of a type; None if no schema has it."""
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    try:
        schema: dict[str, Any] = PROVIDER_SCHEMA_MANAGER.get_resource_schema(
            SCHEMA_REGION, resource_type
        ).schema
    except Exception:  # cfn-lint raises its own ResourceNotFoundError for unknown types
        return None
    return (
        _schema_paths(schema.get("createOnlyProperties", [])),
        _schema_paths(schema.get("conditionalCreateOnlyProperties", [])),
    )


def names(path: Path) -> Path:
    """A change path without list indices: ("Subnets", "0") -> ("Subnets",)."""
    return tuple(p for p in path if not p.isdigit())


def _overlaps(rule: Path, path: Path) -> bool:
    """The rule covers the change (rule is a prefix of it) or the change contains the rule."""
    n = min(len(rule), len(path))
    return rule[:n] == path[:n]


def _context(resource_type: str, path: Path) -> Effect | None:
    rules = CONTEXT.get(resource_type, {})
    matching = [rule for rule in rules if path[: len(rule)] == rule]
    return rules[max(matching, key=len)] if matching else None


def is_vpc_bound(resource_type: str, path: Path) -> bool:
    return any(path[: len(rule)] == rule for rule in VPC_BOUND.get(resource_type, ()))


def property_effect(resource_type: str, path: Path) -> tuple[Effect, str] | None:
    """What a change at `path` (property names, outermost first) does, and the rule that says
    so; None for a type no schema describes (custom resources): the caller falls back to the
    diff engine's own verdict."""
    plain = names(path)
    failing = fail_rule(resource_type, plain)
    if failing is not None:
        return Effect.FAIL, failing.source
    known = _context(resource_type, plain)
    if known is not None:
        return known, "known context"
    rules = create_only(resource_type)
    if rules is None:
        return None
    replacing, conditional = rules
    if any(_overlaps(rule, plain) for rule in replacing):
        return Effect.REPLACE, "createOnlyProperties"
    if any(_overlaps(rule, plain) for rule in conditional):
        return Effect.MAY_REPLACE, "conditionalCreateOnlyProperties"
    return Effect.UPDATE, "updatable"


def is_intrinsic(value: Any) -> bool:
    """`{"Ref": ...}` or `{"Fn::Name": ...}`."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (key,) = value
    return isinstance(key, str) and (key == "Ref" or key.startswith("Fn::"))


def changed_paths(old: Any, new: Any, prefix: Path) -> list[Path]:
    """The innermost paths where two property values differ (lists of equal length by index).

    An intrinsic function (`{"Ref": ...}`, `{"Fn::...": ...}`) is one value: a change inside it
    is a change of the property that holds it.
    """
    both_dicts = isinstance(old, dict) and isinstance(new, dict)
    if both_dicts and not (is_intrinsic(old) or is_intrinsic(new)):
        found: list[Path] = []
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                found += changed_paths(old.get(key), new.get(key), (*prefix, key))
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and old:
        found = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                found += changed_paths(a, b, (*prefix, str(index)))
        return found
    return [prefix] if old != new else []
