"""boto3 sessions for every command that talks to AWS, and what their errors mean to the user.

This is the ONE place where AWS clients are made (`Aws`): every client has the same bounded
connect and read timeouts and retries (`Timeouts`), and announces each call to
`infra.ops.progress`, so a command against an endpoint that accepts connections but never
answers prints a progress line at least every ~10 s and ends, with one line, after at most
`attempts x (connect + read)` seconds per call. Tests shorten the bounds with the variables
`TWENTY_AWS_CONNECT_TIMEOUT`, `TWENTY_AWS_READ_TIMEOUT` and `TWENTY_AWS_MAX_ATTEMPTS`.

boto3 itself honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`), `AWS_PROFILE` and
the rest of the standard configuration, so nothing here reads them. Errors split in two:
no usable credentials or endpoint stops the command (exit 2, `UnusableError`); any other AWS error
inside a check becomes that check's finding, naming the API call and AWS's message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from infra.ops import progress
from infra.ops.report import Finding, UnusableError


@dataclass(frozen=True)
class Timeouts:
    """Bounds of every AWS call: seconds to connect, seconds to wait for an answer, and how
    many attempts in all (botocore's `standard` retry mode, with its backoff)."""

    connect: float = 5.0
    read: float = 20.0
    attempts: int = 3

    VARIABLES = {
        "connect": "TWENTY_AWS_CONNECT_TIMEOUT",
        "read": "TWENTY_AWS_READ_TIMEOUT",
        "attempts": "TWENTY_AWS_MAX_ATTEMPTS",
    }

    @classmethod
    def from_environment(cls) -> Timeouts:
        """The defaults, or the TWENTY_AWS_* variables; a bad value is `UnusableError`."""
        values: dict[str, Any] = {}
        for field_name, variable in cls.VARIABLES.items():
            raw = os.environ.get(variable)
            if raw is None or raw == "":
                continue
            try:
                value = int(raw) if field_name == "attempts" else float(raw)
            except ValueError:
                value = 0
            if not value > 0 or value != value or value == float("inf"):
                raise UnusableError(
                    f"{variable}={raw!r}: expected a positive finite number; unset it for the "
                    "defaults"
                )
            values[field_name] = value
        return cls(**values)

    def botocore(self) -> Config:
        return Config(
            connect_timeout=self.connect,
            read_timeout=self.read,
            retries={"max_attempts": self.attempts, "mode": "standard"},
        )


def _announce(model: Any = None, **_: Any) -> None:
    """botocore `before-call` hook: the call becomes the command's current step."""
    service = getattr(getattr(model, "service_model", None), "service_name", "aws")
    progress.step(f"waiting for AWS {service} {getattr(model, 'name', '')}".rstrip())


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

    def __init__(self, region: str, timeouts: Timeouts | None = None) -> None:
        try:
            self.session = boto3.session.Session(region_name=region)
        except ProfileNotFound as exc:
            raise UnusableError(f"{exc}; check AWS_PROFILE") from None
        self.region = region
        self.timeouts = timeouts or Timeouts.from_environment()
        self.session.events.register("before-call", _announce)
        self._client = cache(self._new_client)

    def _new_client(self, service: str) -> Any:
        try:
            return self.session.client(service, config=self.timeouts.botocore())
        except (BotoCoreError, ValueError) as exc:  # e.g. a malformed AWS_ENDPOINT_URL
            raise UnusableError(f"cannot create the AWS {service} client: {exc}") from None

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
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return (
            f"cannot reach AWS ({exc}); check the network, or AWS_ENDPOINT_URL if it is set "
            "(each call is bounded: TWENTY_AWS_CONNECT_TIMEOUT/READ_TIMEOUT/MAX_ATTEMPTS)"
        )
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
        progress.step(f"checking {name}")
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


def wrong_account(aws: Aws, expected: str) -> Finding | None:
    """The finding that ends a command whose credentials belong to another account than the
    config's (nothing is read or changed there), or None when they match."""
    account = aws.account()
    if account == expected:
        return None
    return Finding(
        "account", False, f"the credentials are for account {account}, the config names {expected}"
    )
