"""The edge stack of every environment: ALB, listeners, target groups, logs, WAF and DNS name."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_elasticloadbalancingv2 as elbv2

from infra.config import PATHS_PER_RULE, EdgeConfig, EnvironmentConfig, TargetGroupConfig
from tests.conftest import ALL_CONFIGS, SynthesizedEstate

# Elastic Load Balancing's log-delivery account per region (AWS docs, "Enable access logs for
# your Application Load Balancer"); regions opened after August 2022 use a service principal.
ELB_LOG_ACCOUNTS = {"sa-east-1": "507241528517"}


def _of_type(synthesized: SynthesizedEstate, env: str, kind: str) -> dict[str, dict[str, Any]]:
    resources = synthesized.template_json(f"twenty-{env}-edge")["Resources"]
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def _one(synthesized: SynthesizedEstate, env: str, kind: str) -> tuple[str, dict[str, Any]]:
    found = _of_type(synthesized, env, kind)
    assert len(found) == 1, f"expected one {kind}, found {list(found)}"
    return next(iter(found.items()))


def _network_output(value: Any) -> str:
    """The network-stack output a weak cross-stack reference reads."""
    ref = value["Fn::GetStackOutput"]
    assert ref["StackName"].endswith("-network")
    return str(ref["OutputName"])


def _load_balancer(synthesized, env) -> tuple[str, dict[str, Any]]:
    return _one(synthesized, env, "AWS::ElasticLoadBalancingV2::LoadBalancer")


def _attributes(resource: dict[str, Any], key: str = "LoadBalancerAttributes") -> dict[str, Any]:
    return {a["Key"]: a["Value"] for a in resource["Properties"][key]}


def _target_group_ids(synthesized, env) -> dict[str, str]:
    groups = _of_type(synthesized, env, "AWS::ElasticLoadBalancingV2::TargetGroup")
    by_tier = {
        tier: [k for k in groups if k.startswith(f"{tier.capitalize()}TargetGroup")]
        for tier in ("frontend", "backend")
    }
    assert all(len(ids) == 1 for ids in by_tier.values()), by_tier
    assert len(groups) == 2
    return {tier: ids[0] for tier, ids in by_tier.items()}


def _listener(synthesized, env, port: int) -> tuple[str, dict[str, Any]]:
    listeners = _of_type(synthesized, env, "AWS::ElasticLoadBalancingV2::Listener")
    found = [(k, v) for k, v in listeners.items() if v["Properties"]["Port"] == port]
    assert len(found) == 1
    assert len(listeners) == 2, "only the HTTP redirect and the HTTPS listener"
    return found[0]


def test_alb_internet_facing_in_public_subnets(synthesized: SynthesizedEstate, env: str):
    _, alb = _load_balancer(synthesized, env)
    props = alb["Properties"]
    assert props["Scheme"] == "internet-facing"
    assert props["Type"] == "application"
    subnets = [_network_output(s) for s in props["Subnets"]]
    assert len(subnets) == 2
    assert all("VpcPublicSubnet" in s for s in subnets)
    sg_id, _ = _one(synthesized, env, "AWS::EC2::SecurityGroup")
    assert props["SecurityGroups"] == [{"Fn::GetAtt": [sg_id, "GroupId"]}]


def test_alb_attributes_from_config(synthesized: SynthesizedEstate, env: str, cfg):
    _, alb = _load_balancer(synthesized, env)
    attributes = _attributes(alb)
    assert attributes["deletion_protection.enabled"] == str(cfg.edge.deletion_protection).lower()
    assert attributes["idle_timeout.timeout_seconds"] == str(cfg.edge.idle_timeout_seconds)
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": "AccessLogsBucket"}


def test_prod_is_protected() -> None:
    """Deletion protection and a retained log bucket in prod; the model defaults are safe too."""
    prod = ALL_CONFIGS["prod"].edge
    assert prod.deletion_protection and prod.access_logs.retain
    assert EdgeConfig().deletion_protection and EdgeConfig().access_logs.retain


def test_security_group_open_on_80_and_443_only(synthesized: SynthesizedEstate, env: str, cfg):
    _, group = _one(synthesized, env, "AWS::EC2::SecurityGroup")
    ingress = sorted(
        (r["CidrIp"], r["IpProtocol"], r["FromPort"], r["ToPort"])
        for r in group["Properties"]["SecurityGroupIngress"]
    )
    assert ingress == [("0.0.0.0/0", "tcp", 80, 80), ("0.0.0.0/0", "tcp", 443, 443)]
    egress = group["Properties"]["SecurityGroupEgress"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in egress] == [
        ("tcp", cfg.edge.pod_port, cfg.edge.pod_port)
    ]
    assert "WorkloadSecurityGroup" in _network_output(egress[0]["DestinationSecurityGroupId"])
    assert not _of_type(synthesized, env, "AWS::EC2::SecurityGroupEgress")


def test_workload_security_group_admits_alb_on_pod_port(synthesized: SynthesizedEstate, env, cfg):
    sg_id, _ = _one(synthesized, env, "AWS::EC2::SecurityGroup")
    _, rule = _one(synthesized, env, "AWS::EC2::SecurityGroupIngress")
    props = rule["Properties"]
    assert "WorkloadSecurityGroup" in _network_output(props["GroupId"])
    assert props["SourceSecurityGroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}
    assert (props["IpProtocol"], props["FromPort"], props["ToPort"]) == (
        "tcp",
        cfg.edge.pod_port,
        cfg.edge.pod_port,
    )
    assert cfg.edge.pod_port == 3000


def test_http_listener_only_redirects(synthesized: SynthesizedEstate, env: str):
    _, listener = _listener(synthesized, env, 80)
    assert listener["Properties"]["Protocol"] == "HTTP"
    assert listener["Properties"]["DefaultActions"] == [
        {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
        }
    ]


def test_https_listener_tls13_certificate_default_backend(synthesized, env: str, cfg):
    listener_id, listener = _listener(synthesized, env, 443)
    props = listener["Properties"]
    assert props["Protocol"] == "HTTPS"
    assert props["SslPolicy"] == cfg.edge.tls_policy
    assert props["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-")
    [certificate] = props["Certificates"]
    ref = certificate["CertificateArn"]["Fn::GetStackOutput"]
    assert ref["StackName"] == f"twenty-{env}-dns"
    assert "Certificate" in ref["OutputName"]
    groups = _target_group_ids(synthesized, env)
    assert props["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": groups["backend"]}}
    ]
    assert listener_id


def _expected_target_group(tg: TargetGroupConfig) -> dict[str, Any]:
    check = tg.health_check
    return {
        "TargetType": "ip",
        "Protocol": "HTTP",
        "Port": tg.port,
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": "HTTP",
        "HealthCheckPath": check.path,
        "HealthCheckPort": str(check.port),
        "HealthCheckIntervalSeconds": check.interval_seconds,
        "HealthCheckTimeoutSeconds": check.timeout_seconds,
        "HealthyThresholdCount": check.healthy_threshold,
        "UnhealthyThresholdCount": check.unhealthy_threshold,
        "Matcher": {"HttpCode": check.healthy_http_codes},
    }


def test_ip_target_groups_from_config(synthesized: SynthesizedEstate, env: str, cfg):
    groups = _of_type(synthesized, env, "AWS::ElasticLoadBalancingV2::TargetGroup")
    ids = _target_group_ids(synthesized, env)
    for tier, tg in (("frontend", cfg.edge.frontend), ("backend", cfg.edge.backend)):
        props = groups[ids[tier]]["Properties"]
        expected = _expected_target_group(tg)
        assert {k: props.get(k) for k in expected} == expected, tier
        delay = _attributes(groups[ids[tier]], "TargetGroupAttributes")
        assert delay["deregistration_delay.timeout_seconds"] == str(tg.deregistration_delay_seconds)
        assert "RefVpc" in _network_output(props["VpcId"])
    assert (cfg.edge.frontend.port, cfg.edge.backend.port) == (3001, 3000)


def test_static_ui_paths_go_to_frontend_and_the_rest_to_backend(
    synthesized: SynthesizedEstate, env: str, cfg
):
    https_id, https = _listener(synthesized, env, 443)
    groups = _target_group_ids(synthesized, env)
    assert https["Properties"]["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": groups["backend"]}}
    ]
    rules = sorted(
        (r["Properties"] for r in _of_type(
            synthesized, env, "AWS::ElasticLoadBalancingV2::ListenerRule"
        ).values()),
        key=lambda p: p["Priority"],
    )  # fmt: skip
    paths = cfg.edge.frontend_paths
    chunks = [paths[i : i + PATHS_PER_RULE] for i in range(0, len(paths), PATHS_PER_RULE)]
    assert len(rules) == len(chunks)
    for props, chunk in zip(rules, chunks, strict=True):
        assert props["ListenerArn"] == {"Ref": https_id}
        assert props["Actions"] == [
            {"Type": "forward", "TargetGroupArn": {"Ref": groups["frontend"]}}
        ]
        assert props["Conditions"] == [
            {"Field": "path-pattern", "PathPatternConfig": {"Values": chunk}}
        ]
    assert paths == ["/assets/*"]


def test_access_log_bucket(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    buckets = _of_type(synthesized, env, "AWS::S3::Bucket")
    assert list(buckets) == ["AccessLogsBucket"], "the bucket's logical id is pinned"
    bucket = buckets["AccessLogsBucket"]
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == cfg.edge.access_logs.expiration_days
    policy = "Retain" if cfg.edge.access_logs.retain else "Delete"
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == (policy, policy)


def test_access_log_bucket_policy(synthesized: SynthesizedEstate, env: str, cfg):
    _, policy = _one(synthesized, env, "AWS::S3::BucketPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [
            {"Fn::GetAtt": ["AccessLogsBucket", "Arn"]},
            {"Fn::Join": ["", [{"Fn::GetAtt": ["AccessLogsBucket", "Arn"]}, "/*"]]},
        ],
    } in statements
    elb_account = ELB_LOG_ACCOUNTS[cfg.region]
    writes = [
        s
        for s in statements
        if s["Principal"] == {"AWS": f"arn:aws:iam::{elb_account}:root"}
        and s["Action"] == "s3:PutObject"
    ]
    assert len(writes) == 1
    assert writes[0]["Resource"] == {
        "Fn::Join": [
            "",
            [{"Fn::GetAtt": ["AccessLogsBucket", "Arn"]}, f"/alb/AWSLogs/{cfg.account}/*"],
        ]
    }
    alb_id, alb = _load_balancer(synthesized, env)
    policy_id, _ = _one(synthesized, env, "AWS::S3::BucketPolicy")
    assert policy_id in alb["DependsOn"], "the ALB is created after ELB may write its logs"
    assert alb_id


def _web_acl(synthesized, env) -> tuple[str, dict[str, Any]]:
    return _one(synthesized, env, "AWS::WAFv2::WebACL")


def test_web_acl_rules(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    _, acl = _web_acl(synthesized, env)
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"] == {"Allow": {}}
    rules = {r["Name"]: r for r in props["Rules"]}
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]: r
        for r in props["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert set(managed) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    for rule in managed.values():
        assert rule["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
        assert rule["OverrideAction"] == {"None": {}}
    overrides = managed["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert [(o["Name"], o["ActionToUse"]) for o in overrides.get("RuleActionOverrides", [])] == [
        (name, {"Count": {}}) for name in cfg.edge.waf.common_rules_count_only
    ]
    rate = rules["RateLimitPerIp"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": cfg.edge.waf.rate_limit,
        "EvaluationWindowSec": cfg.edge.waf.rate_limit_window_seconds,
    }
    assert len(rules) == 4
    assert len({r["Priority"] for r in props["Rules"]}) == 4, "priorities are unique"


def test_web_acl_metrics_and_sampling_on(synthesized: SynthesizedEstate, env: str):
    _, acl = _web_acl(synthesized, env)
    props = acl["Properties"]
    configs = [props["VisibilityConfig"], *(r["VisibilityConfig"] for r in props["Rules"])]
    for config in configs:
        assert config["CloudWatchMetricsEnabled"] is True
        assert config["SampledRequestsEnabled"] is True
    assert len({c["MetricName"] for c in configs}) == len(configs)


def test_web_acl_associated_with_alb(synthesized: SynthesizedEstate, env: str):
    acl_id, _ = _web_acl(synthesized, env)
    alb_id, _ = _load_balancer(synthesized, env)
    _, association = _one(synthesized, env, "AWS::WAFv2::WebACLAssociation")
    assert association["Properties"] == {
        "ResourceArn": {"Ref": alb_id},
        "WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]},
    }


def test_alias_a_record_only(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    """The VPC is IPv4 only, so the ALB is IPv4 and there is no AAAA record."""
    alb_id, alb = _load_balancer(synthesized, env)
    assert alb["Properties"]["IpAddressType"] == "ipv4"
    _, record = _one(synthesized, env, "AWS::Route53::RecordSet")
    props = record["Properties"]
    assert props["Type"] == "A"
    assert props["Name"] == f"{cfg.domain_name}."
    assert props["AliasTarget"]["HostedZoneId"] == {"Fn::GetAtt": [alb_id, "CanonicalHostedZoneID"]}
    assert {"Fn::GetAtt": [alb_id, "DNSName"]} in props["AliasTarget"]["DNSName"]["Fn::Join"][1]
    zone = props["HostedZoneId"]["Fn::GetStackOutput"]
    assert zone["StackName"] == f"twenty-{env}-dns"
    assert "HostedZone" in zone["OutputName"]


def test_outputs_for_the_workload(synthesized: SynthesizedEstate, env: str):
    outputs = synthesized.template_json(f"twenty-{env}-edge")["Outputs"]
    groups = _target_group_ids(synthesized, env)
    assert outputs["FrontendTargetGroupArn"]["Value"] == {"Ref": groups["frontend"]}
    assert outputs["BackendTargetGroupArn"]["Value"] == {"Ref": groups["backend"]}
    for name in ("LoadBalancerDnsName", "AlbSecurityGroupId", "WebAclArn"):
        assert name in outputs


def test_every_resource_tagged(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    template = synthesized.template_json(f"twenty-{env}-edge")
    kinds = (
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::EC2::SecurityGroup",
        "AWS::S3::Bucket",
        "AWS::WAFv2::WebACL",
    )
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in kinds:
            continue
        tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
        for key, value in cfg.tags.items():
            assert tags.get(key) == value, f"{logical_id} lacks tag {key}={value}"


def test_estate_attributes(synthesized: SynthesizedEstate, env: str) -> None:
    estate = synthesized.estates[env]
    edge = estate.edge
    assert isinstance(edge.frontend_target_group, elbv2.ApplicationTargetGroup)
    assert isinstance(edge.backend_target_group, elbv2.ApplicationTargetGroup)
    assert isinstance(edge.load_balancer, elbv2.ApplicationLoadBalancer)
    assert edge.alb_security_group.security_group_id
    assert estate.dns.zone.zone_name == estate.config.domain_name


def test_nag_acknowledgements_are_narrow(synthesized: SynthesizedEstate, env: str) -> None:
    """Only the open ALB group (EC23) and the log bucket's own access logs (S1) are waived."""
    edge = synthesized.estates[env].edge
    assert sorted((a.rule_id, a.path) for a in edge.acknowledgements) == [
        ("AwsSolutions-EC23", edge.alb_security_group.node.path),
        ("AwsSolutions-S1", edge.access_logs.bucket.node.path),
    ]
    dns = synthesized.estates[env].dns
    # The dns stack waives only rotation of the SMTP secret (a command rotates it, README).
    assert [(a.rule_id, a.path) for a in dns.acknowledgements] == [
        ("AwsSolutions-SMG4", dns.mail.smtp_secret.node.path)
    ]
