"""`python -m infra smtp-credentials`: the SES SMTP credentials of an environment, written once.

SES authenticates SMTP with an IAM access key whose secret is converted into an "SMTP password"
(AWS's published algorithm: an HMAC-SHA256 chain over the secret key and the region, prefixed
with version byte 4, base64). The stack creates the IAM user `twenty-<env>-smtp` (allowed only
`ses:SendRawEmail` as the environment's sender) and an empty secret `twenty/<env>/smtp`; this
command creates the user's access key and writes {username, password} into that secret, so the
value exists only in Secrets Manager and the pods (External Secrets), never in a template.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from infra.constructs.outbound_mail import smtp_user_name
from infra.naming import secret_name

# Fixed inputs of AWS's SMTP password derivation (Amazon SES developer guide, "Obtaining Amazon
# SES SMTP credentials by converting existing AWS credentials").
_DATE = "11111111"
_SERVICE = "ses"
_MESSAGE = "SendRawEmail"
_TERMINAL = "aws4_request"
_VERSION = 0x04


def smtp_password(secret_access_key: str, region: str) -> str:
    """The SES SMTP password of `secret_access_key` in `region`."""

    def sign(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    signature = sign(("AWS4" + secret_access_key).encode(), _DATE)
    for part in (region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = sign(signature, part)
    return base64.b64encode(bytes([_VERSION]) + signature).decode()


class SmtpCredentialsError(Exception):
    """A refusal the operator can act on (one line)."""


@dataclass(frozen=True)
class Issued:
    user: str
    secret: str
    access_key_id: str
    deleted_key_ids: tuple[str, ...]


def issue(*, environment: str, region: str, iam: Any, secretsmanager: Any, rotate: bool) -> Issued:
    """Create the user's access key and store its SMTP credentials; with `rotate`, replace keys.

    Without `rotate` an existing key is a refusal (its secret cannot be read back). With it, the
    new key is stored first and the old ones deleted after, so the secret never names a deleted
    key; pods keep the old password until they restart (README).
    """
    user = smtp_user_name(environment)
    secret = secret_name(environment, "smtp")
    try:
        existing = [
            k["AccessKeyId"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        ]
    except iam.exceptions.NoSuchEntityException:
        raise SmtpCredentialsError(
            f"IAM user {user} does not exist; deploy the stack twenty-{environment}-dns first"
        ) from None
    if existing and not rotate:
        raise SmtpCredentialsError(
            f"{user} already has access key(s) {', '.join(existing)}; pass --rotate to replace "
            "them (its secret cannot be read back)"
        )
    if len(existing) > 1:
        raise SmtpCredentialsError(
            f"{user} has two access keys ({', '.join(existing)}), IAM's maximum; delete the one "
            f"not in {secret} (aws iam delete-access-key) and run again"
        )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    value = {
        "username": key["AccessKeyId"],
        "password": smtp_password(key["SecretAccessKey"], region),
    }
    try:
        secretsmanager.put_secret_value(SecretId=secret, SecretString=json.dumps(value))
    except secretsmanager.exceptions.ResourceNotFoundException:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        raise SmtpCredentialsError(
            f"secret {secret} does not exist; deploy the stack twenty-{environment}-dns first"
        ) from None
    for old in existing:
        iam.delete_access_key(UserName=user, AccessKeyId=old)
    return Issued(user, secret, key["AccessKeyId"], tuple(existing))
