"""The internet-facing ALB: TLS, target groups, access logs and WAF."""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from infra import twenty
from infra.alb_paths import path_matches
from infra.config.aws_limits import AwsLimit, cfn, cfn_constraint, elbv2_attribute
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
# WAF's range of a rate-based rule's limit: the web ACL's registry schema (cfn-lint).
_WAF_RATE_LIMIT = cfn_constraint("AWS::WAFv2::WebACL", "Rules/*/Statement/RateBasedStatement/Limit")
WAF_MIN_RATE_LIMIT = int(_WAF_RATE_LIMIT.minimum or 0)
WAF_MAX_RATE_LIMIT = int(_WAF_RATE_LIMIT.maximum or 0)
# Path patterns an ALB rule accepts: these characters, at most 128 of them.
_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9_\-.$/~\"'@:+&*?]{0,127}$")
# An ALB listener rule holds at most 5 condition values; longer lists span several rules.
PATHS_PER_RULE = 5
MAX_FRONTEND_PATHS = 50


def _check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError(f"{port} is not a TCP port; use 1-65535")
    return port


_TG = "AWS::ElasticLoadBalancingV2::TargetGroup"


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
    # Ranges: the target group's registry schema (aws_limits), not numbers of our own.
    interval_seconds: Annotated[int, AwsLimit((cfn(_TG, "HealthCheckIntervalSeconds"),))] = Field(
        default=15, description="Seconds between probes (5-300)."
    )
    timeout_seconds: Annotated[int, AwsLimit((cfn(_TG, "HealthCheckTimeoutSeconds"),))] = Field(
        default=5, description="Seconds before a probe counts as failed (2-120)."
    )
    healthy_threshold: Annotated[int, AwsLimit((cfn(_TG, "HealthyThresholdCount"),))] = Field(
        default=3, description="Consecutive successes before a target is healthy (2-10)."
    )
    unhealthy_threshold: Annotated[int, AwsLimit((cfn(_TG, "UnhealthyThresholdCount"),))] = Field(
        default=3, description="Consecutive failures before a target is unhealthy (2-10)."
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
    deregistration_delay_seconds: Annotated[
        int,
        AwsLimit(
            (elbv2_attribute("TargetGroupAttribute", "deregistration_delay.timeout_seconds"),)
        ),
    ] = Field(
        default=30,
        description="Seconds a deregistering pod keeps its in-flight requests (connection "
        "draining; 0-3600); keep it below the pod's termination grace period.",
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


def _default_frontend_paths() -> list[str]:
    # The hashed static files of the built UI (Vite's default `assets/` directory of dist/front).
    return ["/assets/*"]


def server_route_probes() -> list[str]:
    """Request paths under every prefix Twenty's server serves (the contract's `routes` with
    `api: true`, read from its ApiPath enum): the prefix itself and a path below it."""
    prefixes = [r["prefix"] for r in twenty.contract()["routes"] if r["api"]]
    return [path for prefix in prefixes for path in (prefix, f"{prefix}/", f"{prefix}/x")]


class EdgeConfig(Strict):
    """The internet-facing ALB, its logs, its target groups and its WAF (seed ALB-101)."""

    tls_policy: TlsPolicy = Field(
        default="ELBSecurityPolicy-TLS13-1-2-2021-06",
        description="HTTPS listener security policy; one of the TLS 1.3 policies: "
        + ", ".join(f"`{p}`" for p in TLS_POLICIES)
        + ".",
    )
    idle_timeout_seconds: Annotated[
        int, AwsLimit((elbv2_attribute("LoadBalancerAttribute", "idle_timeout.timeout_seconds"),))
    ] = Field(
        default=60,
        description="Seconds an idle client connection stays open (1-4000); raise it for long "
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
    frontend_paths: list[str] = Field(
        default_factory=_default_frontend_paths,
        description="ALB path patterns (static UI files only) sent to the frontend target group, "
        "whose pods have no AWS identity and no outbound HTTPS; everything else, every route of "
        "Twenty's server and every UI deep link, goes to the backend. Each starts with a slash; "
        "`*` and `?` are wildcards (case-sensitive, whole path). A pattern that catches a route "
        "of the server (infra/twenty/contract.yaml `routes`) is refused.",
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

    @field_validator("frontend_paths")
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
        if len(paths) > MAX_FRONTEND_PATHS:
            problems.append(("", f"has {len(paths)} paths; give at most {MAX_FRONTEND_PATHS}"))
        for i, path in enumerate(paths):
            caught = [probe for probe in server_route_probes() if path_matches(path, probe)]
            if caught:
                problems.append(
                    (
                        f"[{i}]",
                        f"{path!r} catches {caught[0]}, a route of Twenty's server that the "
                        "frontend pods cannot serve (no AWS identity, no egress); narrow it",
                    )
                )
        if problems:
            raise SubfieldError(problems)
        return paths
