"""One pricing rule per CloudFormation resource type, and the types that are free on purpose.

A rule turns one resource of a synthesized template into monthly charges (at the node groups'
desired and at their max size) from the price book and the stated assumptions. A type with no
rule and not in FREE is "not priced"; so is a resource whose instance type or rate the price
file lacks (NotPricedError names what is missing). Nothing is ever silently zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.cost.assumptions import ASSUMPTIONS, HOURS_PER_MONTH, Assumptions
from infra.cost.prices import PriceBook

Template = dict[str, Any]

# gp3 includes 3000 IOPS and 125 MiB/s in its storage price.
GP3_FREE_IOPS = 3000
GP3_FREE_MIBPS = 125
# AWS managed rule groups with a subscription fee on top of the rule price.
PAID_RULE_GROUPS = frozenset(
    {
        "AWSManagedRulesBotControlRuleSet",
        "AWSManagedRulesATPRuleSet",
        "AWSManagedRulesACFPRuleSet",
        "AWSManagedRulesAntiDDoSRuleSet",
    }
)


class NotPricedError(Exception):
    """This resource cannot be priced: no rule, no rate, or a property the rule cannot read."""


@dataclass(frozen=True)
class Resource:
    """One resource of a template, with its template for lookups (launch templates, volumes)."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    template: Template

    def referenced(self, value: Any) -> dict[str, Any] | None:
        """The properties of the resource `{"Ref": id}` points at in the same template."""
        if isinstance(value, dict) and isinstance(value.get("Ref"), str):
            target = self.template.get("Resources", {}).get(value["Ref"])
            if isinstance(target, dict):
                return dict(target.get("Properties", {}))
        return None


@dataclass(frozen=True)
class Charge:
    """One monthly charge of a resource; `at_max` differs from `desired` for scaling groups."""

    what: str
    desired: float
    at_max: float


Rule = Callable[[Resource, PriceBook, Assumptions], list[Charge]]


def _fixed(what: str, amount: float) -> Charge:
    return Charge(what, amount, amount)


def _rate(book: PriceBook, key: str) -> float:
    value = book.rate(key)
    if value is None:
        raise NotPricedError(f"no rate {key} in {book.path.name}")
    return value


def _number(props: dict[str, Any], name: str, default: float | None = None) -> float:
    value = props.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise NotPricedError(f"{name} is not a literal number ({value!r})")
    try:
        return float(value)
    except ValueError as exc:
        raise NotPricedError(f"{name} is not a literal number ({value!r})") from exc


def _literal(props: dict[str, Any], name: str, default: str | None = None) -> str:
    value = props.get(name, default)
    if not isinstance(value, str):
        raise NotPricedError(f"{name} is not a literal string ({value!r})")
    return value


def _instance_hour(book: PriceBook, instance_type: str) -> float:
    if instance_type not in book.instances:
        raise NotPricedError(f"instance type {instance_type} not in {book.path.name}")
    return book.instances[instance_type]


def volume_month(
    book: PriceBook, volume_type: str, size: float, iops: float, mibps: float
) -> float:
    """Monthly price of one EBS volume."""
    if volume_type == "gp3":
        return (
            size * _rate(book, "ebs.gp3.gib_month")
            + max(0.0, iops - GP3_FREE_IOPS) * _rate(book, "ebs.gp3.iops_month")
            + max(0.0, mibps - GP3_FREE_MIBPS) * _rate(book, "ebs.gp3.mibps_month")
        )
    if volume_type == "gp2":
        return size * _rate(book, "ebs.gp2.gib_month")
    raise NotPricedError(f"EBS volume type {volume_type} has no rate")


def _block_devices(book: PriceBook, mappings: Any) -> tuple[float, list[str]]:
    """Monthly price and description of BlockDeviceMappings (EBS only)."""
    total, described = 0.0, []
    for mapping in mappings or []:
        ebs = mapping.get("Ebs") if isinstance(mapping, dict) else None
        if not isinstance(ebs, dict):
            continue
        kind = _literal(ebs, "VolumeType", "gp2")
        size = _number(ebs, "VolumeSize", 8)
        iops = _number(ebs, "Iops", GP3_FREE_IOPS)
        mibps = _number(ebs, "Throughput", GP3_FREE_MIBPS)
        total += volume_month(book, kind, size, iops, mibps)
        described.append(f"{size:g} GiB {kind}")
    return total, described


def node_group(r: Resource, book: PriceBook, _: Assumptions) -> list[Charge]:
    """Managed node group: instances and their root volumes, at desired and at max size."""
    scaling = r.properties.get("ScalingConfig", {})
    desired = _number(scaling, "DesiredSize", _number(scaling, "MinSize", 1))
    maximum = _number(scaling, "MaxSize", desired)
    launch = r.properties.get("LaunchTemplate", {})
    launch_data = (r.referenced(launch.get("Id")) or {}).get("LaunchTemplateData", {})
    types = r.properties.get("InstanceTypes") or [launch_data.get("InstanceType", "t3.medium")]
    # on-demand node groups launch the first listed type while it has capacity
    instance_type = types[0] if isinstance(types[0], str) else "?"
    hourly = _instance_hour(book, instance_type)
    if launch_data.get("BlockDeviceMappings"):
        disk, disks = _block_devices(book, launch_data["BlockDeviceMappings"])
    else:  # EKS's default root volume
        size = _number(r.properties, "DiskSize", 20)
        disk, disks = volume_month(book, "gp3", size, 0, 0), [f"{size:g} GiB gp3"]
    each = hourly * HOURS_PER_MONTH + disk
    what = f"{desired:g}-{maximum:g} x {instance_type}" + (f" + {', '.join(disks)} each")
    return [Charge(what, desired * each, maximum * each)]


def instance(r: Resource, book: PriceBook, _: Assumptions) -> list[Charge]:
    """EC2 instance (the database host) with its root volume."""
    instance_type = _literal(r.properties, "InstanceType", "m1.small")
    hourly = _instance_hour(book, instance_type)
    disk, disks = _block_devices(book, r.properties.get("BlockDeviceMappings"))
    return [_fixed(" + ".join([instance_type, *disks]), hourly * HOURS_PER_MONTH + disk)]


def volume(r: Resource, book: PriceBook, _: Assumptions) -> list[Charge]:
    kind = _literal(r.properties, "VolumeType", "gp2")
    size = _number(r.properties, "Size")
    iops = _number(r.properties, "Iops", GP3_FREE_IOPS)
    mibps = _number(r.properties, "Throughput", GP3_FREE_MIBPS)
    what = f"{size:g} GiB {kind}" + (f", {iops:g} IOPS, {mibps:g} MiB/s" if kind == "gp3" else "")
    return [_fixed(what, volume_month(book, kind, size, iops, mibps))]


def nat_gateway(_: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    return [
        _fixed("730 h", _rate(book, "vpc.nat_gateway.hour") * HOURS_PER_MONTH),
        _fixed(
            f"{a.nat_data_gib:g} GiB processed (assumed)",
            a.nat_data_gib * _rate(book, "vpc.nat_gateway.gib"),
        ),
    ]


def public_ipv4(_: Resource, book: PriceBook, __: Assumptions) -> list[Charge]:
    return [_fixed("public IPv4, 730 h", _rate(book, "vpc.public_ipv4.hour") * HOURS_PER_MONTH)]


def load_balancer(r: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    kind = _literal(r.properties, "Type", "application")
    if kind != "application":
        raise NotPricedError(f"{kind} load balancers have no rate")
    return [
        _fixed("ALB, 730 h", _rate(book, "elb.alb.hour") * HOURS_PER_MONTH),
        _fixed(
            f"{a.alb_lcu:g} LCU (assumed)",
            a.alb_lcu * _rate(book, "elb.alb.lcu_hour") * HOURS_PER_MONTH,
        ),
    ]


def _log_charges(book: PriceBook, what: str, ingest: float, stored_months: float) -> list[Charge]:
    stored = ingest * stored_months
    return [
        _fixed(
            f"{what}: {ingest:g} GiB/month ingested (assumed)",
            ingest * _rate(book, "cloudwatch.logs.ingest_gib"),
        ),
        _fixed(
            f"{what}: {stored:g} GiB stored",
            stored * _rate(book, "cloudwatch.logs.storage_gib_month"),
        ),
    ]


def eks_cluster(r: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    """Control plane, and the log group EKS creates for control-plane logs (never expires)."""
    charges = [_fixed("control plane, 730 h", _rate(book, "eks.cluster.hour") * HOURS_PER_MONTH)]
    logging = r.properties.get("Logging", {}).get("ClusterLogging", {})
    enabled = len(logging.get("EnabledTypes", []))
    if enabled:
        ingest = enabled * a.eks_log_ingest_gib_per_type
        charges += _log_charges(
            book, f"{enabled} control-plane log types", ingest, a.log_storage_cap_months
        )
    return charges


def log_group(r: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    name = r.properties.get("LogGroupName")
    lambda_logs = "/aws/lambda/" in str(name)
    ingest = a.lambda_log_ingest_gib if lambda_logs else a.log_ingest_gib
    days = r.properties.get("RetentionInDays")
    months = (
        a.log_storage_cap_months
        if days is None
        else min(_number(r.properties, "RetentionInDays") / 30, a.log_storage_cap_months)
    )
    return _log_charges(book, "Lambda logs" if lambda_logs else "logs", ingest, months)


def alarm(r: Resource, book: PriceBook, _: Assumptions) -> list[Charge]:
    period = r.properties.get("Period", 60)
    metrics = r.properties.get("Metrics")
    # billed per metric: each MetricStat, each Metrics Insights query at least one
    queried = [
        m for m in metrics or [] if "MetricStat" in m or "SELECT" in str(m.get("Expression"))
    ]
    count = max(1, len(queried))
    periods = [period] + [
        m["MetricStat"].get("Period", 60)
        for m in metrics or []
        if isinstance(m, dict) and "MetricStat" in m
    ]
    if any(isinstance(p, int | float) and p < 60 for p in periods):
        raise NotPricedError("high-resolution alarm (period under 60 s) has no rate")
    return [_fixed(f"{count} alarm metric(s)", count * _rate(book, "cloudwatch.alarm.month"))]


def secret(_: Resource, book: PriceBook, __: Assumptions) -> list[Charge]:
    return [_fixed("secret", _rate(book, "secretsmanager.secret.month"))]


def kms_key(_: Resource, book: PriceBook, __: Assumptions) -> list[Charge]:
    # rotation adds $1/month for each of the first two rotations: a year from now, not today
    return [_fixed("key (first year)", _rate(book, "kms.key.month"))]


def hosted_zone(_: Resource, book: PriceBook, __: Assumptions) -> list[Charge]:
    return [_fixed("hosted zone", _rate(book, "route53.hosted_zone.month"))]


def web_acl(r: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    rules = r.properties.get("Rules", [])
    for rule in rules:
        group = rule.get("Statement", {}).get("ManagedRuleGroupStatement", {})
        if group.get("Name") in PAID_RULE_GROUPS:
            raise NotPricedError(f"managed rule group {group['Name']} has its own fee")
    return [
        _fixed("web ACL", _rate(book, "waf.web_acl.month")),
        _fixed(f"{len(rules)} rules", len(rules) * _rate(book, "waf.rule.month")),
        _fixed(
            f"{a.waf_million_requests:g} M requests (assumed)",
            a.waf_million_requests * _rate(book, "waf.million_requests"),
        ),
    ]


def bucket(_: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    return [
        _fixed(
            f"{a.s3_gib_per_bucket:g} GiB Standard (assumed)",
            a.s3_gib_per_bucket * _rate(book, "s3.standard.gib_month"),
        )
    ]


def backup_plan(r: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    """Snapshot storage of the EBS volumes in the plan's stack, for the longest retention."""
    rules = r.properties.get("BackupPlan", {}).get("BackupPlanRule", [])
    days = max(
        (_number(rule.get("Lifecycle", {}), "DeleteAfterDays", 35) for rule in rules), default=35
    )
    sizes = [
        _number(res.get("Properties", {}), "Size")
        for res in r.template.get("Resources", {}).values()
        if res.get("Type") == "AWS::EC2::Volume"
    ]
    if not sizes:
        raise NotPricedError("no EC2 volume in its stack to size the snapshots by")
    stored = sum(sizes) * (1 + a.backup_daily_change * days)
    what = (
        f"{stored:g} GiB snapshots ({sum(sizes):g} GiB + {a.backup_daily_change:.0%}/day"
        f" for {days:g} days, assumed)"
    )
    return [_fixed(what, stored * _rate(book, "ebs.snapshot.gib_month"))]


def _cache_node_hour(book: PriceBook, engine: str, node_type: str) -> float:
    rates = book.cache_nodes.get(engine.lower(), {})
    if node_type not in rates:
        raise NotPricedError(f"{engine} node type {node_type} not in {book.path.name}")
    return rates[node_type]


def replication_group(r: Resource, book: PriceBook, _: Assumptions) -> list[Charge]:
    engine = _literal(r.properties, "Engine", "redis")
    node_type = _literal(r.properties, "CacheNodeType")
    if "NumCacheClusters" in r.properties:
        nodes = _number(r.properties, "NumCacheClusters")
    else:
        shards = _number(r.properties, "NumNodeGroups", 1)
        nodes = shards * (1 + _number(r.properties, "ReplicasPerNodeGroup", 0))
    hourly = _cache_node_hour(book, engine, node_type)
    return [_fixed(f"{nodes:g} x {node_type} ({engine})", nodes * hourly * HOURS_PER_MONTH)]


def cache_cluster(r: Resource, book: PriceBook, _: Assumptions) -> list[Charge]:
    engine = _literal(r.properties, "Engine")
    node_type = _literal(r.properties, "CacheNodeType")
    nodes = _number(r.properties, "NumCacheNodes", 1)
    hourly = _cache_node_hour(book, engine, node_type)
    return [_fixed(f"{nodes:g} x {node_type} ({engine})", nodes * hourly * HOURS_PER_MONTH)]


def vpc_endpoint(r: Resource, _: PriceBook, __: Assumptions) -> list[Charge]:
    kind = _literal(r.properties, "VpcEndpointType", "Gateway")
    if kind == "Gateway":
        return [_fixed("gateway endpoint (no charge)", 0.0)]
    raise NotPricedError(f"{kind} VPC endpoints have no rate")


def prometheus_workspace(_: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    return [
        _fixed(
            f"{a.aps_million_samples:g} M samples ingested (assumed)",
            a.aps_million_samples * _rate(book, "aps.million_samples"),
        ),
        _fixed(
            f"{a.aps_storage_gib:g} GiB stored (assumed)",
            a.aps_storage_gib * _rate(book, "aps.storage.gib_month"),
        ),
    ]


def rule_namespace(_: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    """Rule evaluation is billed as the query samples it processes."""
    samples = a.aps_rule_billion_samples
    what = f"{samples:g} billion query samples (assumed)"
    return [_fixed(what, samples * _rate(book, "aps.billion_query_samples"))]


def scraper(_: Resource, book: PriceBook, __: Assumptions) -> list[Charge]:
    # the collector's per-sample charge has no rate in the committed file (see docs/cost.md)
    what = "managed collector, 730 h (its per-sample charge is not in the price file)"
    return [_fixed(what, _rate(book, "aps.collector.hour") * HOURS_PER_MONTH)]


def dashboard(_: Resource, book: PriceBook, __: Assumptions) -> list[Charge]:
    # the account's first three dashboards are free: an upper bound
    return [_fixed("dashboard", _rate(book, "cloudwatch.dashboard.month"))]


def composite_alarm(_: Resource, book: PriceBook, __: Assumptions) -> list[Charge]:
    return [_fixed("composite alarm", _rate(book, "cloudwatch.composite_alarm.month"))]


def grafana_workspace(_: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    return [
        _fixed(
            f"{a.grafana_editors:g} editors (assumed)",
            a.grafana_editors * _rate(book, "grafana.editor.month"),
        ),
        _fixed(
            f"{a.grafana_viewers:g} viewers (assumed)",
            a.grafana_viewers * _rate(book, "grafana.viewer.month"),
        ),
    ]


def email_identity(_: Resource, book: PriceBook, a: Assumptions) -> list[Charge]:
    return [
        _fixed(
            f"{a.ses_emails:g} e-mails sent (assumed)",
            a.ses_emails / 1000 * _rate(book, "ses.thousand_emails"),
        )
    ]


RULES: dict[str, Rule] = {
    "AWS::EKS::Nodegroup": node_group,
    "AWS::EKS::Cluster": eks_cluster,
    "AWS::EC2::Instance": instance,
    "AWS::EC2::Volume": volume,
    "AWS::EC2::NatGateway": nat_gateway,
    "AWS::EC2::EIP": public_ipv4,
    "AWS::EC2::VPCEndpoint": vpc_endpoint,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": load_balancer,
    "AWS::ElastiCache::ReplicationGroup": replication_group,
    "AWS::ElastiCache::CacheCluster": cache_cluster,
    "AWS::Logs::LogGroup": log_group,
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::SecretsManager::Secret": secret,
    "AWS::KMS::Key": kms_key,
    "AWS::Route53::HostedZone": hosted_zone,
    "AWS::WAFv2::WebACL": web_acl,
    "AWS::S3::Bucket": bucket,
    "AWS::Backup::BackupPlan": backup_plan,
    "AWS::APS::Workspace": prometheus_workspace,
    "AWS::APS::RuleGroupsNamespace": rule_namespace,
    "AWS::APS::Scraper": scraper,
    "AWS::CloudWatch::Dashboard": dashboard,
    "AWS::CloudWatch::CompositeAlarm": composite_alarm,
    "AWS::Grafana::Workspace": grafana_workspace,
    "AWS::SES::EmailIdentity": email_identity,
}

_PRICED_ELSEWHERE = "priced with the resource it belongs to"
_NETWORK = "VPC plumbing has no charge of its own"
FREE: dict[str, str] = {
    "AWS::EC2::VPC": _NETWORK,
    "AWS::EC2::Subnet": _NETWORK,
    "AWS::EC2::RouteTable": _NETWORK,
    "AWS::EC2::Route": _NETWORK,
    "AWS::EC2::SubnetRouteTableAssociation": _NETWORK,
    "AWS::EC2::InternetGateway": _NETWORK,
    "AWS::EC2::VPCGatewayAttachment": _NETWORK,
    "AWS::EC2::NetworkAcl": _NETWORK,
    "AWS::EC2::NetworkAclEntry": _NETWORK,
    "AWS::EC2::SubnetNetworkAclAssociation": _NETWORK,
    "AWS::EC2::SecurityGroup": _NETWORK,
    "AWS::EC2::SecurityGroupIngress": _NETWORK,
    "AWS::EC2::SecurityGroupEgress": _NETWORK,
    "AWS::EC2::FlowLog": "its cost is the ingestion of its log group",
    "AWS::EC2::LaunchTemplate": _PRICED_ELSEWHERE + " (the node group's instances and disks)",
    "AWS::EC2::VolumeAttachment": _PRICED_ELSEWHERE + " (the volume)",
    "AWS::ElasticLoadBalancingV2::Listener": _PRICED_ELSEWHERE + " (the load balancer)",
    "AWS::ElasticLoadBalancingV2::ListenerRule": _PRICED_ELSEWHERE + " (the load balancer)",
    "AWS::ElasticLoadBalancingV2::TargetGroup": _PRICED_ELSEWHERE + " (the load balancer)",
    "AWS::WAFv2::WebACLAssociation": _PRICED_ELSEWHERE + " (the web ACL)",
    "AWS::ElastiCache::ParameterGroup": _PRICED_ELSEWHERE + " (the cache nodes)",
    "AWS::ElastiCache::SubnetGroup": _PRICED_ELSEWHERE + " (the cache nodes)",
    "AWS::Backup::BackupVault": _PRICED_ELSEWHERE + " (the plan's snapshot storage)",
    "AWS::Backup::BackupSelection": _PRICED_ELSEWHERE + " (the plan's snapshot storage)",
    "AWS::S3::BucketPolicy": _PRICED_ELSEWHERE + " (the bucket)",
    "AWS::Route53::RecordSet": "queries are usage; alias queries to AWS resources are free",
    "AWS::CertificateManager::Certificate": "public ACM certificates are free",
    "AWS::EKS::Addon": "EKS add-ons have no charge; they run on the nodes",
    "AWS::EKS::AccessEntry": "no charge",
    "AWS::EKS::PodIdentityAssociation": "no charge",
    "AWS::IAM::Role": "IAM has no charge",
    "AWS::IAM::Policy": "IAM has no charge",
    "AWS::IAM::ManagedPolicy": "IAM has no charge",
    "AWS::IAM::User": "IAM has no charge",
    "AWS::IAM::InstanceProfile": "IAM has no charge",
    "AWS::IAM::OIDCProvider": "IAM has no charge",
    "AWS::KMS::Alias": "no charge",
    "AWS::Lambda::Function": (
        "per request; the estate's functions run at deploy time, within the free tier"
    ),
    "AWS::Lambda::LayerVersion": "no charge",
    "AWS::Lambda::Permission": "no charge",
    "AWS::SNS::Topic": "first million publishes and 1000 e-mail notifications a month are free",
    "AWS::SNS::Subscription": "first 1000 e-mail notifications a month are free",
    "AWS::SNS::TopicPolicy": "no charge",
    "AWS::SSM::Parameter": "standard parameters are free",
    "AWS::SSM::Document": "Command documents and Run Command on EC2 instances have no charge",
    "AWS::Events::Rule": "events from AWS services are free",
    "AWS::Logs::MetricFilter": "no charge",
    "AWS::Logs::ResourcePolicy": "no charge",
    "AWS::SES::ConfigurationSet": "no charge; sending is priced on the identity",
    "AWS::SES::ConfigurationSetEventDestination": "no charge; sending is priced on the identity",
    "AWS::SES::Template": "no charge; sending is priced on the identity",
    "AWS::SES::ContactList": "no charge; sending is priced on the identity",
    "AWS::CDK::Metadata": "CDK metadata, not an AWS resource",
}
CUSTOM_PREFIX = "Custom::"
CUSTOM_REASON = "CloudFormation custom resource: a Lambda invoked at deploy time"


def free_reason(resource_type: str) -> str | None:
    """Why a type costs nothing by itself, or None if it is not deliberately free."""
    if (
        resource_type.startswith(CUSTOM_PREFIX)
        or resource_type == "AWS::CloudFormation::CustomResource"
    ):
        return CUSTOM_REASON
    return FREE.get(resource_type)


def price(r: Resource, book: PriceBook, assumptions: Assumptions = ASSUMPTIONS) -> list[Charge]:
    """The charges of one resource; NotPricedError if there is no rule or it cannot be applied."""
    rule = RULES.get(r.type)
    if rule is None:
        raise NotPricedError("no pricing rule for this type (infra/cost/rules.py)")
    return rule(r, book, assumptions)
