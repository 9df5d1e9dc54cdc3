"""The SSM Command document construct: fixed steps only, SSM's limits, the sender's grant."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack, assertions
from aws_cdk import aws_iam as iam

from infra.constructs.ssm_command_document import (
    MAX_TIMEOUT_SECONDS,
    SsmCommandDocument,
    document_content,
)


def test_content_is_one_fixed_linux_step() -> None:
    content = document_content(
        description="probe", step_name="probe", commands=["set -eu", "true"], timeout_seconds=60
    )
    assert "parameters" not in content
    (step,) = content["mainSteps"]
    assert step["inputs"] == {"runCommand": ["set -eu", "true"], "timeoutSeconds": "60"}
    assert step["precondition"] == {"StringEquals": ["platformType", "Linux"]}


@pytest.mark.parametrize(
    ("commands", "timeout", "message"),
    [
        ([], 60, "no commands"),
        (["true"], 0, "outside"),
        (["true"], MAX_TIMEOUT_SECONDS + 1, "outside"),
        (["echo {{ commands }}"], 60, "document parameter"),
    ],
)
def test_content_refuses(commands: list[str], timeout: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        document_content(
            description="probe", step_name="probe", commands=commands, timeout_seconds=timeout
        )


def test_sender_may_send_this_document_to_this_instance_only() -> None:
    stack = Stack(App(), "Probe", env={"account": "123456789012", "region": "sa-east-1"})
    document = SsmCommandDocument(
        stack,
        "Doc",
        document_name="twenty-probe-run",
        description="probe",
        commands=["true"],
        timeout_seconds=60,
    )
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    instance = "arn:aws:ec2:sa-east-1:123456789012:instance/i-0123456789abcdef0"
    for statement in document.send_statements(instance, sid="Run"):
        role.add_to_policy(statement)
    template = assertions.Template.from_stack(stack)
    assert ":document/twenty-probe-run" in json.dumps(stack.resolve(document.document_arn))
    template.has_resource_properties(
        "AWS::SSM::Document",
        {"Name": "twenty-probe-run", "DocumentType": "Command", "UpdateMethod": "NewVersion"},
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Sid": "Run",
                        "Action": "ssm:SendCommand",
                        "Resource": [stack.resolve(document.document_arn), instance],
                    },
                    {"Sid": "RunResult", "Action": "ssm:GetCommandInvocation", "Resource": "*"},
                ]
            }
        },
    )
