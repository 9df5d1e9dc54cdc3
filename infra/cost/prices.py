"""The committed price file of a region and the meaning of every rate in it.

A price file (`infra/cost/prices/<region>.json`, written by `make prices`) holds numbers only;
RATES below says what each key is and in which unit, so the file, the rules and the Price List
API refresh agree on one definition. A key missing from the file is not zero: the resources
that need it are listed as "not priced".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICE_DIR = Path(__file__).resolve().parent / "prices"
CURRENCY = "USD"


@dataclass(frozen=True)
class Rate:
    """One price: its unit and what it is (the Price List API query lives in refresh.py)."""

    unit: str
    description: str


RATES: dict[str, Rate] = {
    "ebs.gp3.gib_month": Rate("GiB-month", "EBS gp3 storage"),
    "ebs.gp3.iops_month": Rate("IOPS-month", "EBS gp3 IOPS above the free 3000"),
    "ebs.gp3.mibps_month": Rate("MiB/s-month", "EBS gp3 throughput above the free 125 MiB/s"),
    "ebs.gp2.gib_month": Rate("GiB-month", "EBS gp2 storage"),
    "ebs.snapshot.gib_month": Rate("GiB-month", "EBS snapshot storage (standard tier)"),
    "vpc.nat_gateway.hour": Rate("hour", "NAT gateway"),
    "vpc.nat_gateway.gib": Rate("GiB", "NAT gateway data processed"),
    "vpc.public_ipv4.hour": Rate("hour", "public IPv4 address in use"),
    "elb.alb.hour": Rate("hour", "Application Load Balancer"),
    "elb.alb.lcu_hour": Rate("LCU-hour", "Application Load Balancer capacity unit"),
    "eks.cluster.hour": Rate("hour", "EKS cluster (standard support)"),
    "cloudwatch.alarm.month": Rate("alarm metric-month", "CloudWatch standard-resolution alarm"),
    "cloudwatch.composite_alarm.month": Rate("alarm-month", "CloudWatch composite alarm"),
    "cloudwatch.dashboard.month": Rate("dashboard-month", "CloudWatch dashboard (beyond 3 free)"),
    "cloudwatch.logs.ingest_gib": Rate("GiB", "CloudWatch Logs ingestion (standard class)"),
    "cloudwatch.logs.storage_gib_month": Rate("GiB-month", "CloudWatch Logs archived storage"),
    "secretsmanager.secret.month": Rate("secret-month", "Secrets Manager secret"),
    "kms.key.month": Rate("key-month", "KMS customer managed key"),
    "route53.hosted_zone.month": Rate("zone-month", "Route53 hosted zone (first 25)"),
    "waf.web_acl.month": Rate("web ACL-month", "WAF web ACL"),
    "waf.rule.month": Rate("rule-month", "WAF rule or rule group in a web ACL"),
    "waf.million_requests": Rate("million requests", "WAF requests inspected"),
    "s3.standard.gib_month": Rate("GiB-month", "S3 Standard storage (first 50 TB)"),
    "aps.million_samples": Rate("million samples", "Managed Prometheus ingestion (first tier)"),
    "aps.billion_query_samples": Rate("billion samples", "Managed Prometheus query samples"),
    "aps.collector.hour": Rate("hour", "Managed Prometheus managed collector (scraper)"),
    "aps.storage.gib_month": Rate("GiB-month", "Managed Prometheus metric storage"),
    "grafana.editor.month": Rate("user-month", "Managed Grafana editor or admin"),
    "grafana.viewer.month": Rate("user-month", "Managed Grafana viewer"),
    "ses.thousand_emails": Rate("1000 e-mails", "SES outbound e-mail"),
}


class PriceFileError(ValueError):
    """A missing or malformed price file; the message is one line naming the file and the fix."""


@dataclass(frozen=True)
class PriceBook:
    """The prices of one region: hourly rates of instance and cache node types, unit rates."""

    region: str
    as_of: str
    source: str
    path: Path
    instances: dict[str, float] = field(default_factory=dict)  # EC2 Linux on-demand, per hour
    cache_nodes: dict[str, dict[str, float]] = field(default_factory=dict)  # engine -> type -> h
    rates: dict[str, float] = field(default_factory=dict)
    caveat: str = ""

    def rate(self, key: str) -> float | None:
        """The rate of `key` (see RATES), None when the file does not have it."""
        if key not in RATES:
            raise KeyError(f"{key}: not a rate of infra/cost/prices.py RATES")
        return self.rates.get(key)

    def describe(self) -> str:
        return f"{CURRENCY} list prices for {self.region} as of {self.as_of} ({self.source})"


def price_file(region: str, directory: Path = PRICE_DIR) -> Path:
    return directory / f"{region}.json"


def _numbers(path: Path, name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value.values()
    ):
        raise PriceFileError(f"{path}: {name} must map names to non-negative numbers")
    return {str(k): float(v) for k, v in value.items()}


def load_prices(region: str, directory: Path = PRICE_DIR) -> PriceBook:
    """The price book of `region`, or PriceFileError naming the file and how to make it."""
    path = price_file(region, directory)
    if not path.exists():
        raise PriceFileError(
            f"{path}: no price file for region {region}; run `make prices` (AWS credentials "
            "needed) or add one by hand in the same format"
        )
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PriceFileError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from exc
    missing = [k for k in ("region", "as_of", "source", "currency") if not raw.get(k)]
    if missing:
        raise PriceFileError(f"{path}: missing {', '.join(missing)}; regenerate with make prices")
    if raw["region"] != region or raw["currency"] != CURRENCY:
        raise PriceFileError(f"{path}: states {raw['region']}/{raw['currency']}, not {region}/USD")
    rates = _numbers(path, "rates", raw.get("rates", {}))
    unknown = sorted(set(rates) - set(RATES))
    if unknown:
        raise PriceFileError(f"{path}: unknown rate(s) {', '.join(unknown)}; see RATES")
    cache = raw.get("cache_nodes", {})
    if not isinstance(cache, dict):
        raise PriceFileError(f"{path}: cache_nodes must map engines to node types")
    return PriceBook(
        region=region,
        as_of=str(raw["as_of"]),
        source=str(raw["source"]),
        path=path,
        instances=_numbers(path, "instances", raw.get("instances", {})),
        cache_nodes={
            str(e): _numbers(path, f"cache_nodes.{e}", types) for e, types in cache.items()
        },
        rates=rates,
        caveat=str(raw.get("caveat", "")),
    )


def dump_prices(book: PriceBook, **extra: Any) -> str:
    """The price file text of `book` (sorted keys, stable for review)."""
    data: dict[str, Any] = {
        "region": book.region,
        "currency": CURRENCY,
        "as_of": book.as_of,
        "source": book.source,
        **({"caveat": book.caveat} if book.caveat else {}),
        **extra,
        "instances": dict(sorted(book.instances.items())),
        "cache_nodes": {e: dict(sorted(t.items())) for e, t in sorted(book.cache_nodes.items())},
        "rates": {k: book.rates[k] for k in RATES if k in book.rates},
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
