"""pin-ami: the file changes in the AMI line only; a deployed database stack is refused.

moto serves STS, EC2 instance types and CloudFormation; it refuses parameters under `/aws/`,
so Canonical's public SSM parameter is answered by botocore's Stubber (GetParameter's shape).
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from botocore.stub import Stubber

from infra.cli import main
from infra.ops.aws import Aws
from infra.ops.pin_ami import canonical_parameter, replace_ami, run_pin_ami
from tests.conftest import ROOT
from tests.ops.conftest import load

NEW_AMI = "ami-0fedcba9876543210"
PARAMETER = "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"


def stub_canonical_parameter(aws: Aws, value: str = NEW_AMI) -> Stubber:
    stubber = Stubber(aws.client("ssm"))
    stubber.add_response(
        "get_parameter",
        {
            "Parameter": {
                "Name": PARAMETER,
                "Type": "String",
                "Value": value,
                "Version": 42,
                "ARN": f"arn:aws:ssm:sa-east-1::parameter{PARAMETER}",
                "DataType": "aws:ec2:image",
            }
        },
        {"Name": PARAMETER},
    )
    stubber.activate()
    return stubber


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_parameter_follows_release_and_architecture() -> None:
    assert canonical_parameter("24.04", "amd64") == PARAMETER
    assert canonical_parameter("22.04", "arm64").endswith(
        "/22.04/stable/current/arm64/hvm/ebs-gp2/ami-id"
    )


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.yaml")), ids=lambda p: p.stem)
def test_only_the_ami_line_changes_in_every_committed_config(path: Path) -> None:
    before = path.read_text()
    after = replace_ami(before, "sa-east-1", NEW_AMI, path.name)
    assert changed_lines(before, after) == [
        "-    sa-east-1: ami-00000000000000000",
        f"+    sa-east-1: {NEW_AMI}",
    ]


def test_quoted_ami_keeps_its_quotes() -> None:
    text = 'database:\n  ami_ids:\n    sa-east-1: "ami-00000000000000000"  # pinned\n'
    assert replace_ami(text, "sa-east-1", NEW_AMI, "x.yaml") == text.replace(
        "ami-00000000000000000", NEW_AMI
    )


def test_pin_ami_writes_the_current_canonical_ami(aws: Aws, config_dir: Path) -> None:
    file = config_dir / "dev.yaml"
    before = file.read_text()
    stubber = stub_canonical_parameter(aws)
    result = run_pin_ami(load(config_dir), file, aws=aws)
    stubber.assert_no_pending_responses()
    assert result.written and result.report.exit_code == 0
    assert len(changed_lines(before, file.read_text())) == 2
    assert load(config_dir).database.ami_ids["sa-east-1"] == NEW_AMI

    again = Aws("sa-east-1")
    stub_canonical_parameter(again)
    result = run_pin_ami(load(config_dir), file, aws=again)
    assert not result.written and "already pins" in result.report.findings[0].detail


def test_pin_ami_refuses_a_deployed_database(aws: Aws, config_dir: Path) -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    aws.client("cloudformation").create_stack(
        StackName="twenty-dev-database", TemplateBody=json.dumps(template)
    )
    file = config_dir / "dev.yaml"
    before = file.read_text()
    stub_canonical_parameter(aws)
    result = run_pin_ami(load(config_dir), file, aws=aws)
    assert result.report.exit_code == 1 and not result.written
    detail = result.report.findings[0].detail
    assert "twenty-dev-database is deployed" in detail and NEW_AMI in detail
    assert "docs/runbooks/database.md#move-to-a-newer-ami-on-purpose" in detail
    assert file.read_text() == before


def test_pin_ami_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("preflight", "pin-ami", "verify"):
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "exit codes: 0 every check passed; 1 findings (one line each); 2 bad input" in out


def test_unknown_environment_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pin-ami", "--env", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config/nope.yaml: no such file" in err
