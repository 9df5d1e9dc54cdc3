"""The CDK bootstrap's execution policies cover exactly the estate's resource types (from AWS's
resource provider schemas), IAM writes need the estate's permissions boundary, every role and
user carries it, and `python -m infra bootstrap` puts the policies in place (moto) before it
runs `cdk bootstrap` with them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.deploy.bootstrap import bootstrap
from infra.deploy.bootstrap_policy import (
    BOUNDED_IAM_WRITES,
    CUSTOM_RESOURCE_ACTIONS,
    boundary_arn,
    execution_policies,
    handler_permissions,
    permissions_boundary,
    resource_types,
)
from infra.ops.report import UnusableError
from tests.conftest import CONFIGS, SynthesizedEstate
from tests.iam_policies import Statement

IAM_POLICY_LIMIT = 6144


def _templates(synthesized: SynthesizedEstate, env: str) -> list[dict[str, Any]]:
    return [
        synthesized.template_json(name)
        for name in synthesized.stack_names
        if name.startswith(f"twenty-{env}-")
    ]


def _statements(documents: list[dict[str, Any]]) -> list[Statement]:
    return [Statement("policy", "doc", "", s) for d in documents for s in d["Statement"]]


def _allowed(statements: list[Statement], action: str) -> bool:
    denied = any(
        s.body["Effect"] == "Deny" and action in s.body["Action"] and s.body["Resource"] == "*"
        for s in statements
    )
    return not denied and any(s.allows_action(action) for s in statements)


def test_execution_policies_cover_every_resource_type(
    synthesized: SynthesizedEstate, env: str
) -> None:
    cfg = CONFIGS[env]
    types = resource_types(_templates(synthesized, env))
    documents = execution_policies(types, cfg.site)
    statements = _statements(documents)
    assert 2 <= len(documents) <= 10
    for document in documents:
        assert len(json.dumps(document, separators=(",", ":"))) < IAM_POLICY_LIMIT
    for resource_type in types - {"AWS::CDK::Metadata"}:
        if resource_type.startswith("Custom::"):
            needed = set(CUSTOM_RESOURCE_ACTIONS)
        else:
            needed = set(handler_permissions(resource_type))
        missing = [a for a in needed if not any(s.allows_action(a) for s in statements)]
        assert missing == [], resource_type
    # Nothing beyond the types: a service no type of the estate needs is not allowed.
    assert not _allowed(statements, "rds:CreateDBInstance")
    assert not _allowed(statements, "dynamodb:CreateTable")


def test_iam_writes_need_the_boundary(synthesized: SynthesizedEstate, env: str) -> None:
    cfg = CONFIGS[env]
    documents = execution_policies(resource_types(_templates(synthesized, env)), cfg.site)
    statements = _statements(documents)
    for action in BOUNDED_IAM_WRITES:
        granting = [s for s in statements if s.allows_action(action)]
        assert granting, action
        for statement in granting:
            condition = statement.body.get("Condition", {}).get("StringEquals", {})
            assert condition == {"iam:PermissionsBoundary": boundary_arn(cfg.site)}, action
    for statement in statements:
        if statement.allows and any(a.startswith("iam:") for a in statement.actions):
            assert "*" not in statement.resources, statement.where()
            for resource in statement.resources:
                assert f"/twenty-{env}-" in resource or resource.endswith(
                    ("oidc-provider/*", "role/aws-service-role/*")
                ), resource
    deny = next(s for s in statements if s.body["Effect"] == "Deny")
    assert "iam:DeleteRolePermissionsBoundary" in deny.body["Action"]
    assert boundary_arn(cfg.site) in deny.body["Resource"]


def test_every_role_and_user_carries_the_boundary(synthesized: SynthesizedEstate, env: str) -> None:
    expected = boundary_arn(CONFIGS[env].site)
    checked = 0
    for template in _templates(synthesized, env):
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::User"):
                continue
            props = resource["Properties"]
            assert props.get("PermissionsBoundary") == expected, logical_id
            name = props.get("RoleName") or props.get("UserName")
            assert name is None or name.startswith(f"twenty-{env}-"), name
            checked += 1
    assert checked > 10


def test_the_boundary_allows_no_iam_write() -> None:
    site = next(iter(CONFIGS.values())).site
    statements = _statements([permissions_boundary(site)])
    for action in ("iam:CreateRole", "iam:AttachRolePolicy", "iam:PutUserPolicy", "iam:*"):
        assert not any(s.allows_action(action) for s in statements), action
    for action in ("s3:GetObject", "ssm:SendCommand", "iam:GetRole", "sts:AssumeRole"):
        assert any(s.allows_action(action) for s in statements), action
    (passing,) = [s for s in statements if s.allows_action("iam:PassRole")]
    assert passing.resources == [f"arn:aws:iam::{site.account}:role/twenty-{site.environment}-*"]


# ---------------------------------------------------------------- the command, on moto


def _assembly(synthesized: SynthesizedEstate, env: str, directory: Path) -> Path:
    for name in synthesized.stack_names:
        if name.startswith(f"twenty-{env}-"):
            (directory / f"{name}.template.json").write_text(
                json.dumps(synthesized.template_json(name))
            )
    return directory


def test_bootstrap_puts_the_policies_then_runs_cdk_bootstrap(
    synthesized: SynthesizedEstate, env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = CONFIGS[env]
    monkeypatch.setenv("MOTO_ACCOUNT_ID", cfg.account)  # the policies' ARNs name this account
    assembly = _assembly(synthesized, env, tmp_path)
    commands: list[Sequence[str]] = []

    def run(argv: Sequence[str]) -> int:
        commands.append(argv)
        return 0

    lines: list[str] = []
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        assert bootstrap(cfg, assembly, iam, cfg.account, run=run, say=lines.append) == 0
        names = {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
        assert f"twenty-{env}-permissions-boundary" in names
        executions = sorted(n for n in names if n.startswith(f"twenty-{env}-cfn-execution-"))
        assert executions
        (command,) = commands
        assert list(command[:4]) == [
            "npx", "cdk", "bootstrap", f"aws://{cfg.account}/{cfg.region}"
        ]  # fmt: skip
        arns = command[command.index("--cloudformation-execution-policies") + 1].split(",")
        assert [a.rsplit("/", 1)[1] for a in arns] == executions
        # A second run changes nothing; a failing cdk bootstrap is exit 1.
        lines.clear()
        assert bootstrap(cfg, assembly, iam, cfg.account, run=lambda argv: 3, say=lines.append) == 1
        outcomes = [line.rsplit(" ", 1)[1] for line in lines if "npx cdk" not in line][1:]
        assert outcomes and set(outcomes) == {"unchanged"}, lines


def test_bootstrap_refuses_other_accounts_and_missing_templates(tmp_path: Path) -> None:
    cfg = next(iter(CONFIGS.values()))
    with pytest.raises(UnusableError, match="credentials are for account 999999999999"):
        bootstrap(cfg, tmp_path, None, "999999999999")
    with pytest.raises(UnusableError, match="make synth ENV="):
        bootstrap(cfg, tmp_path, None, cfg.account)


def test_put_policy_updates_in_place_within_five_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.deploy.bootstrap import put_policy

    monkeypatch.setenv("MOTO_ACCOUNT_ID", "123456789012")
    arn = "arn:aws:iam::123456789012:policy/twenty-dev-cfn-execution-1"
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        outcomes = []
        for n in range(7):
            document = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": f"s3:Get{n}", "Resource": "*"}],
            }
            outcomes.append(put_policy(iam, arn, "twenty-dev-cfn-execution-1", document, "t"))
        assert outcomes == ["created"] + ["updated"] * 6
        assert put_policy(iam, arn, "twenty-dev-cfn-execution-1", document, "t") == "unchanged"
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        assert len(versions) == 5
        (default,) = [v for v in versions if v["IsDefaultVersion"]]
        current = iam.get_policy_version(PolicyArn=arn, VersionId=default["VersionId"])
        assert current["PolicyVersion"]["Document"] == document
