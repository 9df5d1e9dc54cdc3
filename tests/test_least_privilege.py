"""Least privilege across every synthesized stack of every environment: one test per rule,
each with a guard showing the rule would catch the wide grant it forbids."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import SynthesizedEstate
from tests.iam_policies import Statement, estate_statements, statements


@pytest.fixture(scope="module")
def templates(synthesized: SynthesizedEstate) -> dict[str, dict[str, Any]]:
    return {name: synthesized.template_json(name) for name in synthesized.stack_names}


@pytest.fixture(scope="module")
def all_statements(templates: dict[str, dict[str, Any]]) -> list[Statement]:
    return estate_statements(templates)


# ---------------------------------------------------------------- SSM Run Command


def estate_documents(templates: dict[str, dict[str, Any]]) -> set[str]:
    """The names of the SSM documents the estate creates."""
    return {
        resource["Properties"]["Name"]
        for template in templates.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::SSM::Document"
    }


def send_command_problems(found: list[Statement], documents: set[str]) -> list[str]:
    """Every grant of ssm:SendCommand on something other than the estate's own documents and
    instances: `*`, a wildcard document, an AWS-owned document (AWS-RunShellScript runs any
    command it is given)."""
    problems = []
    for statement in found:
        if not statement.allows_action("ssm:SendCommand"):
            continue
        if "NotResource" in statement.body:
            problems.append(f"{statement.where()}: SendCommand with NotResource")
        for resource in statement.resources:
            text = json.dumps(resource)
            wildcard = "*" in text or "?" in text
            if wildcard or (":document/" not in text and ":instance/" not in text):
                problems.append(f"{statement.where()}: SendCommand on {text}")
            elif ":document/" in text:
                name = str(resource).rsplit("document/", 1)[-1]
                if not isinstance(resource, str) or name not in documents:
                    problems.append(f"{statement.where()}: SendCommand of document {text}")
    return problems


def test_no_policy_sends_aws_run_shell_script(templates: dict[str, dict[str, Any]]) -> None:
    for name, template in templates.items():
        assert "AWS-RunShellScript" not in json.dumps(template), name


def test_send_command_only_for_the_estates_own_documents(
    templates: dict[str, dict[str, Any]], all_statements: list[Statement]
) -> None:
    documents = estate_documents(templates)
    assert documents, "the estate creates its SSM documents"
    assert send_command_problems(all_statements, documents) == []


def test_every_document_has_fixed_steps(templates: dict[str, dict[str, Any]]) -> None:
    """A sender cannot choose what runs: no parameters and no placeholder, except a parameter
    every value of which is fixed by `allowedValues` or a pattern anchored at both ends (the
    restore document's target time and repository, infra/restore_document.py)."""
    for template in templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::SSM::Document":
                continue
            content = resource["Properties"]["Content"]
            assert resource["Properties"]["DocumentType"] == "Command"
            parameters = content.get("parameters", {})
            for name, spec in parameters.items():
                pattern = spec.get("allowedPattern", "")
                fixed = spec.get("allowedValues") or (
                    pattern.startswith("^") and pattern.endswith("$")
                )
                assert fixed, f"parameter {name} takes free text"
            placeholders = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", json.dumps(content)))
            assert placeholders <= set(parameters), placeholders - set(parameters)


def _policy(*body: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "Wide": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyDocument": {"Statement": list(body)},
                    "Roles": [{"Ref": "Role"}],
                },
            }
        }
    }


@pytest.mark.parametrize(
    "body",
    [
        {
            "Effect": "Allow",
            "Action": "ssm:SendCommand",
            "Resource": "arn:aws:ssm:sa-east-1::document/AWS-RunShellScript",
        },
        {"Effect": "Allow", "Action": "ssm:Send*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "ssm:*",
            "Resource": "arn:aws:ssm:sa-east-1:111111111111:document/*",
        },
        {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "ssm:SendCommand",
            "Resource": [
                "arn:aws:ssm:sa-east-1:111111111111:document/twenty-dev-upgrade-backup",
                "arn:aws:ec2:sa-east-1:111111111111:instance/*",
            ],
        },
    ],
)
def test_send_command_check_catches_wide_grants(body: dict[str, Any]) -> None:
    found = list(statements("probe", _policy(body)))
    assert send_command_problems(found, {"twenty-dev-upgrade-backup"})


# ---------------------------------------------------------------- load balancer controller

LBC_ROLE = "AwsLoadBalancerControllerServiceAccountRole"
# What a TargetGroupBinding never needs, and the published policy grants: any of these left on
# the controller's role fails the check.
LBC_FORBIDDEN = (
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:SetWebAcl",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:DeleteTargetGroup",
    "wafv2:AssociateWebACL",
    "wafv2:DisassociateWebACL",
    "waf-regional:AssociateWebACL",
    "waf-regional:DisassociateWebACL",
    "shield:CreateProtection",
    "shield:DeleteProtection",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup",
    "iam:CreateServiceLinkedRole",
)


def load_balancer_controller_problems(found: list[Statement]) -> list[str]:
    """Forbidden writes on the controller's role, and registrations beyond named target groups."""
    problems = []
    for statement in found:
        if LBC_ROLE not in statement.principals:
            continue
        problems += [
            f"{statement.where()}: {action}"
            for action in LBC_FORBIDDEN
            if statement.allows_action(action)
        ]
        if statement.allows_action("elasticloadbalancing:RegisterTargets"):
            text = json.dumps(statement.resources)
            if "*" in text or "NotResource" in statement.body:
                problems.append(f"{statement.where()}: RegisterTargets on {text}")
    return problems


def test_load_balancer_controller_has_no_listener_rule_waf_or_shield_writes(
    all_statements: list[Statement],
) -> None:
    on_role = [s for s in all_statements if LBC_ROLE in s.principals]
    assert {s.stack.rsplit("-", 1)[-1] for s in on_role} == {"cluster", "crm"}
    assert load_balancer_controller_problems(all_statements) == []
    registers = [s for s in on_role if s.allows_action("elasticloadbalancing:RegisterTargets")]
    for statement in registers:
        assert len(statement.resources) == 2, "the frontend and backend target groups"


def test_load_balancer_controller_check_catches_the_published_policy() -> None:
    """Guard: the controller project's full policy for the pinned release fails the check."""
    from infra.config import alb_controller_policy_file
    from tests.conftest import CONFIGS

    version = next(iter(CONFIGS.values())).cluster.addons.aws_load_balancer_controller
    published = json.loads(alb_controller_policy_file(version).read_text())
    template = _policy(*published["Statement"])
    template["Resources"]["Wide"]["Properties"]["Roles"] = [{"Ref": LBC_ROLE + "00291A97"}]
    problems = load_balancer_controller_problems(list(statements("probe", template)))
    for action in ("CreateListener", "DisassociateWebACL", "DeleteProtection", "SetWebAcl"):
        assert any(action in p for p in problems), action


# ---------------------------------------------------------------- the CRM's file bucket

CRM_ROLE = "CrmServiceAccountRole"


def destroys_file_versions(found: list[Statement]) -> list[str]:
    """Grants to the CRM's role that could destroy a file version (not just hide it)."""
    return [
        statement.where()
        for statement in found
        if CRM_ROLE in statement.principals
        and any(
            statement.allows_action(action)
            for action in (
                "s3:DeleteObjectVersion",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketVersioning",
                "s3:DeleteBucket",
                "s3:PutObjectRetention",
                "s3:BypassGovernanceRetention",
            )
        )
    ]


def test_crm_cannot_destroy_file_versions(all_statements: list[Statement]) -> None:
    on_role = [s for s in all_statements if CRM_ROLE in s.principals]
    assert any(s.allows_action("s3:DeleteObject") for s in on_role), "users delete files"
    assert destroys_file_versions(all_statements) == []


def test_version_check_catches_a_wildcard_delete() -> None:
    """Guard: CDK's grant_read_write gives s3:DeleteObject*, which includes DeleteObjectVersion."""
    template = _policy({"Effect": "Allow", "Action": "s3:DeleteObject*", "Resource": "*"})
    template["Resources"]["Wide"]["Properties"]["Roles"] = [{"Ref": CRM_ROLE + "1A2B3C4D"}]
    assert destroys_file_versions(list(statements("probe", template)))


# ---------------------------------------------------------------- smaller ones


def _resources_of(templates: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {
        f"{stack}/{logical_id}": resource
        for stack, template in templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def test_every_secret_is_on_a_customer_managed_key(templates: dict[str, dict[str, Any]]) -> None:
    secrets = _resources_of(templates, "AWS::SecretsManager::Secret")
    assert any("SmtpCredentialsSecret" in where for where in secrets)
    for where, secret in secrets.items():
        assert "KmsKeyId" in secret["Properties"], where


def test_every_bucket_is_versioned(templates: dict[str, dict[str, Any]]) -> None:
    """Access-log buckets too: a deleted log stays recoverable until it would have expired."""
    buckets = _resources_of(templates, "AWS::S3::Bucket")
    assert any("AccessLogs" in where for where in buckets)
    for where, bucket in buckets.items():
        versioning = bucket["Properties"].get("VersioningConfiguration")
        assert versioning == {"Status": "Enabled"}, where


def test_waf_logs_requests_without_credentials(templates: dict[str, dict[str, Any]]) -> None:
    for name, template in templates.items():
        if not name.endswith("-edge"):
            continue
        env = name.removeprefix("twenty-").removesuffix("-edge")
        (logging,) = _resources_of({name: template}, "AWS::WAFv2::LoggingConfiguration").values()
        props = logging["Properties"]
        redacted = {f["SingleHeader"]["Name"] for f in props["RedactedFields"]}
        assert redacted == {"authorization", "cookie"}
        (destination,) = props["LogDestinationConfigs"]
        assert json.dumps(destination).endswith(f':log-group:aws-waf-logs-twenty-{env}"')
        groups = [
            g
            for g in template["Resources"].values()
            if g["Type"] == "AWS::Logs::LogGroup"
            and g["Properties"].get("LogGroupName") == f"aws-waf-logs-twenty-{env}"
        ]
        (group,) = groups
        assert "KmsKeyId" in group["Properties"] and group["DeletionPolicy"] == "Retain"


def unconditioned_service_grants(policy: dict[str, Any]) -> list[str]:
    """Allow statements of a resource policy that admit an AWS service without
    aws:SourceAccount (the confused-deputy guard)."""
    return [
        json.dumps(s)
        for s in policy["Statement"]
        if s["Effect"] == "Allow"
        and "Service" in s.get("Principal", {})
        and "aws:SourceAccount" not in json.dumps(s.get("Condition", {}))
    ]


def test_alarm_topic_and_key_admit_services_for_this_account_only(
    templates: dict[str, dict[str, Any]],
) -> None:
    for name, template in templates.items():
        if not name.endswith("-monitoring"):
            continue
        resources = template["Resources"]
        policies = [
            r["Properties"]["PolicyDocument"]
            for r in resources.values()
            if r["Type"] == "AWS::SNS::TopicPolicy"
        ] + [resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]]
        assert len(policies) == 2
        for policy in policies:
            assert unconditioned_service_grants(policy) == [], name


def test_service_grant_check_catches_a_bare_service_principal() -> None:
    policy = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "*"}
        ]
    }
    assert unconditioned_service_grants(policy)


def test_prometheus_workspace_is_retained(templates: dict[str, dict[str, Any]]) -> None:
    workspaces = _resources_of(templates, "AWS::APS::Workspace")
    assert workspaces
    for where, workspace in workspaces.items():
        assert workspace.get("DeletionPolicy") == "Retain", where
        assert workspace.get("UpdateReplacePolicy") == "Retain", where


# ---------------------------------------------------------------- acknowledgements tell the truth


def test_acknowledgements_claim_only_what_the_policies_enforce(
    synthesized: SynthesizedEstate,
) -> None:
    """The reasons issue 23 found false are gone, and their replacements name the limit."""
    acks = [
        ack
        for estate in synthesized.estates.values()
        for stack in estate.stacks
        for ack in stack.acknowledgements
    ]
    assert acks
    for ack in acks:
        assert "AWS-RunShellScript" not in ack.reason, ack
        assert "Action::s3:DeleteObject*" not in ack.rule_id, ack
        assert "elbv2.k8s.aws/cluster resource tag conditions" not in ack.reason, ack
    backup = [a for a in acks if "UpgradeBackupRole" in a.path]
    assert backup and all("no parameters" in a.reason for a in backup)
    files = [a for a in acks if "CrmServiceAccountRole" in a.path]
    assert files and all("DeleteObject alone" in a.reason for a in files)
