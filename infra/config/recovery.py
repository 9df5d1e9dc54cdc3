"""The recovery region (and optionally account) that keeps copies of the CRM's data off-site.

`twenty-<env>-recovery` is deployed there: pgBackRest's second repository, the locked AWS Backup
vault the daily snapshots are copied into, and the replica of the file bucket. Every name in it
is derived from the environment's name, account and this section, so the primary stacks reach
it by name (no lookup, no cross-region export).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from infra.config import aws_names
from infra.config.base import Strict

LockMode = Literal["governance", "compliance"]
# AWS Backup Vault Lock: ChangeableForDays (the grace before compliance mode binds) is at least 3.
MIN_COMPLIANCE_GRACE_DAYS = 3


class RecoveryConfig(Strict):
    """Where the off-region copies live and how hard they are locked."""

    region: str = Field(
        description="Recovery region, e.g. us-east-1 for an estate in sa-east-1: must differ "
        "from `region`; checked against botocore's endpoint data."
    )
    account: str | None = Field(
        default=None,
        description="AWS account id of a separate backup account (12 digits, quoted). Absent: "
        "the environment's own account. A separate account keeps the copies out of reach of "
        "the estate's admins and deploy credentials (needs AWS Organizations cross-account "
        "backup turned on: docs/runbooks/region-loss.md).",
    )
    lock_mode: LockMode = Field(
        default="governance",
        description="AWS Backup Vault Lock and S3 Object Lock mode of the recovery copies: "
        "`governance` (privileged IAM users can still shorten or remove the lock; dev/qa) or "
        "`compliance` (nobody, root included, can delete a copy before its retention ends, and "
        "after `compliance_grace_days` the vault lock itself cannot be removed: prod).",
    )
    compliance_grace_days: int = Field(
        default=MIN_COMPLIANCE_GRACE_DAYS,
        ge=MIN_COMPLIANCE_GRACE_DAYS,
        le=36500,
        description="Compliance mode only: days after the deploy during which the vault lock "
        "can still be removed (AWS Backup ChangeableForDays, at least 3); afterwards it is "
        "permanent.",
    )
    max_retention_days: int = Field(
        default=365,
        ge=1,
        le=36500,
        description="Longest retention the locked vaults accept for a recovery point (Vault "
        "Lock MaxRetentionDays); the shortest is database.backup.snapshot_retention_days.",
    )

    @field_validator("region")
    @classmethod
    def _region_known(cls, value: str) -> str:
        problem = aws_names.region_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("account", mode="before")
    @classmethod
    def _account_quoted(cls, value: Any) -> Any:
        if value is None:
            return value
        if not isinstance(value, str) or not re.fullmatch(r"\d{12}", value):
            raise ValueError(f"{value!r} must be a quoted string of 12 digits, e.g. '123456789012'")
        return value
