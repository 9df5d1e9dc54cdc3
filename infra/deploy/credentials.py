"""Are there AWS credentials to deploy with? Answered offline, before any AWS call.

botocore's own resolution chain (environment, shared files, SSO and assume-role profiles,
web identity, credential_process) decides, so the answer is the one the CDK CLI's SDK will
reach. SSO, assume-role and web-identity credentials are deferred: resolving them reads files
and makes no call. The two providers that would ask the network, EC2 instance metadata and the
container endpoint, are left out; a container endpoint counts as present when its variable is
set, an instance role does not (export credentials or use a profile on such a host).
"""

from __future__ import annotations

import os

import botocore.session
from botocore.exceptions import BotoCoreError

NETWORK_PROVIDERS = ("iam-role", "container-role")
CONTAINER_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


class CredentialsError(RuntimeError):
    """Credentials are configured but unusable (e.g. AWS_PROFILE names no profile)."""


def credential_source() -> str | None:
    """How botocore would authenticate (`env`, `sso`, `assume-role`, ...), or None."""
    try:
        session = botocore.session.Session()
        resolver = session.get_component("credential_provider")
        for name in NETWORK_PROVIDERS:
            resolver.remove(name)
        credentials = resolver.load_credentials()
    except BotoCoreError as exc:
        raise CredentialsError(str(exc)) from None
    if credentials is not None:
        return str(credentials.method)
    if any(os.environ.get(name) for name in CONTAINER_VARIABLES):
        return "container-role"
    return None
