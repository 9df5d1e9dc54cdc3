"""How a stateful resource is kept: retained, under a logical id no refactor can move.

CloudFormation identifies a resource by its logical id; a construct-tree change would otherwise
derive a new one and replace (or orphan) the resource. Every zone, certificate, bucket, key,
secret, vault and database resource is pinned through these two functions.
"""

from __future__ import annotations

from aws_cdk import CfnResource, RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct


def pin_logical_id(construct: IConstruct, logical_id: str) -> None:
    """Give the construct's CloudFormation resource the fixed `logical_id`."""
    cfn = construct.node.default_child
    assert isinstance(cfn, CfnResource), f"{construct.node.path} has no CfnResource"
    cfn.override_logical_id(logical_id)


def retained_key(
    scope: Construct, id: str, *, description: str, logical_id: str | None = None
) -> kms.Key:
    """A customer-managed KMS key, rotation on, retained; pinned to `logical_id` if given."""
    key = kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    if logical_id is not None:
        pin_logical_id(key, logical_id)
    return key
