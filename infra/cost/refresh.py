"""`make prices`: rewrite a region's price file from the AWS Price List API (boto3 `pricing`).

Each rate of prices.RATES has one Query: a service code, exact attribute filters, and the
usage type's suffix (usage types carry a region prefix such as `SAE1-`). A query must match
products of exactly one on-demand price (its first paid tier); no match or several prices is an
error naming the key, and that key keeps its previous value, listed under `not_refreshed` in
the file, so a wrong filter never writes a zero. Instance and cache node types refreshed are
those already in the file plus those the config files use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from infra.cost.prices import RATES, PriceBook

# The Price List API is served from us-east-1 (and ap-south-1) for every region's prices.
PRICING_REGION = "us-east-1"


@dataclass(frozen=True)
class Query:
    service: str
    filters: dict[str, str] = field(default_factory=dict)
    usagetype_suffix: str = ""
    regional: bool = True  # filter on regionCode (Route53, WAF... are global)
    scale: float = 1.0  # API unit -> the rate's unit (e.g. per e-mail -> per 1000)


RATE_QUERIES: dict[str, Query] = {
    "ebs.gp3.gib_month": Query("AmazonEC2", {"productFamily": "Storage", "volumeApiName": "gp3"}),
    "ebs.gp3.iops_month": Query(
        "AmazonEC2", {"productFamily": "System Operation", "volumeApiName": "gp3"}, "IOPS-gp3"
    ),
    "ebs.gp3.mibps_month": Query(
        "AmazonEC2", {"productFamily": "Provisioned Throughput", "volumeApiName": "gp3"}
    ),
    "ebs.gp2.gib_month": Query("AmazonEC2", {"productFamily": "Storage", "volumeApiName": "gp2"}),
    "ebs.snapshot.gib_month": Query(
        "AmazonEC2", {"productFamily": "Storage Snapshot"}, "EBS:SnapshotUsage"
    ),
    "vpc.nat_gateway.hour": Query(
        "AmazonEC2", {"productFamily": "NAT Gateway"}, "NatGateway-Hours"
    ),
    "vpc.nat_gateway.gib": Query("AmazonEC2", {"productFamily": "NAT Gateway"}, "NatGateway-Bytes"),
    "vpc.public_ipv4.hour": Query("AmazonVPC", {}, "PublicIPv4:InUseAddress"),
    "elb.alb.hour": Query(
        "AWSELB", {"productFamily": "Load Balancer-Application"}, "LoadBalancerUsage"
    ),
    "elb.alb.lcu_hour": Query("AWSELB", {"productFamily": "Load Balancer-Application"}, "LCUUsage"),
    "eks.cluster.hour": Query("AmazonEKS", {}, "AmazonEKS-Hours:perCluster"),
    "cloudwatch.alarm.month": Query(
        "AmazonCloudWatch", {"productFamily": "Alarm"}, "CW:AlarmMonitorUsage"
    ),
    "cloudwatch.composite_alarm.month": Query(
        "AmazonCloudWatch", {"productFamily": "Alarm"}, "CW:CompositeAlarmMonitorUsage"
    ),
    "cloudwatch.dashboard.month": Query("AmazonCloudWatch", {}, "DashboardsUsageHour"),
    "cloudwatch.logs.ingest_gib": Query(
        "AmazonCloudWatch", {"productFamily": "Data Payload"}, "DataProcessing-Bytes"
    ),
    "cloudwatch.logs.storage_gib_month": Query(
        "AmazonCloudWatch", {"productFamily": "Storage Snapshot"}, "TimedStorage-ByteHrs"
    ),
    "secretsmanager.secret.month": Query("AWSSecretsManager", {}, "AWSSecretsManager-Secrets"),
    "kms.key.month": Query("awskms", {}, "KMS-Keys"),
    "route53.hosted_zone.month": Query("AmazonRoute53", {}, "HostedZone", regional=False),
    "waf.web_acl.month": Query("awswaf", {}, "WebACL"),
    "waf.rule.month": Query("awswaf", {}, "Rule"),
    "waf.million_requests": Query("awswaf", {}, "Request"),
    "s3.standard.gib_month": Query(
        "AmazonS3",
        {"storageClass": "General Purpose", "volumeType": "Standard"},
        "TimedStorage-ByteHrs",
    ),
    "aps.million_samples": Query("AmazonPrometheus", {}, "AMP:MetricSampleCount", scale=1e6),
    "aps.billion_query_samples": Query(
        "AmazonPrometheus", {}, "AMP:QuerySamplesProcessed", scale=1e9
    ),
    "aps.collector.hour": Query("AmazonPrometheus", {}, "AMP:CollectorHours"),
    "aps.storage.gib_month": Query("AmazonPrometheus", {}, "AMP:MetricStorageByteHrs"),
    "grafana.editor.month": Query("AmazonGrafana", {}, "GrafanaEditorLicense"),
    "grafana.viewer.month": Query("AmazonGrafana", {}, "GrafanaViewerLicense"),
    "ses.thousand_emails": Query("AmazonSES", {}, "Recipients", scale=1000),
}


def instance_query(instance_type: str) -> Query:
    """Linux, shared tenancy, no pre-installed software, on-demand capacity."""
    return Query(
        "AmazonEC2",
        {
            "instanceType": instance_type,
            "operatingSystem": "Linux",
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "capacitystatus": "Used",
        },
        f"BoxUsage:{instance_type}",
    )


def cache_node_query(engine: str, node_type: str) -> Query:
    names = {"redis": "Redis", "valkey": "Valkey", "memcached": "Memcached"}
    return Query(
        "AmazonElastiCache",
        {"instanceType": node_type, "cacheEngine": names.get(engine, engine)},
        f"NodeUsage:{node_type}",
    )


class PriceQueryError(RuntimeError):
    """A query matched no product or several prices; the message names the key."""


def _first_paid_price(product: dict[str, Any]) -> float | None:
    """USD price of the first paid tier of the product's on-demand terms."""
    dimensions = [
        d
        for term in product.get("terms", {}).get("OnDemand", {}).values()
        for d in term.get("priceDimensions", {}).values()
    ]
    dimensions.sort(key=lambda d: float(d.get("beginRange", "0") or 0))
    for dimension in dimensions:
        usd = float(dimension.get("pricePerUnit", {}).get("USD", "0"))
        if usd > 0:
            return usd
    return None


def fetch(client: Any, key: str, query: Query, region: str) -> float:
    """The price `query` matches in `region` (every page of get_products)."""
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in query.filters.items()]
    if query.regional:
        filters.insert(0, {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region})
    prices: dict[float, list[str]] = {}
    token = None
    while True:
        args: dict[str, Any] = {
            "ServiceCode": query.service,
            "Filters": filters,
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        if token:
            args["NextToken"] = token
        page = client.get_products(**args)
        for text in page.get("PriceList", []):
            product = json.loads(text) if isinstance(text, str) else text
            usage = str(product.get("product", {}).get("attributes", {}).get("usagetype", ""))
            if query.usagetype_suffix and not usage.endswith(query.usagetype_suffix):
                continue
            found = _first_paid_price(product)
            if found is not None:
                prices.setdefault(found, []).append(usage)
        token = page.get("NextToken")
        if not token:
            break
    if len(prices) != 1:
        matched = "no product" if not prices else f"{len(prices)} different prices"
        raise PriceQueryError(
            f"{key}: {query.service} {query.usagetype_suffix or query.filters} matched {matched}"
            f" in {region}; fix its Query in infra/cost/refresh.py"
        )
    return next(iter(prices)) * query.scale


@dataclass
class Refreshed:
    book: PriceBook
    failed: list[str]


def refresh(
    client: Any,
    previous: PriceBook,
    instance_types: Iterable[str] = (),
    cache_nodes: Iterable[tuple[str, str]] = (),
    today: date | None = None,
) -> Refreshed:
    """A new price book of `previous.region` from the API; failing keys keep their old value."""
    region = previous.region
    failed: list[str] = []

    def get(key: str, query: Query, old: float | None) -> float | None:
        try:
            return fetch(client, key, query, region)
        except PriceQueryError as exc:
            failed.append(str(exc))
            return old

    rates = {}
    for key, query in RATE_QUERIES.items():
        value = get(key, query, previous.rates.get(key))
        if value is not None:
            rates[key] = value
    instances = {}
    for itype in sorted(set(previous.instances) | set(instance_types)):
        value = get(f"instances.{itype}", instance_query(itype), previous.instances.get(itype))
        if value is not None:
            instances[itype] = value
    wanted = {(e, t) for e, types in previous.cache_nodes.items() for t in types}
    cache: dict[str, dict[str, float]] = {}
    for engine, node in sorted(wanted | set(cache_nodes)):
        old = previous.cache_nodes.get(engine, {}).get(node)
        value = get(f"cache_nodes.{engine}.{node}", cache_node_query(engine, node), old)
        if value is not None:
            cache.setdefault(engine, {})[node] = value
    stamp = (today or date.today()).isoformat()
    source = f"AWS Price List API (pricing get_products, on-demand) for {region}, fetched {stamp}"
    if failed:
        source += "; keys in not_refreshed keep the previous file's values"
    book = replace(
        previous,
        as_of=stamp,
        source=source,
        caveat="",
        instances=instances,
        cache_nodes=cache,
        rates={k: rates[k] for k in RATES if k in rates},
    )
    return Refreshed(book, failed)
