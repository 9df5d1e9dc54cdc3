"""Usage the templates cannot state, assumed once and printed under every estimate.

A template says how many NAT gateways there are, not how many bytes cross them. Each figure
here is a deliberate round number for a small CRM estate, printed with the estimate so a reader
can scale it; change it here (one place) when real usage is known from Cost Explorer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

HOURS_PER_MONTH = 730  # AWS's own convention on its pricing pages (8760 h / 12)


def _assumed(value: float, doc: str) -> float:
    return field(default=value, metadata={"doc": " ".join(doc.split())})


@dataclass(frozen=True)
class Assumptions:
    nat_data_gib: float = _assumed(
        100.0,
        "GiB processed per NAT gateway per month (image pulls, OS updates, AWS APIs).",
    )
    alb_lcu: float = _assumed(
        1.0,
        "Average load balancer capacity units used per hour.",
    )
    waf_million_requests: float = _assumed(
        5.0,
        "Million requests per month inspected per web ACL.",
    )
    log_ingest_gib: float = _assumed(
        5.0,
        "GiB ingested per month per log group (flow logs, database logs).",
    )
    lambda_log_ingest_gib: float = _assumed(
        0.1,
        "GiB per month per log group of a Lambda function (deploy-time custom resources).",
    )
    eks_log_ingest_gib_per_type: float = _assumed(
        2.0,
        "GiB per month per enabled EKS control-plane log type (api, audit, ...).",
    )
    log_storage_cap_months: float = _assumed(
        12.0,
        "Months of logs kept when a log group never expires; stored uncompressed (upper bound).",
    )
    s3_gib_per_bucket: float = _assumed(
        20.0,
        "GiB in S3 Standard per bucket (files, pgBackRest repository, access logs).",
    )
    backup_daily_change: float = _assumed(
        0.02,
        "Share of a backed-up volume that changes per day: snapshots hold one full copy"
        " plus the daily changes for the retention period.",
    )
    ses_emails: float = _assumed(
        10_000.0,
        "E-mails sent per month per SES identity.",
    )
    aps_million_samples: float = _assumed(
        876.0,
        "Million samples ingested per month per Prometheus workspace (10,000 series every 30 s).",
    )
    aps_rule_billion_samples: float = _assumed(
        0.5,
        "Billion query samples processed per month per Prometheus rule namespace (rules"
        " evaluated every minute).",
    )
    aps_storage_gib: float = _assumed(
        10.0,
        "GiB of metrics stored per Prometheus workspace.",
    )
    grafana_editors: float = _assumed(
        2.0,
        "Grafana editors/admins per workspace.",
    )
    grafana_viewers: float = _assumed(
        5.0,
        "Grafana viewers per workspace.",
    )

    def lines(self) -> list[str]:
        """`name = value: meaning` for every assumption, for reports."""
        result = [f"hours per month = {HOURS_PER_MONTH}: every hourly price is x{HOURS_PER_MONTH}"]
        for item in fields(self):
            result.append(f"{item.name} = {getattr(self, item.name):g}: {item.metadata['doc']}")
        return result


ASSUMPTIONS = Assumptions()
