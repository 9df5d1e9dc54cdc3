"""The guard's "update will fail" rules and its retain-policy check, on AWS's own data.

Each rule of `replacement.UPDATE_FAILS` quotes its property's description in AWS's resource
provider schema (shipped by the pinned cfn-lint); the quote must still be there, and the
property must not be create-only (that would make the change a replacement, not a failure).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

from infra.review.guard import findings, retain_lost
from infra.review.replacement import (
    SCHEMA_REGION,
    UPDATE_FAILS,
    Effect,
    FailRule,
    create_only,
    custom_name_rule,
    property_effect,
)
from infra.review.templates import ResourceChange
from tests.conftest import ROOT

SNAPSHOTS = ROOT / "tests" / "__snapshots__"


def _description(rule: FailRule) -> str:
    schema: dict[str, Any] = PROVIDER_SCHEMA_MANAGER.get_resource_schema(
        SCHEMA_REGION, rule.resource_type
    ).schema
    node: dict[str, Any] = schema
    for name in rule.path:
        node = node["properties"][name]
    return " ".join(str(node.get("description", "")).split())


@pytest.mark.parametrize("rule", UPDATE_FAILS, ids=lambda r: f"{r.resource_type}.{r.path[0]}")
def test_every_rule_quotes_its_schema_and_is_not_a_replacement(rule: FailRule) -> None:
    assert " ".join(rule.evidence.split()) in _description(rule)
    rules = create_only(rule.resource_type)
    assert rules is not None
    replacing, conditional = rules
    assert rule.path not in replacing and rule.path not in conditional
    effect, source = property_effect(rule.resource_type, rule.path) or (None, "")
    assert effect is Effect.FAIL and rule.evidence in source


def test_other_kms_properties_still_update() -> None:
    assert property_effect("AWS::KMS::Key", ("EnableKeyRotation",)) == (Effect.UPDATE, "updatable")


def _volume(**policies: str) -> dict[str, Any]:
    return {"Resources": {"Data": {"Type": "AWS::EC2::Volume", **policies}}}


@pytest.mark.parametrize(
    ("before", "after", "lost"),
    [
        ({"DeletionPolicy": "Retain"}, {}, "DeletionPolicy Retain -> Delete (absent)"),
        ({"DeletionPolicy": "Retain"}, {"DeletionPolicy": "Snapshot"}, "Retain -> Snapshot"),
        ({"UpdateReplacePolicy": "Snapshot"}, {"UpdateReplacePolicy": "Delete"}, "Snapshot"),
        ({"DeletionPolicy": "RetainExceptOnCreate"}, {"DeletionPolicy": "Retain"}, None),
        ({"DeletionPolicy": "Delete"}, {"DeletionPolicy": "Retain"}, None),
        ({}, {}, None),
    ],
)
def test_retain_lost(before: dict[str, str], after: dict[str, str], lost: str | None) -> None:
    found = retain_lost(_volume(**before), _volume(**after))
    if lost is None:
        assert found == {}
    else:
        assert lost in found["Data"]


def test_a_stateless_resource_may_drop_its_retain_policy() -> None:
    old = {"Resources": {"Group": {"Type": "AWS::EC2::SecurityGroup", "DeletionPolicy": "Retain"}}}
    new = {"Resources": {"Group": {"Type": "AWS::EC2::SecurityGroup"}}}
    assert retain_lost(old, new) == {}


def test_retain_lost_is_blocked_unless_allowed() -> None:
    row = ResourceChange("Data", "AWS::EC2::Volume", "WILL_UPDATE", None, None, None, (), ())
    pair = (_volume(DeletionPolicy="Retain"), _volume())
    (finding,) = findings("dev", "twenty-dev-database", [row], frozenset(), pair)
    assert not finding.allowed and "loses its retain policy" in finding.describe()
    allowed = frozenset({"dev/twenty-dev-database/Data"})
    (finding,) = findings("dev", "twenty-dev-database", [row], allowed, pair)
    assert finding.allowed


_IMMUTABLE = re.compile(r"(?:can't|cannot) change the\b[^.]*\bafter\b[^.]*\bcreate", re.I)


def test_every_immutable_property_of_the_estates_types_has_a_rule() -> None:
    """Completeness over the resource types the estate uses (read from the committed template
    snapshots): a property the schema calls unchangeable after creation, but that is not
    create-only (which would be a replacement), must have a rule."""
    snapshots = " ".join(p.read_text() for p in SNAPSHOTS.rglob("*") if p.is_file())
    types = sorted(set(re.findall(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+", snapshots)))
    assert "AWS::KMS::Key" in types and len(types) > 20
    ruled = {(r.resource_type, r.path) for r in UPDATE_FAILS}
    found = set()
    for resource_type in types:
        rules = create_only(resource_type)
        if rules is None:
            continue
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema
        for name, prop in schema.get("properties", {}).items():
            described = " ".join(str(prop.get("description", "")).split())
            if _IMMUTABLE.search(described) and (name,) not in rules[0]:
                found.add((resource_type, (name,)))
    assert found and found <= ruled, found - ruled


def test_a_named_resource_cannot_be_replaced_under_the_same_name() -> None:
    """S3's schema: "If you specify a name, you can't perform updates that require replacement
    of this resource." A replacement that keeps BucketName is a failed update, blocked; one that
    changes the name is a replacement."""
    from infra.review.command import environment_report
    from infra.review.templates import PropertyChange, TemplateDiff

    rule = custom_name_rule("AWS::S3::Bucket")
    assert rule is not None and rule.path == ("BucketName",)
    assert custom_name_rule("AWS::EC2::Volume") is None

    def bucket(**props: str) -> dict[str, Any]:
        return {"Resources": {"Files": {"Type": "AWS::S3::Bucket", "Properties": props}}}

    def judged(old: dict[str, Any], new: dict[str, Any], changed: str) -> Any:
        row = ResourceChange(
            "Files",
            "AWS::S3::Bucket",
            "WILL_REPLACE",
            "AWS::S3::Bucket",
            "AWS::S3::Bucket",
            None,
            (PropertyChange(changed, "WILL_REPLACE"),),
            (),
        )
        stack = "twenty-dev-data"
        return environment_report(
            "dev", {stack: (old, new)}, {stack: TemplateDiff((row,), ())}, frozenset()
        )

    kept = judged(
        bucket(BucketName="twenty-dev-files"),
        bucket(BucketName="twenty-dev-files", BucketNamespace="account-regional"),
        "BucketNamespace",
    )
    (change,) = kept.stacks[0].diff.resources
    assert change.kind == "update will fail"
    (finding,) = kept.blocked
    assert "BucketName kept while replaced: BucketNamespace" in finding.describe()
    assert "can't perform updates that require replacement" in finding.describe()
    renamed = judged(
        bucket(BucketName="twenty-dev-files"), bucket(BucketName="twenty-dev-files-2"), "BucketName"
    )
    assert renamed.stacks[0].diff.resources[0].kind == "replaced"
