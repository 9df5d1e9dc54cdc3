"""CloudWatch alarms and who is told when one fires."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from infra.config.base import Strict, SubfieldError

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


class MonitoringConfig(Strict):
    """CloudWatch alarms of the environment and who is told when one fires (seed MON-100).

    Thresholds apply to one `period_seconds` window; an alarm fires after
    `evaluation_periods` windows in a row breach it.
    """

    alarm_emails: list[str] = Field(
        default_factory=list,
        description="E-mail addresses subscribed to the alarm topic; each must confirm the "
        "subscription mail from AWS. May be empty (alarms still show in the console).",
    )
    period_seconds: Literal[60, 300] = Field(
        default=300, description="Length of one alarm evaluation window: 60 or 300 s."
    )
    evaluation_periods: int = Field(
        default=2,
        ge=1,
        le=24,
        description="Consecutive breaching windows before an alarm fires (1-24).",
    )
    alb_5xx_count: int = Field(
        default=10,
        ge=1,
        description="HTTPCode_ELB_5XX_Count per window (errors the ALB itself returns, e.g. "
        "no healthy target) at or above which the load balancer alarm fires.",
    )
    target_5xx_count: int = Field(
        default=10,
        ge=1,
        description="HTTPCode_Target_5XX_Count per window of one target group (errors the "
        "pods return) at or above which its alarm fires.",
    )
    unhealthy_hosts: int = Field(
        default=1,
        ge=1,
        description="UnHealthyHostCount (maximum in the window) of one target group at or "
        "above which its alarm fires.",
    )
    database_cpu_percent: int = Field(
        default=80, description="Database host CPUUtilization (average), percent (1-100)."
    )
    database_disk_used_percent: int = Field(
        default=80,
        description="Used space of the data volume (/var/lib/postgresql, CloudWatch agent "
        "used_percent), percent (1-100).",
    )
    redis_engine_cpu_percent: int = Field(
        default=75,
        description="EngineCPUUtilization of each cache node (the Redis/Valkey main thread), "
        "percent (1-100).",
    )
    redis_memory_percent: int = Field(
        default=80,
        description="DatabaseMemoryUsagePercentage of each cache node, percent (1-100); with "
        "noeviction a full cache fails writes.",
    )

    @field_validator("alarm_emails")
    @classmethod
    def _emails(cls, emails: list[str]) -> list[str]:
        problems = [
            (f"[{i}]", f"{email!r} is not an e-mail address such as alerts@example.com")
            for i, email in enumerate(emails)
            if not _EMAIL.fullmatch(email)
        ]
        if len({e.lower() for e in emails}) != len(emails):
            problems.append(("", "lists an address twice; give each address once"))
        if problems:
            raise SubfieldError(problems)
        return emails

    @field_validator(
        "database_cpu_percent",
        "database_disk_used_percent",
        "redis_engine_cpu_percent",
        "redis_memory_percent",
    )
    @classmethod
    def _percent(cls, value: int) -> int:
        if not 1 <= value <= 100:
            raise ValueError(f"{value} is not a percentage; use 1-100")
        return value
