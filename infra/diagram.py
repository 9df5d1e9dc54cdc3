"""`python -m infra diagram`: a Mermaid picture of each environment, drawn from its synthesized
templates in the seeds' style (zone → certificate → ALB; the VPC with its subnets per AZ and the
NAT gateways; node groups with instance types and sizes; the database host and its volume;
Redis; buckets; monitoring), written to `docs/estate/<env>.md`.

Drawn from the templates, not from config, so the picture is what CloudFormation will create;
tests/test_estate_docs.py fails when a committed picture no longer matches the estate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Template = dict[str, Any]
DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "estate"
GENERATOR = "python -m infra diagram"
# the seeds' palette: dev blue, qa green, prod red; anything else purple
COLOURS = {
    "dev": ("#E6F3FF", "#3182CE"),
    "qa": ("#C6F6D5", "#38A169"),
    "prod": ("#FED7D7", "#E53E3E"),
}
OTHER_COLOUR = ("#E9D8FD", "#805AD5")


@dataclass(frozen=True)
class _Res:
    logical_id: str
    type: str
    props: dict[str, Any]


class _Estate:
    """The resources of one environment's stacks, found by type."""

    def __init__(self, stacks: Mapping[str, Template]) -> None:
        self.by_id: dict[str, _Res] = {}
        self.all: list[_Res] = []
        for name in sorted(stacks):
            for logical_id, raw in sorted(stacks[name].get("Resources", {}).items()):
                res = _Res(logical_id, str(raw.get("Type")), dict(raw.get("Properties") or {}))
                self.all.append(res)
                self.by_id.setdefault(logical_id, res)

    def of(self, resource_type: str) -> list[_Res]:
        return [r for r in self.all if r.type == resource_type]

    def count(self, resource_type: str) -> int:
        return len(self.of(resource_type))


def _text(value: Any, default: str = "?") -> str:
    """A literal value as label text; an intrinsic function (resolved at deploy time) as `?`."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return default


def _label(*lines: str) -> str:
    return '"' + "<br/>".join(line.replace('"', "#quot;") for line in lines if line) + '"'


def _tag(res: _Res, key: str) -> str | None:
    for tag in res.props.get("Tags", []) or []:
        if isinstance(tag, dict) and tag.get("Key") == key:
            return _text(tag.get("Value"))
    return None


def _subnets(estate: _Estate, prefix: str) -> Iterator[str]:
    subnets = estate.of("AWS::EC2::Subnet")
    nat_subnets = {
        _text(n.props.get("SubnetId", {}).get("Ref"), "")
        for n in estate.of("AWS::EC2::NatGateway")
        if isinstance(n.props.get("SubnetId"), dict)
    }
    zones = sorted({_text(s.props.get("AvailabilityZone")) for s in subnets})
    for index, zone in enumerate(zones, 1):
        yield f'            subgraph {prefix}_AZ{index}["{zone}"]'
        in_zone = [s for s in subnets if _text(s.props.get("AvailabilityZone")) == zone]
        for number, subnet in enumerate(
            sorted(in_zone, key=lambda s: _text(s.props.get("CidrBlock"))), 1
        ):
            kind = _tag(subnet, "aws-cdk:subnet-type") or (
                "Public" if subnet.props.get("MapPublicIpOnLaunch") else "Private"
            )
            node = f"{prefix}_AZ{index}_{number}"
            yield f"                {node}[{_label(kind, _text(subnet.props.get('CidrBlock')))}]"
            if subnet.logical_id in nat_subnets:
                yield f'                {node}_NAT["NAT gateway"]'
                yield f"                {node} --- {node}_NAT"
        yield "            end"


def _node_groups(estate: _Estate, prefix: str) -> Iterator[tuple[str, str]]:
    for index, group in enumerate(estate.of("AWS::EKS::Nodegroup"), 1):
        scaling = group.props.get("ScalingConfig", {})
        labels = group.props.get("Labels", {})
        name = _text(labels.get("tier") if isinstance(labels, dict) else None, group.logical_id)
        types = ", ".join(_text(t) for t in group.props.get("InstanceTypes") or ["?"])
        label = _label(
            f"{name.capitalize()} nodes",
            f"{types} x{_text(scaling.get('DesiredSize'))}",
            f"Min: {_text(scaling.get('MinSize'))}, Max: {_text(scaling.get('MaxSize'))}",
        )
        yield f"{prefix}_NG{index}", label


def _volume_line(volume: _Res) -> str:
    p = volume.props
    line = f"{_text(p.get('VolumeType'), 'gp2').upper()} {_text(p.get('Size'))} GiB"
    if "Iops" in p or "Throughput" in p:
        line += f"<br/>{_text(p.get('Iops'))} IOPS, {_text(p.get('Throughput'))} MiB/s"
    return line


def render_diagram(env: str, stacks: Mapping[str, Template]) -> str:
    """The Mermaid source of one environment."""
    estate = _Estate(stacks)
    p = env.upper()
    # The public zone names the environment (a private zone, with VPCs, holds internal names).
    zone = next((z for z in estate.of("AWS::Route53::HostedZone") if "VPCs" not in z.props), None)
    domain = _text(zone.props.get("Name")).rstrip(".") if zone else "?"
    out = ["graph TB", f"    USERS((Internet Users)) --> {p}_R53", ""]
    out.append(f'    subgraph {p}["{env.upper()} - {domain}"]')
    out.append(f"        {p}_R53[{_label('Route53 zone', domain)}]")
    for cert in estate.of("AWS::CertificateManager::Certificate"):
        names = [_text(cert.props.get("DomainName"))]
        names += [_text(n) for n in cert.props.get("SubjectAlternativeNames", [])]
        out.append(f"        {p}_R53 --> {p}_ACM[{_label('ACM certificate', *names)}]")
    for identity in estate.of("AWS::SES::EmailIdentity"):
        label = _label("SES identity", _text(identity.props.get("EmailIdentity")))
        out.append(f"        {p}_R53 --> {p}_SES[{label}]")
    for alb in estate.of("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        acl = next(iter(estate.of("AWS::WAFv2::WebACL")), None)
        waf = f"WAF: {len(acl.props.get('Rules', []))} rules" if acl else ""
        label = _label(f"ALB {_text(alb.props.get('Scheme'), '')}".strip(), waf)
        out.append(f"        {p}_ACM --> {p}_ALB[{label}]")
    vpc = next(iter(estate.of("AWS::EC2::VPC")), None)
    out.append(
        f'        subgraph {p}_VPC["VPC ({_text(vpc.props.get("CidrBlock")) if vpc else "?"})"]'
    )
    if estate.count("AWS::EC2::InternetGateway"):
        out.append(f'            {p}_IGW["Internet gateway"]')
    out += list(_subnets(estate, p))
    groups = list(_node_groups(estate, p))
    clusters = estate.of("AWS::EKS::Cluster")
    for cluster in clusters:
        title = f"EKS {_text(cluster.props.get('Name'))} v{_text(cluster.props.get('Version'))}"
        out.append(f'            subgraph {p}_EKS["{title}"]')
        out.append(f'                {p}_CP["Control plane"]')
        out += [f"                {node}[{label}]" for node, label in groups]
        out.append("            end")
    if not clusters:  # node groups of a cluster defined elsewhere
        out += [f"            {node}[{label}]" for node, label in groups]
    hosts = estate.of("AWS::EC2::Instance")
    if hosts:
        out.append(f'            subgraph {p}_DB["Database"]')
        for index, host in enumerate(hosts, 1):
            role = "PostgreSQL host" if index == 1 else "PostgreSQL standby"
            zone_name = _text(host.props.get("AvailabilityZone"), "")
            label = _label(f"EC2 {_text(host.props.get('InstanceType'))}", role, zone_name)
            out.append(f"                {p}_EC2_{index}[{label}]")
        for index, volume in enumerate(estate.of("AWS::EC2::Volume"), 1):
            out.append(f'                {p}_VOL_{index}["{_volume_line(volume)}"]')
            out.append(f"                {p}_EC2_{min(index, len(hosts))} --- {p}_VOL_{index}")
        out.append("            end")
    for index, cache in enumerate(estate.of("AWS::ElastiCache::ReplicationGroup"), 1):
        props = cache.props
        nodes = _text(props.get("NumCacheClusters"), "1")
        engine = (
            f"{_text(props.get('Engine'), 'redis')} {_text(props.get('EngineVersion'), '')}".strip()
        )
        label = _label(f"ElastiCache {engine}", f"{_text(props.get('CacheNodeType'))} x{nodes}")
        out.append(f"            {p}_REDIS_{index}[{label}]")
    out.append("        end")
    buckets = estate.of("AWS::S3::Bucket")
    if buckets:
        out.append(f'        subgraph {p}_S3["Buckets"]')
        out += [f'            {p}_S3_{i}["{b.logical_id}"]' for i, b in enumerate(buckets, 1)]
        out.append("        end")
    out.append(f'        subgraph {p}_MON["Monitoring"]')
    monitoring = [
        ("AWS::CloudWatch::Alarm", "CloudWatch alarms"),
        ("AWS::CloudWatch::CompositeAlarm", "Composite alarms"),
        ("AWS::CloudWatch::Dashboard", "CloudWatch dashboards"),
        ("AWS::SNS::Topic", "SNS alarm topics"),
        ("AWS::Logs::LogGroup", "Log groups"),
        ("AWS::APS::Workspace", "Managed Prometheus workspaces"),
        ("AWS::APS::Scraper", "Prometheus managed collectors"),
        ("AWS::Grafana::Workspace", "Managed Grafana workspaces"),
        ("AWS::Backup::BackupPlan", "AWS Backup plans"),
    ]
    for index, (kind, what) in enumerate(monitoring, 1):
        if estate.count(kind):
            out.append(f'            {p}_MON_{index}["{what}: {estate.count(kind)}"]')
    out.append("        end")
    out.append("    end")
    for node, _ in groups:
        if estate.count("AWS::ElasticLoadBalancingV2::LoadBalancer"):
            out.append(f"    {p}_ALB --> {node}")
        if hosts:
            out.append(f"    {node} --> {p}_EC2_1")
        if estate.count("AWS::ElastiCache::ReplicationGroup"):
            out.append(f"    {node} --> {p}_REDIS_1")
    fill, stroke = COLOURS.get(env, OTHER_COLOUR)
    out += ["", f"    classDef {env} fill:{fill},stroke:{stroke}"]
    groups_styled = [p, f"{p}_VPC", f"{p}_MON"] + ([f"{p}_EKS"] if clusters else [])
    groups_styled += [f"{p}_DB"] if hosts else []
    out.append(f"    class {','.join(groups_styled)} {env}")
    return "\n".join(out) + "\n"


def render_page(env: str, stacks: Mapping[str, Template]) -> str:
    """docs/estate/<env>.md: the diagram with a line on how it is made."""
    return (
        f"# The {env} estate\n\n"
        f"Generated from the synthesized templates by `{GENERATOR} --env {env}`; do not edit by"
        " hand. `tests/test_estate_docs.py` fails when it no longer matches the estate. What it"
        f" costs: `python -m infra cost --env {env}`.\n\n"
        f"```mermaid\n{render_diagram(env, stacks)}```\n"
    )


def page_path(env: str, directory: Path = DOCS_DIR) -> Path:
    return directory / f"{env}.md"
