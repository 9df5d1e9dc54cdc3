"""AWS's limits on the values a config sends it, read offline from the pinned packages' data.

`validate` must refuse what CloudFormation or a service API would refuse, and synth makes no
AWS call, so the limits come from data shipped with packages pinned in requirements.lock:
- cfn-lint's CloudFormation resource schemas (`cfnlint/data/schemas/resources`, the registry
  schemas AWS publishes per resource type): lengths, patterns, ranges, enums of properties;
- botocore's service models: the same for API shapes, and the sentences of their documentation
  that state a limit no shape encodes (ACM's 64-octet common name, EC2's IPv4 block sizes);
- moto's dump of EC2 DescribeInstanceTypes (`moto/ec2/resources/instance_types.json.gz`): the
  architectures each instance type supports.

A field says which AWS property its value reaches with `Annotated[..., AwsLimit(...)]`; the
config base model checks every such field (base.Strict), so a new field needs one annotation,
not a check of its own. Each message names the source of the limit.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import regex
from botocore.loaders import Loader

# Where a registry schema's index is read: the resource types are the same in every region for
# the properties checked here; the commercial region with every type.
_SCHEMA_REGION = "us-east-1"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not installed; install requirements.lock")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def _schema_index() -> dict[str, str]:
    path = _package_dir("cfnlint") / "data/schemas/providers" / f"{_SCHEMA_REGION}.json"
    index: dict[str, str] = json.loads(path.read_text())
    return index


@cache
def resource_schema(type_name: str) -> dict[str, Any]:
    """cfn-lint's copy of the CloudFormation registry schema of `type_name`."""
    digest = _schema_index()[type_name]
    schema: dict[str, Any] = json.loads(
        (_package_dir("cfnlint") / "data/schemas/resources" / f"{digest}.json").read_text()
    )
    return schema


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def property_schema(type_name: str, path: str) -> dict[str, Any]:
    """The schema of one property: `ScalingConfig/MinSize`, `Tags/*/Key` (`*`: list items)."""
    schema = resource_schema(type_name)
    node: dict[str, Any] = {"properties": schema["properties"]}
    for part in path.split("/"):
        node = _resolve(schema, node["items"] if part == "*" else node["properties"][part])
    return node


@cache
def service_model(service: str) -> dict[str, Any]:
    model: dict[str, Any] = Loader().load_service_model(service, "service-2")
    return model


def _plain(documentation: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", documentation))


@dataclass(frozen=True)
class Constraint:
    """What one AWS property or API shape accepts; `source` names where that was read."""

    source: str
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[Any, ...] | None = None
    min_items: int | None = None
    max_items: int | None = None

    def problem(self, value: Any) -> str | None:
        """None if `value` is accepted, else what is wrong and the fix, naming the source."""
        if value is None:  # an optional field left out: the property is not sent
            return None
        if isinstance(value, list | tuple | Mapping):
            if self.max_items is not None and len(value) > self.max_items:
                return (
                    f"has {len(value)} entries; {self.source} accepts at most "
                    f"{self.max_items}: remove some"
                )
            # An empty list is the property left out (optional), not a list that is too short.
            if self.min_items is not None and 0 < len(value) < self.min_items:
                return f"has {len(value)} entries; {self.source} needs at least {self.min_items}"
            return None
        if self.enum is not None and value not in self.enum:
            shown = ", ".join(map(str, self.enum[:24])) + (", ..." if len(self.enum) > 24 else "")
            return f"{value!r} is not accepted by {self.source}; use one of {shown}"
        if isinstance(value, str):
            return self._text_problem(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                return (
                    f"{value} is below {_num(self.minimum)}, the least {self.source} "
                    "accepts; raise it"
                )
            if self.maximum is not None and value > self.maximum:
                return (
                    f"{value} is above {_num(self.maximum)}, the most {self.source} "
                    "accepts; lower it"
                )
        return None

    def _text_problem(self, value: str) -> str | None:
        if self.max_length is not None and len(value) > self.max_length:
            return (
                f"{value!r} is {len(value)} characters; {self.source} accepts at most "
                f"{self.max_length}: shorten it"
            )
        if self.min_length is not None and value == "":
            return (
                f"is empty; {self.source} needs at least {self.min_length} character(s): fill it in"
            )
        if self.min_length is not None and len(value) < self.min_length:
            return (
                f"{value!r} is shorter than {self.min_length}, the least {self.source} "
                "accepts; lengthen it"
            )
        if self.pattern is not None and not regex.search(self.pattern, value):
            allowed = _char_class(self.pattern)
            refused = sorted({c for c in value if not regex.fullmatch(allowed, c)})
            if refused and allowed != self.pattern:
                chars = " ".join(repr(c) for c in refused)
                return f"{value!r} has characters {self.source} refuses ({chars}); remove them"
            return f"{value!r} does not match {self.pattern!r} of {self.source}; change it to match"
        return None


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _char_class(pattern: str) -> str:
    """`^([set]*)$` -> `[set]`: the characters a repeat-only pattern allows, for naming the
    refused ones; any other pattern is returned as it is."""
    match = re.fullmatch(r"\^?\(?(\[[^\]]*\])[*+](?:\{[\d,]*\})?\)?\$?", pattern)
    return match.group(1) if match else pattern


@cache
def cfn_constraint(type_name: str, path: str) -> Constraint:
    """The constraint of a resource property in cfn-lint's schema of `type_name`."""
    node = property_schema(type_name, path)
    return Constraint(
        source=f"{type_name} {path.replace('/*/', '[].')} (cfn-lint's schema)",
        min_length=node.get("minLength"),
        max_length=node.get("maxLength"),
        pattern=node.get("pattern"),
        minimum=node.get("minimum"),
        maximum=node.get("maximum"),
        enum=tuple(node["enum"]) if "enum" in node else None,
        min_items=node.get("minItems"),
        max_items=node.get("maxItems"),
    )


@cache
def shape_constraint(service: str, shape: str) -> Constraint:
    """The constraint of an API shape in botocore's model of `service`."""
    node = service_model(service)["shapes"][shape]
    return Constraint(
        source=f"{service} {shape} (botocore's model)",
        min_length=node.get("min") if node["type"] == "string" else None,
        max_length=node.get("max") if node["type"] == "string" else None,
        pattern=node.get("pattern"),
        minimum=node.get("min") if node["type"] in ("integer", "long") else None,
        maximum=node.get("max") if node["type"] in ("integer", "long") else None,
        enum=tuple(node["enum"]) if "enum" in node else None,
        min_items=node.get("min") if node["type"] in ("list", "map") else None,
        max_items=node.get("max") if node["type"] in ("list", "map") else None,
    )


@cache
def gp3_constraint(member: str) -> Constraint:
    """The gp3 range of an EC2 CreateVolume member (Size, Iops, Throughput) as botocore's
    documentation of it states ("gp3: 1 - 65,536 GiB", "Valid Range: 125 - 2000 MiB/s")."""
    text = _plain(
        service_model("ec2")["shapes"]["CreateVolumeRequest"]["members"][member]["documentation"]
    )
    match = re.search(r"gp3: ([\d,]+)(?: \(default\))? - ([\d,]+)", text) or re.search(
        r"Valid Range: ([\d,]+) - ([\d,]+)", text
    )
    if match is None:
        raise RuntimeError(f"botocore's CreateVolume {member} documentation states no gp3 range")
    low, high = (int(g.replace(",", "")) for g in match.groups())
    return Constraint(
        source=f"a gp3 volume's {member} (botocore's ec2 CreateVolume documentation)",
        minimum=low,
        maximum=high,
    )


@cache
def gp3_throughput_per_iops() -> float:
    """MiB/s of throughput a gp3 volume may have per provisioned IOPS (the Throughput
    description of AWS::EC2::Volume: "maximum ratio of throughput to IOPS is 0.25 MiB/s")."""
    text = property_schema("AWS::EC2::Volume", "Throughput").get("description", "")
    match = re.search(r"ratio of throughput to IOPS is ([\d.]+) MiB/s per IOPS", text)
    if match is None:
        raise RuntimeError("cfn-lint's AWS::EC2::Volume schema states no throughput ratio")
    return float(match.group(1))


@cache
def elbv2_attribute_constraint(shape: str, key: str) -> Constraint:
    """The range of a load balancer or target group attribute (`idle_timeout.timeout_seconds`)
    as botocore's elbv2 documentation of the attribute keys states it ("The valid range is
    1-4000 seconds", "The range is 0-3600 seconds")."""
    text = _plain(service_model("elbv2")["shapes"][shape]["members"]["Key"]["documentation"])
    match = re.search(re.escape(key) + r" - [^-]*?range is (\d+)-(\d+)", text)
    if match is None:
        raise RuntimeError(f"botocore's elbv2 {shape} documentation states no range of {key}")
    return Constraint(
        source=f"the {key} attribute (botocore's elbv2 {shape} documentation)",
        minimum=int(match.group(1)),
        maximum=int(match.group(2)),
    )


Ref = tuple[Literal["cfn", "botocore", "gp3", "elbv2"], str, str]


@dataclass(frozen=True)
class AwsLimit:
    """Annotated metadata of a config field: the AWS properties (cfn-lint schema: type and
    property path) or API shapes (botocore: service and shape) its value reaches.

    `part` says what is checked: the value, each item of a list, or each key / value of a
    mapping.
    """

    refs: tuple[Ref, ...]
    part: Literal["value", "items", "keys", "values"] = "value"

    def constraints(self) -> list[Constraint]:
        readers = {
            "cfn": cfn_constraint,
            "botocore": shape_constraint,
            "elbv2": elbv2_attribute_constraint,
        }
        return [
            gp3_constraint(b) if kind == "gp3" else readers[kind](a, b) for kind, a, b in self.refs
        ]

    def problems(self, loc: str, value: Any) -> Iterator[tuple[str, str]]:
        """(loc, message) for the first limit each checked value breaks."""
        for where, item in _parts(loc, value, self.part):
            for constraint in self.constraints():
                problem = constraint.problem(item)
                if problem:
                    yield where, problem
                    break


def cfn(type_name: str, path: str) -> Ref:
    return ("cfn", type_name, path)


def shape(service: str, name: str) -> Ref:
    return ("botocore", service, name)


def elbv2_attribute(shape: str, key: str) -> Ref:
    """An attribute of a load balancer (`LoadBalancerAttribute`) or target group
    (`TargetGroupAttribute`), e.g. `idle_timeout.timeout_seconds`."""
    return ("elbv2", shape, key)


def gp3(member: str) -> Ref:
    """A gp3 EBS volume's Size, Iops or Throughput (EC2 CreateVolume documentation)."""
    return ("gp3", "ec2", member)


def _parts(loc: str, value: Any, part: str) -> Iterator[tuple[str, Any]]:
    if part == "value":
        yield loc, value
    elif part == "items" and isinstance(value, list | tuple):
        yield from ((f"{loc}[{i}]", item) for i, item in enumerate(value))
    elif part in ("keys", "values") and isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{loc}.{key}", key if part == "keys" else item


# --- Tags ----------------------------------------------------------------------------------

# Every resource type of the estate that takes Tags (the stacks tag everything with
# `tags`). tests/test_aws_limits.py keeps this list equal to the synthesized templates'.
TAGGED_RESOURCE_TYPES = (
    "AWS::APS::RuleGroupsNamespace",
    "AWS::APS::Scraper",
    "AWS::APS::Workspace",
    "AWS::CertificateManager::Certificate",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::CompositeAlarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::EC2::EIP",
    "AWS::EC2::FlowLog",
    "AWS::EC2::Instance",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Subnet",
    "AWS::EC2::VPC",
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::Volume",
    "AWS::EKS::AccessEntry",
    "AWS::EKS::Addon",
    "AWS::EKS::Cluster",
    "AWS::EKS::Nodegroup",
    "AWS::EKS::PodIdentityAssociation",
    "AWS::ElastiCache::ParameterGroup",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::Events::Rule",
    "AWS::IAM::OIDCProvider",
    "AWS::IAM::Role",
    "AWS::IAM::User",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::SES::EmailIdentity",
    "AWS::SNS::Topic",
    "AWS::SSM::Document",
    "AWS::SSM::Parameter",
    "AWS::SecretsManager::Secret",
    "AWS::WAFv2::WebACL",
)


def _tag_part(type_name: str, part: str) -> Constraint | None:
    """The Key or Value constraint of a type's list of tags (None: a map of tags)."""
    try:
        node = property_schema(type_name, f"Tags/*/{part}")
    except KeyError:
        return None
    if not any(k in node for k in ("minLength", "maxLength", "pattern")):
        return None
    return cfn_constraint(type_name, f"Tags/*/{part}")


@cache
def tag_constraints() -> tuple[tuple[Constraint, ...], tuple[Constraint, ...]]:
    """(key, value) constraints: the stack's own tags (CloudFormation's API) and every tagged
    resource type's schema; the first broken one is reported."""
    keys = [shape_constraint("cloudformation", "TagKey")]
    values = [shape_constraint("cloudformation", "TagValue")]
    for type_name in TAGGED_RESOURCE_TYPES:
        if (key := _tag_part(type_name, "Key")) is not None:
            keys.append(key)
        if (value := _tag_part(type_name, "Value")) is not None:
            values.append(value)
    return tuple(keys), tuple(values)


@cache
def reserved_tag_prefixes() -> dict[str, list[str]]:
    """Prefixes a tag key may not start with, as the tagged types' schemas state them
    ("can't be prefixed with ``aws:``"), with the types that say so."""
    found: dict[str, list[str]] = {}
    for type_name in TAGGED_RESOURCE_TYPES:
        try:
            text = property_schema(type_name, "Tags/*/Key").get("description", "")
        except KeyError:
            continue
        for prefix in re.findall(r"(?:can't|cannot) be prefixed with `*([a-z]+:)", text):
            found.setdefault(prefix, []).append(type_name)
    if not found:
        raise RuntimeError("no reserved tag prefix found in cfn-lint's schemas; check its pin")
    return found


def tag_problems(tags: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(loc under `tags`, message) for each tag AWS would refuse."""
    if problem := shape_constraint("cloudformation", "Tags").problem(tags):
        yield "tags", problem
    keys, values = tag_constraints()
    for key, value in tags.items():
        loc = f"tags.{key}"
        for prefix, types in reserved_tag_prefixes().items():
            if key.lower().startswith(prefix):
                example = "AWS::EKS::Cluster" if "AWS::EKS::Cluster" in types else types[0]
                yield (
                    loc,
                    f"the key prefix {prefix} is reserved for AWS (cfn-lint's schemas of "
                    f"{example} and {len(types) - 1} more tagged types); rename the tag",
                )
                break
        else:
            problem = next((p for c in keys if (p := c.problem(key))), None)
            if problem is None:
                problem = next((p for c in values if (p := c.problem(value))), None)
            if problem:
                yield loc, problem


# --- Limits stated in botocore's documentation ---------------------------------------------


@cache
def ipv4_block_sizes() -> tuple[int, int]:
    """(largest, smallest) prefix length EC2 allows for an IPv4 subnet, from the CreateSubnet
    documentation ("between a /28 netmask ... and a /16 netmask"). The VPC user guide gives a
    VPC's own block the same range."""
    text = _plain(service_model("ec2")["operations"]["CreateSubnet"]["documentation"])
    match = re.search(r"IPv4 subnet is between a /(\d+) netmask .*? and a /(\d+) netmask", text)
    if match is None:
        raise RuntimeError("botocore's CreateSubnet documentation no longer states the sizes")
    small, large = int(match.group(1)), int(match.group(2))
    return min(small, large), max(small, large)


def block_size_problem(block: ipaddress.IPv4Network, what: str) -> str | None:
    largest, smallest = ipv4_block_sizes()
    if largest <= block.prefixlen <= smallest:
        return None
    size = "larger" if block.prefixlen < largest else "smaller"
    return (
        f"{block} is {size} than EC2 allows for {what} (/{largest} to /{smallest}, botocore's "
        "ec2 CreateSubnet documentation); choose a block in that range"
    )


@cache
def acm_common_name_limit() -> int:
    """Octets ACM accepts in a certificate's first name (its common name), from the
    RequestCertificate DomainName documentation ("cannot exceed 64 octets")."""
    member = service_model("acm")["shapes"]["RequestCertificateRequest"]["members"]["DomainName"]
    match = re.search(r"cannot exceed (\d+) octets", _plain(member["documentation"]))
    if match is None:
        raise RuntimeError("botocore's ACM documentation no longer states the common name limit")
    return int(match.group(1))


def certificate_name_problems(domain_name: str) -> str | None:
    """ACM's limits on the certificate's first name: the shape, then the common name length."""
    problem = shape_constraint("acm", "DomainNameString").problem(domain_name)
    if problem:
        return problem
    limit = acm_common_name_limit()
    if len(domain_name) > limit:
        return (
            f"{domain_name!r} is {len(domain_name)} characters; ACM takes at most {limit} in a "
            "certificate's first name (botocore's acm RequestCertificate documentation): use a "
            "shorter name"
        )
    return None


# --- Instance architectures ----------------------------------------------------------------


@cache
def instance_architectures() -> dict[str, tuple[str, ...]]:
    """SupportedArchitectures per EC2 instance type (moto's DescribeInstanceTypes dump)."""
    path = _package_dir("moto") / "ec2/resources/instance_types.json.gz"
    with gzip.open(path, "rt") as data:
        types: dict[str, dict[str, Any]] = json.load(data)
    return {
        name: tuple(info.get("ProcessorInfo", {}).get("SupportedArchitectures", ()))
        for name, info in types.items()
    }


def architecture_problem(instance_type: str, architecture: str, image: str) -> str | None:
    """None if `instance_type` runs `architecture` (or its architectures are not recorded)."""
    supported = instance_architectures().get(instance_type)
    if not supported or architecture in supported:
        return None
    return (
        f"{instance_type} is an {'/'.join(supported)} type but {image} is {architecture}; use "
        f"an {architecture} type such as t3.large (EC2 DescribeInstanceTypes, moto's copy)"
    )


# --- The EKS public endpoint ---------------------------------------------------------------

# Address blocks from which no request reaches a public endpoint: private (RFC 1918), shared
# (RFC 6598), loopback, link-local, "this network", multicast and reserved. EKS admits public
# source addresses only, so such a block in publicAccessCidrs admits nobody.
NON_PUBLIC_BLOCKS = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)


def public_endpoint_problem(block: ipaddress.IPv4Network) -> str | None:
    for reserved in NON_PUBLIC_BLOCKS:
        if block.overlaps(reserved) and block.prefixlen >= reserved.prefixlen:
            return (
                f"{block} is inside {reserved}, which is not a public internet range: the "
                "public endpoint sees public source addresses only; give your office or VPN "
                "egress range (the private endpoint already serves the VPC)"
            )
    return None


# --- Names derived from the environment's name ----------------------------------------------


@cache
def stack_name_limit() -> int:
    """Characters CloudFormation takes in a stack name (botocore's CreateStack documentation:
    "can't be longer than 128 characters")."""
    member = service_model("cloudformation")["shapes"]["CreateStackInput"]["members"]
    match = re.search(
        r"can't be longer than (\d+) characters", _plain(member["StackName"]["documentation"])
    )
    if match is None:
        raise RuntimeError("botocore's CreateStack documentation states no stack name limit")
    return int(match.group(1))


def derived_name_problems(environment: str) -> Iterator[str]:
    """What AWS would refuse among the physical names infra/naming.py derives from an
    environment's name: each checked against the property it is given to. The name's own rule
    (2-15 characters) keeps them all short today; this keeps that true if the rule changes."""
    from infra import naming

    named: list[tuple[str, str, str]] = [
        ("AWS::EKS::Cluster", "Name", naming.cluster_name(environment)),
        ("AWS::IAM::Role", "RoleName", naming.deploy_role_name(environment)),
        (
            "AWS::SecretsManager::Secret",
            "Name",
            naming.secret_name(environment, "database", "ca-certificate"),
        ),
    ]
    for type_name, path, value in named:
        if problem := cfn_constraint(type_name, path).problem(value):
            yield f"makes a name AWS refuses: {problem}"
    parts = (*naming.STACK_PARTS, *naming.OPTIONAL_PARTS)
    longest = max((naming.stack_name(environment, part) for part in parts), key=len)
    if len(longest) > stack_name_limit():
        yield (
            f"makes a name AWS refuses: the stack name {longest!r} is {len(longest)} "
            f"characters; CloudFormation takes at most {stack_name_limit()} (botocore's "
            "CreateStack documentation): shorten it"
        )
