"""The CDK bootstrap's CloudFormation execution policies and the estate's permissions boundary.

`cdk bootstrap` by default gives CloudFormation `AdministratorAccess`, so whoever reaches the
deploy role is account admin. Instead the execution role gets managed policies derived from the
synthesized templates: for every resource type the estate creates, the permissions AWS's own
resource provider schema lists for its create/read/update/delete/list handlers (cfn-lint ships
those schemas), and nothing for a type the estate does not create. IAM is the exception that
needs more than a list: a role or user may be created or given policies only with the estate's
permissions boundary attached (`iam:PermissionsBoundary`), only under the estate's names
(`twenty-<env>-*`), and the boundary cannot be removed or rewritten. The boundary (applied to
every role and user of the estate by `infra/app.py`) allows everything except IAM writes, so no
role the estate creates can mint a stronger one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

from infra.config import Site
from infra.naming import partition_of, permissions_boundary_name

# CloudFormation invokes a custom resource's provider function with the execution role.
CUSTOM_RESOURCE_ACTIONS = ("lambda:InvokeFunction",)
# CDK's templates read the bootstrap version parameter (rule CheckBootstrapVersion) and
# Fn::GetStackOutput reads the estate's other stacks.
TEMPLATE_ACTIONS = ("ssm:GetParameters", "cloudformation:DescribeStacks")
# IAM writes that take the `iam:PermissionsBoundary` condition key: allowed only with ours.
BOUNDED_IAM_WRITES = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:CreateUser",
    "iam:PutUserPolicy",
    "iam:DeleteUserPolicy",
    "iam:AttachUserPolicy",
    "iam:DetachUserPolicy",
    "iam:PutUserPermissionsBoundary",
)
# A managed policy holds at most 6,144 characters (whitespace not counted); stay below.
POLICY_BUDGET = 5800
SCHEMA_REGION = "us-east-1"
MAX_EXECUTION_POLICIES = 10  # managed policies per role (IAM's default quota)


def execution_policy_name(environment: str, index: int) -> str:
    return f"twenty-{environment}-cfn-execution-{index}"


def _arn(site: Site, resource: str) -> str:
    return f"arn:{partition_of(site.region)}:iam::{site.account}:{resource}"


def boundary_arn(site: Site) -> str:
    return _arn(site, f"policy/{permissions_boundary_name(site.environment)}")


def resource_types(templates: Iterable[dict[str, Any]]) -> set[str]:
    """Every resource type of the templates (custom resources as `Custom::*`)."""
    return {r["Type"] for t in templates for r in t.get("Resources", {}).values()}


@cache
def handler_permissions(resource_type: str) -> frozenset[str]:
    """The permissions of every handler of the type's resource provider schema."""
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema
    handlers = schema.get("handlers") or {}
    if not handlers:
        raise ValueError(f"{resource_type}: its provider schema lists no handler permissions")
    return frozenset(p for h in handlers.values() for p in h.get("permissions", []))


def required_actions(types: Iterable[str]) -> set[str]:
    """What CloudFormation needs to create, update and delete resources of these types."""
    actions: set[str] = set(TEMPLATE_ACTIONS)
    for resource_type in types:
        if resource_type == "AWS::CDK::Metadata":
            continue
        if resource_type.startswith("Custom::"):
            actions.update(CUSTOM_RESOURCE_ACTIONS)
            continue
        actions.update(handler_permissions(resource_type))
    return actions


def _statement(sid: str, actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def execution_policies(types: Iterable[str], site: Site) -> list[dict[str, Any]]:
    """The execution role's policy documents, each under IAM's size limit."""
    env = site.environment
    actions = required_actions(types)
    iam = sorted(a for a in actions if a.startswith("iam:"))
    others = sorted(a for a in actions if not a.startswith("iam:"))
    estate = [
        _arn(site, f"{kind}/twenty-{env}-*")
        for kind in ("role", "user", "policy", "instance-profile", "group")
    ]
    iam_statements = [
        _statement(
            "IamWritesOnlyWithTheBoundary",
            sorted(set(BOUNDED_IAM_WRITES)),
            [estate[0], estate[1]],
            Condition={"StringEquals": {"iam:PermissionsBoundary": boundary_arn(site)}},
        ),
        _statement(
            "IamOnTheEstatesNames",
            [a for a in iam if a not in BOUNDED_IAM_WRITES],
            [*estate, _arn(site, "oidc-provider/*"), _arn(site, "role/aws-service-role/*")],
        ),
        {
            "Sid": "TheBoundaryStays",
            "Effect": "Deny",
            "Action": [
                "iam:DeleteRolePermissionsBoundary",
                "iam:DeleteUserPermissionsBoundary",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
            ],
            "Resource": [
                estate[0],
                estate[1],
                boundary_arn(site),
                _arn(site, f"policy/twenty-{env}-cfn-execution-*"),
            ],
        },
    ]
    documents = [{"Version": "2012-10-17", "Statement": iam_statements}]
    chunk: list[str] = []
    for action in others:
        candidate = {
            "Version": "2012-10-17",
            "Statement": [_statement("ResourceTypesOfTheEstate", [*chunk, action], ["*"])],
        }
        if _size(candidate) > POLICY_BUDGET:
            documents.append(
                {
                    "Version": "2012-10-17",
                    "Statement": [_statement("ResourceTypesOfTheEstate", chunk, ["*"])],
                }
            )
            chunk = [action]
        else:
            chunk.append(action)
    if chunk:
        documents.append(
            {
                "Version": "2012-10-17",
                "Statement": [_statement("ResourceTypesOfTheEstate", chunk, ["*"])],
            }
        )
    if len(documents) > MAX_EXECUTION_POLICIES:
        raise ValueError(
            f"{len(documents)} execution policies exceed IAM's {MAX_EXECUTION_POLICIES}"
        )
    return documents


def permissions_boundary(site: Site) -> dict[str, Any]:
    """The most any role or user of the estate may do: anything but IAM writes (so no
    privilege escalation), and roles passed only if they are the estate's own."""
    env = site.environment
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ServiceWorkNotIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {
                "Sid": "IamReadsAndServiceLinkedRoles",
                "Effect": "Allow",
                "Action": ["iam:Get*", "iam:List*", "iam:CreateServiceLinkedRole"],
                "Resource": "*",
            },
            {
                "Sid": "PassOnlyTheEstatesRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": _arn(site, f"role/twenty-{env}-*"),
            },
        ],
    }
