"""Names several stacks must agree on, defined once.

The cluster's External Secrets role may read only secrets under `secret_prefix(env)`; the
database and data stacks name their secrets under it, so all three use these functions.
"""

from __future__ import annotations


def secret_prefix(environment: str) -> str:
    """Secrets Manager name prefix of `environment` (`twenty/<env>/`)."""
    return f"twenty/{environment}/"


def secret_name(environment: str, *parts: str) -> str:
    """A secret's name under the environment's prefix, e.g. `twenty/dev/database/app`."""
    return secret_prefix(environment) + "/".join(parts)
