"""`python -m infra smtp-credentials` on moto: key created, secret written, rotation, refusals."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.smtp_credentials import SmtpCredentialsError, issue, smtp_password

REGION = "sa-east-1"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        sm = boto3.client("secretsmanager", region_name=REGION)
        iam.create_user(UserName="twenty-dev-smtp")
        sm.create_secret(Name="twenty/dev/smtp")  # as the stack makes it: no value
        yield {"iam": iam, "secretsmanager": sm}


def stored(aws: dict[str, Any]) -> dict[str, str]:
    value: dict[str, str] = json.loads(
        aws["secretsmanager"].get_secret_value(SecretId="twenty/dev/smtp")["SecretString"]
    )
    return value


def keys(aws: dict[str, Any]) -> list[str]:
    listed = aws["iam"].list_access_keys(UserName="twenty-dev-smtp")["AccessKeyMetadata"]
    return [k["AccessKeyId"] for k in listed]


def test_smtp_password_shape() -> None:
    password = smtp_password("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", REGION)
    raw = base64.b64decode(password)
    assert raw[0] == 4 and len(raw) == 33  # version byte + SHA-256
    assert password != smtp_password("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
    assert password != smtp_password("another-secret-key", REGION)


def test_first_run_creates_a_key_and_writes_the_secret(aws: dict[str, Any]) -> None:
    issued = issue(environment="dev", region=REGION, rotate=False, **aws)
    value = stored(aws)
    assert keys(aws) == [issued.access_key_id] == [value["username"]]
    assert base64.b64decode(value["password"])[0] == 4


def test_second_run_without_rotate_is_refused(aws: dict[str, Any]) -> None:
    issue(environment="dev", region=REGION, rotate=False, **aws)
    with pytest.raises(SmtpCredentialsError, match="--rotate"):
        issue(environment="dev", region=REGION, rotate=False, **aws)


def test_rotation_replaces_the_key_and_the_secret(aws: dict[str, Any]) -> None:
    first = issue(environment="dev", region=REGION, rotate=False, **aws)
    second = issue(environment="dev", region=REGION, rotate=True, **aws)
    assert second.deleted_key_ids == (first.access_key_id,)
    assert keys(aws) == [second.access_key_id] == [stored(aws)["username"]]


def test_undeployed_stack_is_named(aws: dict[str, Any]) -> None:
    with pytest.raises(SmtpCredentialsError, match="twenty-qa-dns"):
        issue(environment="qa", region=REGION, rotate=False, **aws)
    aws["secretsmanager"].delete_secret(SecretId="twenty/dev/smtp", ForceDeleteWithoutRecovery=True)
    with pytest.raises(SmtpCredentialsError, match="twenty/dev/smtp does not exist"):
        issue(environment="dev", region=REGION, rotate=False, **aws)
    assert keys(aws) == [], "the key made for a missing secret must be deleted again"
