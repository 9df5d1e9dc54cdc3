"""`twenty-<env>-cicd`: the OIDC deploy role's trust and permissions, asserted exactly.

Exactly this repository (by name and by immutable id) and this GitHub environment may assume
the role, with the audience of AWS STS, and the role may assume nothing but the CDK bootstrap
roles of its own account and region.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import App

from infra.app import cdk_context
from infra.config import EnvironmentConfig
from infra.review.comment import MARKER, pr_comment
from infra.review.stateful import is_stateful
from infra.stacks.cicd import CicdStack
from tests.conftest import ALL_CONFIGS, SynthesizedEstate

ISSUER = "token.actions.githubusercontent.com"


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _expected_subjects(cfg: EnvironmentConfig) -> list[str]:
    assert cfg.cicd is not None
    repo, env = cfg.cicd.repository, cfg.github_environment
    return [
        f"repo:{repo.owner}/{repo.name}:environment:{env}",
        f"repo:{repo.owner}@{repo.owner_id}/{repo.name}@{repo.repository_id}:environment:{env}",
    ]


def _bootstrap_roles(cfg: EnvironmentConfig) -> list[str]:
    assert cfg.cicd is not None
    q, account, region = cfg.cicd.bootstrap_qualifier, cfg.account, cfg.region
    return [
        f"arn:aws:iam::{account}:role/cdk-{q}-{kind}-role-{account}-{region}"
        for kind in ("deploy", "file-publishing", "image-publishing", "lookup")
    ]


def test_every_environment_has_a_cicd_stack(synthesized: SynthesizedEstate, env: str) -> None:
    assert f"twenty-{env}-cicd" in synthesized.stack_names
    assert ALL_CONFIGS[env].cicd is not None


def test_trust_policy_is_exact(synthesized: SynthesizedEstate, env: str) -> None:
    cfg = ALL_CONFIGS[env]
    template = synthesized.template_json(f"twenty-{env}-cicd")
    (provider,) = _resources(template, "AWS::IAM::OIDCProvider").values()
    assert provider["Properties"]["Url"] == f"https://{ISSUER}"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    assert provider["DeletionPolicy"] == "Retain"
    roles = _resources(template, "AWS::IAM::Role")
    assert list(roles) == ["DeployRole"]
    role = roles["DeployRole"]["Properties"]
    assert role["RoleName"] == f"twenty-{env}-github-deploy"
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Effect": "Allow",
            "Principal": {"Federated": {"Fn::GetAtt": ["GitHubOidcProvider", "Arn"]}},
            "Condition": {
                "StringEquals": {
                    f"{ISSUER}:aud": "sts.amazonaws.com",
                    f"{ISSUER}:sub": _expected_subjects(cfg),
                }
            },
        }
    ]
    subjects = _expected_subjects(cfg)
    assert all("*" not in s and "?" not in s for s in subjects)
    assert subjects[0].startswith("repo:example-org/twenty-estate:")  # exact owner, no wildcard
    assert subjects[0].endswith(f":environment:{env}")


def test_role_may_only_assume_the_bootstrap_roles(synthesized: SynthesizedEstate, env: str) -> None:
    cfg = ALL_CONFIGS[env]
    template = synthesized.template_json(f"twenty-{env}-cicd")
    role = _resources(template, "AWS::IAM::Role")["DeployRole"]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    # The estate's boundary, like every role (docs/security.md): no IAM writes through it.
    assert role["PermissionsBoundary"] == (
        f"arn:aws:iam::{cfg.account}:policy/twenty-{env}-permissions-boundary"
    )
    (policy,) = _resources(template, "AWS::IAM::Policy").values()
    assert policy["Properties"]["Roles"] == [{"Ref": "DeployRole"}]
    expected = [
        {
            "Sid": "AssumeCdkBootstrapRoles",
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Resource": _bootstrap_roles(cfg),
        }
    ]
    recovery = cfg.recovery_site
    if recovery is not None:  # the recovery stack deploys in its own region (and account)
        assert cfg.cicd is not None
        q = cfg.cicd.bootstrap_qualifier
        expected.append(
            {
                "Sid": "AssumeRecoveryRegionCdkBootstrapRoles",
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Resource": [
                    f"arn:aws:iam::{recovery.account}:role/cdk-{q}-{kind}-role-"
                    f"{recovery.account}-{recovery.region}"
                    for kind in ("deploy", "file-publishing", "image-publishing", "lookup")
                ],
            }
        )
    assert policy["Properties"]["PolicyDocument"]["Statement"] == expected
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert kinds == {"AWS::IAM::OIDCProvider", "AWS::IAM::Role", "AWS::IAM::Policy"}


def test_existing_provider_is_referenced_not_created() -> None:
    cfg = ALL_CONFIGS["qa"]
    assert cfg.cicd is not None
    shared = cfg.cicd.model_copy(update={"oidc_provider": "existing", "bootstrap_qualifier": "abc"})
    app = App(context=cdk_context())
    stack = CicdStack(app, site=cfg.site, cicd=shared, github_environment="qa-approved")
    template = app.synth().get_stack_by_name(stack.stack_name).template
    assert _resources(template, "AWS::IAM::OIDCProvider") == {}
    role = _resources(template, "AWS::IAM::Role")["DeployRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::{cfg.account}:oidc-provider/{ISSUER}"
    }
    assert statement["Condition"]["StringEquals"][f"{ISSUER}:sub"][0].endswith(
        ":environment:qa-approved"
    )
    (policy,) = _resources(template, "AWS::IAM::Policy").values()
    resources = policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"]
    assert all(r.split(":role/")[1].startswith("cdk-abc-") for r in resources)


def test_the_guard_protects_the_shared_provider() -> None:
    assert is_stateful("AWS::IAM::OIDCProvider")


def test_pr_comment_is_marked_and_fits() -> None:
    short = "# diff\n\n- **dev**: clear\n"
    assert pr_comment(short) == f"{MARKER}\n{short}"
    long = "# diff\n\n```diff\n" + "+ line of a manifest\n" * 10_000 + "```\n"
    body = pr_comment(long, limit=5_000)
    assert len(body) <= 5_000
    assert body.startswith(MARKER + "\n") and "Report truncated" in body
    assert body.count("```") % 2 == 0  # the open code block is closed
