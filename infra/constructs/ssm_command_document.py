"""A Systems Manager Command document that runs one fixed shell script: nothing to pass in.

`AWS-RunShellScript` takes its commands as a parameter, and IAM cannot constrain a parameter's
value: whoever may send that document to an instance may run any command as root there. A
document of our own whose steps are fixed (no `parameters` at all) turns "may send this document
to this instance" into "may run exactly this script there", which IAM *can* express: the
document's ARN and the instance's ARN as the only resources of `ssm:SendCommand`.

Every command the estate sends to a host gets one of these, with its own name and its own grant
(`send_statements`). The name is fixed and derived (`infra.naming.ssm_document_name`) so that the
senders, pods and `python -m infra` commands, name it without a lookup; a changed script becomes
a new *version* of the same document (`UpdateMethod: NewVersion`, which also makes it the
default version that `SendCommand` runs), never a replacement under the same name, which
CloudFormation would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

# SSM's limits (CreateDocument): name pattern, and the Command document's execution timeout
# (aws:runShellScript's timeoutSeconds, 1 s to 48 h).
MAX_TIMEOUT_SECONDS = 172_800
SCHEMA_VERSION = "2.2"


def document_content(
    *, description: str, step_name: str, commands: Sequence[str], timeout_seconds: int
) -> dict[str, Any]:
    """The document's JSON: one Linux `aws:runShellScript` step with the script's lines.

    No `parameters` section and no `{{ }}` placeholder: what runs is what is written here. The
    timeout is a string, as AWS-RunShellScript's own `{{ executionTimeout }}` reaches the agent.
    """
    if not commands:
        raise ValueError(f"SSM document step {step_name!r} has no commands")
    if not 1 <= timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError(
            f"SSM document step {step_name!r}: timeout {timeout_seconds} s is outside 1 to "
            f"{MAX_TIMEOUT_SECONDS} s"
        )
    if any("{{" in line for line in commands):
        raise ValueError(
            f"SSM document step {step_name!r}: '{{{{' would be read as a document parameter"
        )
    return {
        "schemaVersion": SCHEMA_VERSION,
        "description": description,
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": step_name,
                "precondition": {"StringEquals": ["platformType", "Linux"]},
                "inputs": {
                    "runCommand": list(commands),
                    "timeoutSeconds": str(timeout_seconds),
                },
            }
        ],
    }


class SsmCommandDocument(Construct):
    """One `AWS::SSM::Document` of type Command running a fixed script on Linux hosts."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        document_name: str,
        description: str,
        commands: Sequence[str],
        timeout_seconds: int,
        step_name: str = "run",
    ) -> None:
        super().__init__(scope, id)
        self.document_name = document_name
        self.content = document_content(
            description=description,
            step_name=step_name,
            commands=commands,
            timeout_seconds=timeout_seconds,
        )
        self.document = ssm.CfnDocument(
            self,
            "Resource",
            name=document_name,
            document_type="Command",
            document_format="JSON",
            content=self.content,
            update_method="NewVersion",
        )
        self.document_arn = Stack.of(self).format_arn(
            service="ssm", resource="document", resource_name=document_name
        )

    def send_statements(self, instance_arn: str, *, sid: str) -> list[iam.PolicyStatement]:
        """What a sender needs, and nothing more: send this document to this one instance, and
        read command results (`ssm:GetCommandInvocation` has no resource type, so `*`; it only
        reads the output of commands, and the only command the sender can start is this one)."""
        return [
            iam.PolicyStatement(
                sid=sid,
                actions=["ssm:SendCommand"],
                resources=[self.document_arn, instance_arn],
            ),
            iam.PolicyStatement(
                sid=f"{sid}Result",
                actions=["ssm:GetCommandInvocation"],
                resources=["*"],
            ),
        ]
