"""The internet-facing ALB: TLS, target groups, access logs and WAF."""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from infra.config.base import Strict, SubfieldError, check_log_retention

TlsPolicy = Literal[
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
]
TLS_POLICIES: tuple[str, ...] = get_args(TlsPolicy)
# The rules of AWSManagedRulesCommonRuleSet (version 1.x), which config may switch to count-only.
COMMON_RULE_SET_RULES = (
    "NoUserAgent_HEADER", "UserAgent_BadBots_HEADER", "SizeRestrictions_QUERYSTRING",
    "SizeRestrictions_Cookie_HEADER", "SizeRestrictions_BODY", "SizeRestrictions_URIPATH",
    "EC2MetaDataSSRF_BODY", "EC2MetaDataSSRF_COOKIE", "EC2MetaDataSSRF_URIPATH",
    "EC2MetaDataSSRF_QUERYARGUMENTS", "GenericLFI_QUERYARGUMENTS", "GenericLFI_URIPATH",
    "GenericLFI_BODY", "RestrictedExtensions_URIPATH", "RestrictedExtensions_QUERYARGUMENTS",
    "GenericRFI_QUERYARGUMENTS", "GenericRFI_BODY", "GenericRFI_URIPATH",
    "CrossSiteScripting_COOKIE", "CrossSiteScripting_QUERYARGUMENTS", "CrossSiteScripting_BODY",
    "CrossSiteScripting_URIPATH",
)  # fmt: skip
# AWS WAF's smallest rate-based limit since August 2024 (it was 100 before).
WAF_MIN_RATE_LIMIT = 10
WAF_MAX_RATE_LIMIT = 2_000_000_000
# Path patterns an ALB rule accepts: these characters, at most 128 of them.
_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9_\-.$/~\"'@:+&*?]{0,127}$")
# An ALB listener rule holds at most 5 condition values; longer lists span several rules.
PATHS_PER_RULE = 5
MAX_BACKEND_PATHS = 50


def _check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError(f"{port} is not a TCP port; use 1-65535")
    return port


class HealthCheckConfig(Strict):
    """How the ALB decides a pod may receive traffic."""

    path: str = Field(
        default="/healthz",
        description="HTTP path probed on each target; Twenty's server answers `/healthz` "
        "(the seeds' `/ready`/`/health` are not served by Twenty).",
    )
    port: int | Literal["traffic-port"] = Field(
        default="traffic-port",
        description="Port probed: `traffic-port` (the port the target is registered on, i.e. "
        "the pod port) or a fixed port 1-65535.",
    )
    healthy_http_codes: str = Field(
        default="200", description="HTTP codes that mean healthy, e.g. `200` or `200-299`."
    )
    interval_seconds: int = Field(default=15, ge=5, le=300, description="Seconds between probes.")
    timeout_seconds: int = Field(
        default=5, ge=2, le=120, description="Seconds before a probe counts as failed."
    )
    healthy_threshold: int = Field(
        default=3, ge=2, le=10, description="Consecutive successes before a target is healthy."
    )
    unhealthy_threshold: int = Field(
        default=3, ge=2, le=10, description="Consecutive failures before a target is unhealthy."
    )

    @field_validator("path")
    @classmethod
    def _path_shape(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"{path!r} must start with a slash, e.g. '/{path}'")
        if len(path) > 1024:
            raise ValueError("is longer than 1024 characters; shorten it")
        return path

    @field_validator("port")
    @classmethod
    def _port_range(cls, port: int | str) -> int | str:
        return _check_port(port) if isinstance(port, int) else port

    @field_validator("healthy_http_codes")
    @classmethod
    def _codes_shape(cls, codes: str) -> str:
        if not re.fullmatch(r"[2-4]\d\d(-[2-4]\d\d)?(,[2-4]\d\d(-[2-4]\d\d)?)*", codes):
            raise ValueError(f"{codes!r} must be HTTP codes such as '200', '200-299' or '200,302'")
        return codes

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> HealthCheckConfig:
        if self.timeout_seconds >= self.interval_seconds:
            raise SubfieldError(
                [
                    (
                        "timeout_seconds",
                        f"{self.timeout_seconds} must be below interval_seconds "
                        f"{self.interval_seconds}; lower it",
                    )
                ]
            )
        return self


class TargetGroupConfig(Strict):
    """One IP-type target group; pods are registered into it by a TargetGroupBinding."""

    port: int = Field(
        description="Nominal port of the target group: the seeds' service port, 3001 for "
        "frontend and 3000 for backend. Targets "
        "registered by a TargetGroupBinding carry their own port, the pod port (`edge.pod_port`)."
    )
    deregistration_delay_seconds: int = Field(
        default=30,
        ge=0,
        le=3600,
        description="Seconds a deregistering pod keeps its in-flight requests (connection "
        "draining); keep it below the pod's termination grace period.",
    )
    health_check: HealthCheckConfig = Field(
        default_factory=HealthCheckConfig, description="The target group's health check."
    )

    @field_validator("port")
    @classmethod
    def _port_range(cls, port: int) -> int:
        return _check_port(port)


class AccessLogsConfig(Strict):
    """The S3 bucket the ALB writes its access logs to."""

    expiration_days: int = Field(
        default=90, ge=1, le=3650, description="Days after which access log objects are deleted."
    )
    retain: bool = Field(
        default=True,
        description="Keep the bucket (and its logs) when the stack is deleted. On in prod; "
        "where off, empty the bucket before deleting the stack.",
    )


class WafConfig(Strict):
    """The WAFv2 web ACL in front of the ALB (seed security sections)."""

    rate_limit: int = Field(
        default=2000,
        description="Requests one client IP may send per evaluation window before it is "
        f"blocked; at least {WAF_MIN_RATE_LIMIT} (WAF's minimum).",
    )
    rate_limit_window_seconds: Literal[60, 120, 300, 600] = Field(
        default=300, description="Evaluation window of the rate limit: 60, 120, 300 or 600 s."
    )
    common_rules_count_only: list[str] = Field(
        default_factory=lambda: ["SizeRestrictions_BODY"],
        description="Rules of AWSManagedRulesCommonRuleSet that only count instead of block. "
        "SizeRestrictions_BODY blocks bodies over 8 KB, which Twenty's GraphQL mutations and "
        "file uploads exceed.",
    )

    log_retention_days: int = Field(
        default=90,
        description="Retention of the web ACL's request log group (aws-waf-logs-twenty-<env>; "
        "authorization and cookie headers redacted), days; a CloudWatch Logs period (1, 3, 5, "
        "7, 14, 30, 60, 90, ...).",
    )

    @field_validator("log_retention_days")
    @classmethod
    def _log_retention(cls, days: int) -> int:
        return check_log_retention(days)

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_range(cls, limit: int) -> int:
        if limit < WAF_MIN_RATE_LIMIT:
            raise ValueError(
                f"{limit} is below WAF's minimum rate limit; use at least {WAF_MIN_RATE_LIMIT}"
            )
        if limit > WAF_MAX_RATE_LIMIT:
            raise ValueError(f"{limit} is above WAF's maximum; use at most {WAF_MAX_RATE_LIMIT}")
        return limit

    @field_validator("common_rules_count_only")
    @classmethod
    def _known_rules(cls, rules: list[str]) -> list[str]:
        problems = [
            (f"[{i}]", f"{rule!r} is not a rule of AWSManagedRulesCommonRuleSet; see the WAF docs")
            for i, rule in enumerate(rules)
            if rule not in COMMON_RULE_SET_RULES
        ]
        if len(set(rules)) != len(rules):
            problems.append(("", "lists a rule twice; give each rule once"))
        if problems:
            raise SubfieldError(problems)
        return rules


def _default_backend_paths() -> list[str]:
    return [
        "/graphql", "/graphql/*", "/metadata", "/metadata/*", "/rest/*", "/auth/*",
        "/files/*", "/webhooks/*", "/s/*", "/healthz*",
    ]  # fmt: skip


class EdgeConfig(Strict):
    """The internet-facing ALB, its logs, its target groups and its WAF (seed ALB-101)."""

    tls_policy: TlsPolicy = Field(
        default="ELBSecurityPolicy-TLS13-1-2-2021-06",
        description="HTTPS listener security policy; one of the TLS 1.3 policies: "
        + ", ".join(f"`{p}`" for p in TLS_POLICIES)
        + ".",
    )
    idle_timeout_seconds: int = Field(
        default=60,
        ge=1,
        le=4000,
        description="Seconds an idle client connection stays open; raise it for long "
        "GraphQL subscriptions or uploads.",
    )
    deletion_protection: bool = Field(
        default=True,
        description="ALB deletion protection; on in prod. Turn it off (deploy) before deleting "
        "the stack.",
    )
    pod_port: int = Field(
        default=3000,
        description="Container port the Twenty pods serve UI and API on. TargetGroupBinding "
        "registers pod IPs on this port, and the workload security group admits the ALB on it.",
    )
    backend_paths: list[str] = Field(
        default_factory=_default_backend_paths,
        min_length=1,
        description="ALB path patterns sent to the backend target group; everything else goes "
        "to the frontend. Each starts with a slash; `*` and `?` are wildcards.",
    )
    frontend: TargetGroupConfig = Field(
        default_factory=lambda: TargetGroupConfig(port=3001),
        description="The frontend (UI) target group.",
    )
    backend: TargetGroupConfig = Field(
        default_factory=lambda: TargetGroupConfig(port=3000),
        description="The backend (API) target group.",
    )
    access_logs: AccessLogsConfig = Field(
        default_factory=AccessLogsConfig, description="The ALB access log bucket."
    )
    waf: WafConfig = Field(default_factory=WafConfig, description="The web ACL.")

    @field_validator("pod_port")
    @classmethod
    def _pod_port_range(cls, port: int) -> int:
        return _check_port(port)

    @field_validator("backend_paths")
    @classmethod
    def _paths_shape(cls, paths: list[str]) -> list[str]:
        problems = []
        for i, path in enumerate(paths):
            if not path.startswith("/"):
                problems.append((f"[{i}]", f"{path!r} must start with a slash, e.g. '/{path}'"))
            elif not _PATH_PATTERN.match(path):
                problems.append(
                    (
                        f"[{i}]",
                        f"{path!r} is not an ALB path pattern (at most 128 of A-Z a-z 0-9 "
                        "_-.$/~\"'@:+&*?)",
                    )
                )
        if len(set(paths)) != len(paths):
            problems.append(("", "lists a path twice; give each path once"))
        if len(paths) > MAX_BACKEND_PATHS:
            problems.append(("", f"has {len(paths)} paths; give at most {MAX_BACKEND_PATHS}"))
        if problems:
            raise SubfieldError(problems)
        return paths
