"""CloudWatch alarms and who is told when one fires."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from infra.config.base import Strict, SubfieldError

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


class ServiceLevelConfig(Strict):
    """The service level users feel (seed 002, "Target SLAs"), measured at the ALB."""

    p95_latency_ms: int = Field(
        default=500,
        ge=10,
        le=60000,
        description="p95 TargetResponseTime of the load balancer, ms, above which the latency "
        "alarm fires (seed 002: p95 < 500 ms).",
    )
    error_ratio_percent: float = Field(
        default=0.1,
        gt=0,
        le=100,
        description="5xx share of all requests (ELB and target 5xx over requests), percent, "
        "above which the error-ratio alarm fires (seed 002: < 0.1 %).",
    )
    availability_percent: float = Field(
        default=99.9,
        ge=90,
        lt=100,
        description="Availability objective, percent (seed 002: 99.9 %); its error budget "
        "(100 - objective) is what the burn-rate alarms spend.",
    )
    fast_burn_rate: float = Field(
        default=14.4,
        gt=1,
        description="Burn rate that pages when both the 1 h and the 5 min windows exceed it "
        "(14.4 spends 2 % of a 30-day budget in an hour).",
    )
    slow_burn_rate: float = Field(
        default=6.0,
        gt=1,
        description="Burn rate that pages when both the 6 h and the 30 min windows exceed it "
        "(6 spends 5 % of a 30-day budget in six hours).",
    )

    @model_validator(mode="after")
    def _rates_ordered(self) -> ServiceLevelConfig:
        if self.slow_burn_rate >= self.fast_burn_rate:
            raise SubfieldError(
                [("slow_burn_rate", "must be below fast_burn_rate (the long window's rate)")]
            )
        return self


class GrafanaConfig(Strict):
    """An Amazon Managed Grafana workspace: needs IAM Identity Center or a SAML IdP."""

    enabled: bool = Field(
        default=False,
        description="Create an Amazon Managed Grafana workspace with the Prometheus and "
        "CloudWatch data sources. Off by default: it needs IAM Identity Center (AWS_SSO) or a "
        "SAML identity provider set up in the account first.",
    )
    authentication: Literal["AWS_SSO", "SAML"] = Field(
        default="AWS_SSO",
        description="How users sign in: AWS_SSO (IAM Identity Center) or SAML.",
    )


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

    node_cpu_percent: int = Field(
        default=80,
        description="Container Insights node_cpu_utilization of the busiest node (maximum), "
        "percent (1-100).",
    )
    node_memory_percent: int = Field(
        default=85,
        description="Container Insights node_memory_utilization of the fullest node (maximum), "
        "percent (1-100).",
    )
    pod_restarts: int = Field(
        default=3,
        ge=1,
        description="Container restarts of one Deployment's pods within a window (Container "
        "Insights pod_number_of_container_restarts) at or above which its alarm fires.",
    )
    certificate_days_to_expiry: int = Field(
        default=30,
        ge=1,
        le=365,
        description="ACM DaysToExpiry of the environment's certificate at or below which the "
        "alarm fires (ACM renews DNS-validated certificates 60 days ahead; firing means renewal "
        "is stuck).",
    )
    waf_blocked_requests: int = Field(
        default=1000,
        ge=1,
        description="Requests the web ACL blocks per window (all rules) at or above which the "
        "WAF spike alarm fires.",
    )
    service_level: ServiceLevelConfig = Field(
        default_factory=ServiceLevelConfig,
        description="Seed 002's objectives: p95 latency, error ratio, availability burn rates.",
    )
    grafana: GrafanaConfig = Field(
        default_factory=GrafanaConfig, description="The optional Managed Grafana workspace."
    )
    prometheus_retention_days: int = Field(
        default=150,
        ge=1,
        le=1095,
        description="Days the Amazon Managed Service for Prometheus workspace keeps samples.",
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
        "node_cpu_percent",
        "node_memory_percent",
    )
    @classmethod
    def _percent(cls, value: int) -> int:
        if not 1 <= value <= 100:
            raise ValueError(f"{value} is not a percentage; use 1-100")
        return value
