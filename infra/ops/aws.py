"""boto3 sessions for the operations commands, and what their errors mean to the user.

boto3 itself honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`), `AWS_PROFILE` and
the rest of the standard configuration, so nothing here reads them. Errors split in two:
no usable credentials or endpoint stops the command (exit 2, `UnusableError`); any other AWS error
inside a check becomes that check's finding, naming the API call and AWS's message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from infra.ops.report import Finding, UnusableError

# Bounded: a command never hangs on an unreachable endpoint.
_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
)
# Error codes that mean "these credentials are not valid", whatever the service.
_CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)
NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE (or run `aws sso login`) for the account in "
    "the config file, then run the command again"
)


class Aws:
    """One boto3 session in the environment's region; one client per service, reused.

    Tests replace a client's responses with botocore's Stubber through `client()`, which
    returns the same object on every call.
    """

    def __init__(self, region: str) -> None:
        try:
            self.session = boto3.session.Session(region_name=region)
        except ProfileNotFound as exc:
            raise UnusableError(f"{exc}; check AWS_PROFILE") from None
        self.region = region
        self._client = cache(self._new_client)

    def _new_client(self, service: str) -> Any:
        return self.session.client(service, config=_CLIENT_CONFIG)

    def client(self, service: str) -> Any:
        return self._client(service)

    def account(self) -> str:
        """The account of the caller's credentials (STS), or `UnusableError` without credentials."""
        try:
            return str(self.client("sts").get_caller_identity()["Account"])
        except (BotoCoreError, ClientError) as exc:
            raise UnusableError(unusable_line(exc) or describe(exc)) from None


def unusable_line(exc: BaseException) -> str | None:
    """The one line for an error that makes every check meaningless, else None."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return NO_CREDENTIALS
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return f"cannot reach AWS ({exc}); check the network, or AWS_ENDPOINT_URL if it is set"
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _CREDENTIAL_CODES:
            return f"AWS refused the credentials ({code}): refresh them (e.g. `aws sso login`)"
    return None


def describe(exc: BaseException) -> str:
    """An AWS error as one line: the API call, AWS's code and message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name}: {error.get('Code', '?')}: {error.get('Message', '')}"
    return str(exc)


Check = Callable[[], Iterable[Finding]]


def run_checks(checks: Sequence[tuple[str, Check]]) -> list[Finding]:
    """Run each check in order; an AWS error inside one becomes that check's finding."""
    findings: list[Finding] = []
    for name, check in checks:
        try:
            findings.extend(check())
        except (BotoCoreError, ClientError) as exc:
            line = unusable_line(exc)
            if line is not None:
                raise UnusableError(line) from None
            findings.append(Finding(name, False, describe(exc)))
    return findings


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def find_stack(cloudformation: Any, name: str) -> dict[str, Any] | None:
    """The stack as DescribeStacks returns it, or None if it does not exist (or was deleted)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in describe(exc):
            return None
        raise
    live = [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]
    return live[0] if live else None


def stack_outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
