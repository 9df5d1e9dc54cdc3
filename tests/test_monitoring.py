"""The monitoring stack: alarm topic, every alarm with its configured threshold, backup events."""

from __future__ import annotations

import base64
import json
from typing import Any

from infra import prometheus
from infra.config import EnvironmentConfig
from infra.database_host import DATA_MOUNT_POINT
from tests.conftest import SynthesizedEstate


def _resources(synthesized: SynthesizedEstate, env: str, kind: str) -> dict[str, dict[str, Any]]:
    resources = synthesized.template_json(f"twenty-{env}-monitoring")["Resources"]
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def _topic_ref(synthesized: SynthesizedEstate, env: str) -> dict[str, str]:
    (topic_id,) = _resources(synthesized, env, "AWS::SNS::Topic")
    return {"Ref": topic_id}


def _alarms(synthesized: SynthesizedEstate, env: str) -> dict[str, dict[str, Any]]:
    """Alarm properties by alarm name (twenty-<env>-<what>)."""
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in _resources(synthesized, env, "AWS::CloudWatch::Alarm").values()
    }


def _expected_alarms(cfg: EnvironmentConfig) -> dict[str, tuple[str, int]]:
    """Alarm name -> (metric name, threshold) the config asks for."""
    m = cfg.monitoring
    expected = {
        "alb5xx": ("HTTPCode_ELB_5XX_Count", m.alb_5xx_count),
        "database-cpu": ("CPUUtilization", m.database_cpu_percent),
        "database-status-check": ("StatusCheckFailed", 1),
        "database-disk": ("used_percent", m.database_disk_used_percent),
    }
    for tier in ("frontend", "backend"):
        expected[f"{tier}-target5xx"] = ("HTTPCode_Target_5XX_Count", m.target_5xx_count)
        expected[f"{tier}-unhealthy-hosts"] = ("UnHealthyHostCount", m.unhealthy_hosts)
    for n in range(1, cfg.redis.nodes + 1):
        expected[f"redis-engine-cpu{n}"] = ("EngineCPUUtilization", m.redis_engine_cpu_percent)
        expected[f"redis-memory{n}"] = ("DatabaseMemoryUsagePercentage", m.redis_memory_percent)
    return {f"twenty-{cfg.name}-{name}": value for name, value in expected.items()}


def test_every_alarm_has_config_threshold_and_notifies_the_topic(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
):
    alarms = _alarms(synthesized, env)
    expected = _expected_alarms(cfg)
    assert set(expected) <= set(alarms)
    topic = _topic_ref(synthesized, env)
    for name, alarm in alarms.items():
        # the burn-rate window alarms notify through their composite alarm
        if "-slo-burn" not in name:
            assert alarm["AlarmActions"] == [topic] == alarm["OKActions"], name
    for name, (metric, threshold) in expected.items():
        alarm = alarms[name]
        assert alarm["Threshold"] == threshold, name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name
        assert alarm["EvaluationPeriods"] == cfg.monitoring.evaluation_periods, name
        assert alarm["AlarmActions"] == [topic], name
        assert alarm["OKActions"] == [topic], name
        if "MetricName" in alarm:
            assert alarm["MetricName"] == metric, name
            assert alarm["Period"] == cfg.monitoring.period_seconds, name
        else:
            (query,) = alarm["Metrics"]
            assert query["Period"] == cfg.monitoring.period_seconds, name
            assert metric in str(query["Expression"]), name


def test_database_disk_alarm_queries_the_agent_metric_of_the_host(
    synthesized: SynthesizedEstate, env: str
):
    """Same namespace and path the CloudWatch agent on the host publishes."""
    (query,) = _alarms(synthesized, env)[f"twenty-{env}-database-disk"]["Metrics"]
    prefix, instance_id, suffix = query["Expression"]["Fn::Join"][1]
    assert prefix == (
        f'SELECT MAX(used_percent) FROM "Twenty/{env}/Database" WHERE InstanceId = \''
    )
    assert suffix == f"' AND path = '{DATA_MOUNT_POINT}'"
    assert f"twenty-{env}-database" in str(instance_id)
    assert query["ReturnData"] is True


def test_alarms_watch_this_environments_resources(synthesized: SynthesizedEstate, env: str):
    alarms = _alarms(synthesized, env)
    cpu = alarms[f"twenty-{env}-database-cpu"]
    assert cpu["Namespace"] == "AWS/EC2"
    assert [d["Name"] for d in cpu["Dimensions"]] == ["InstanceId"]
    assert f"twenty-{env}-database" in str(cpu["Dimensions"])
    for tier in ("frontend", "backend"):
        dims = {
            d["Name"]: d["Value"] for d in alarms[f"twenty-{env}-{tier}-target5xx"]["Dimensions"]
        }
        assert set(dims) == {"LoadBalancer", "TargetGroup"}
        assert f"twenty-{env}-edge" in str(dims)
    redis = alarms[f"twenty-{env}-redis-memory1"]
    assert redis["Namespace"] == "AWS/ElastiCache"
    (dimension,) = redis["Dimensions"]
    assert dimension["Name"] == "CacheClusterId"
    assert dimension["Value"]["Fn::Join"][1][1] == "001"
    assert f"twenty-{env}-data" in str(dimension["Value"])


def test_topic_encrypted_with_rotated_retained_key(synthesized: SynthesizedEstate, env: str):
    (topic,) = _resources(synthesized, env, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["AlarmTopicKey", "Arn"]}
    key = _resources(synthesized, env, "AWS::KMS::Key")["AlarmTopicKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    services = [
        s["Principal"].get("Service")
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if isinstance(s["Principal"], dict)
    ]
    assert "cloudwatch.amazonaws.com" in services
    # EventBridge publishes through its own role (identity policy), not the key policy.
    assert "events.amazonaws.com" not in services
    role = next(
        r for k, r in _resources(synthesized, env, "AWS::IAM::Role").items()
        if k.startswith("BackupFailuresPublishRole")
    )  # fmt: skip
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]


def test_topic_refuses_publishing_without_tls(synthesized: SynthesizedEstate, env: str):
    (policy,) = _resources(synthesized, env, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": _topic_ref(synthesized, env),
            "Sid": "AllowPublishThroughSSLOnly",
        }
    ]
    cloudwatch = next(s for s in statements if s.get("Sid") == "CloudWatchAlarms")
    assert cloudwatch["Condition"]["StringEquals"] == {
        "aws:SourceAccount": synthesized.estates[env].config.account
    }
    assert f":alarm:twenty-{env}-*" in str(cloudwatch["Condition"]["ArnLike"])


def test_subscriptions_equal_config(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
):
    subscriptions = _resources(synthesized, env, "AWS::SNS::Subscription").values()
    topic = _topic_ref(synthesized, env)
    assert all(s["Properties"]["TopicArn"] == topic for s in subscriptions)
    assert all(s["Properties"]["Protocol"] == "email" for s in subscriptions)
    assert sorted(s["Properties"]["Endpoint"] for s in subscriptions) == sorted(
        cfg.monitoring.alarm_emails
    )


def test_backup_failures_of_this_vault_notify_the_topic(synthesized: SynthesizedEstate, env: str):
    (rule,) = _resources(synthesized, env, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.backup"]
    assert pattern["detail-type"] == ["Backup Job State Change"]
    assert pattern["detail"]["state"] == ["FAILED", "ABORTED"]
    (vault,) = pattern["detail"]["backupVaultName"]
    assert "DatabaseBackupVault" in str(vault)
    assert f"twenty-{env}-database" in str(vault)
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [_topic_ref(synthesized, env)]


def test_reads_only_the_stacks_it_alarms_on(synthesized: SynthesizedEstate, env: str):
    # The construct tree's dependencies: asking the assembly's artifacts for theirs would make
    # jsii hand later tests untyped CloudArtifact proxies of the same stacks.
    deps = {d.stack_name for d in synthesized.estates[env].monitoring.dependencies}
    # network: the scraper's subnets; all of these are in waves 1 and 2
    assert deps == {
        f"twenty-{env}-network",
        f"twenty-{env}-dns",
        f"twenty-{env}-edge",
        f"twenty-{env}-cluster",
        f"twenty-{env}-database",
        f"twenty-{env}-data",
    }


def _resources(synthesized: SynthesizedEstate, env: str, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = synthesized.template(env, "monitoring").find_resources(kind)
    return found


def test_service_level_alarms_follow_seed_002(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
) -> None:
    slo = cfg.monitoring.service_level
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in _resources(synthesized, env, "AWS::CloudWatch::Alarm").values()
    }
    latency = alarms[f"twenty-{env}-slo-latency-p95"]
    assert latency["ExtendedStatistic"] == "p95"
    assert latency["MetricName"] == "TargetResponseTime"
    assert latency["Threshold"] == slo.p95_latency_ms / 1000
    ratio = alarms[f"twenty-{env}-slo-error-ratio"]
    assert ratio["Threshold"] == slo.error_ratio_percent / 100
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in ratio["Metrics"] if "MetricStat" in m}
    assert names == {"RequestCount", "HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"}
    budget = (100 - slo.availability_percent) / 100
    for minutes, rate in ((60, slo.fast_burn_rate), (5, slo.fast_burn_rate),
                          (360, slo.slow_burn_rate), (30, slo.slow_burn_rate)):  # fmt: skip
        burn = alarms[f"twenty-{env}-slo-burn{minutes}m"]
        assert burn["Threshold"] == rate
        assert "AlarmActions" not in burn  # the composite notifies
        expression = next(m["Expression"] for m in burn["Metrics"] if m.get("ReturnData", True))
        assert repr(budget) in expression
        periods = {m["MetricStat"]["Period"] for m in burn["Metrics"] if "MetricStat" in m}
        assert periods == {minutes * 60}


def test_burn_rate_composites_pair_long_and_short_windows_and_notify(
    synthesized: SynthesizedEstate, env: str
) -> None:
    composites = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in _resources(synthesized, env, "AWS::CloudWatch::CompositeAlarm").values()
    }
    assert set(composites) == {f"twenty-{env}-slo-fast-burn", f"twenty-{env}-slo-slow-burn"}
    topic = _topic_ref(synthesized, env)
    for name, pair in (("fast", ("60m", "5m")), ("slow", ("360m", "30m"))):
        composite = composites[f"twenty-{env}-slo-{name}-burn"]
        rule = json.dumps(composite["AlarmRule"])
        assert " AND " in rule
        assert all(f"Burn{w}" in rule for w in pair), rule
        assert composite["AlarmActions"] == [topic] == composite["OKActions"]


def test_cluster_certificate_and_waf_alarms(synthesized: SynthesizedEstate, env: str) -> None:
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in _resources(synthesized, env, "AWS::CloudWatch::Alarm").values()
    }
    for name in ("node-cpu", "node-memory"):
        assert alarms[f"twenty-{env}-{name}"]["Namespace"] == "ContainerInsights"
        assert [d["Name"] for d in alarms[f"twenty-{env}-{name}"]["Dimensions"]] == ["ClusterName"]
    for deployment in ("frontend", "backend", "worker"):
        assert f"twenty-{env}-{deployment}-pod-restarts" in alarms
    cert = alarms[f"twenty-{env}-certificate-expiry"]
    assert cert["MetricName"] == "DaysToExpiry"
    assert cert["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    waf = alarms[f"twenty-{env}-waf-blocked-spike"]
    assert waf["Namespace"] == "AWS/WAFV2"
    assert {d["Name"]: d["Value"] for d in waf["Dimensions"]} == {
        "WebACL": f"twenty-{env}-edge",
        "Region": "sa-east-1",
        "Rule": "ALL",
    }


def test_prometheus_workspace_scraper_and_collector_access(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
) -> None:
    (workspace,) = _resources(synthesized, env, "AWS::APS::Workspace").values()
    props = workspace["Properties"]
    assert props["Alias"] == f"twenty-{env}"
    assert props["WorkspaceConfiguration"]["RetentionPeriodInDays"] == (
        cfg.monitoring.prometheus_retention_days
    )
    definition = json.dumps(props["AlertManagerDefinition"])
    assert "sns_configs" in definition and "AlarmTopic" in definition
    (scraper,) = _resources(synthesized, env, "AWS::APS::Scraper").values()
    source = scraper["Properties"]["Source"]["EksConfiguration"]
    assert len(source["SubnetIds"]) == 2
    assert len(source["SecurityGroupIds"]) == 1
    blob = scraper["Properties"]["ScrapeConfiguration"]["ConfigurationBlob"]
    assert base64.b64decode(blob) == prometheus.SCRAPE_CONFIG.read_bytes()
    (entry,) = _resources(synthesized, env, "AWS::EKS::AccessEntry").values()
    assert entry["Properties"]["Username"] == prometheus.COLLECTOR_USER
    rbac = json.dumps(_resources(synthesized, env, "Custom::AWSCDK-EKS-KubernetesResource"))
    assert prometheus.COLLECTOR_ROLE in rbac and prometheus.COLLECTOR_USER in rbac


def test_alert_manager_may_publish_to_the_topic(synthesized: SynthesizedEstate, env: str) -> None:
    (policy,) = _resources(synthesized, env, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    aps = [s for s in statements if s["Principal"] == {"Service": "aps.amazonaws.com"}]
    assert len(aps) == 1
    assert "aws:SourceArn" in aps[0]["Condition"]["ArnEquals"]


def test_dashboard_and_grafana_switch(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
) -> None:
    (dashboard,) = _resources(synthesized, env, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"twenty-{env}"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("TargetResponseTime", "node_cpu_utilization", "BlockedRequests"):
        assert metric in body
    grafana = _resources(synthesized, env, "AWS::Grafana::Workspace")
    assert bool(grafana) is cfg.monitoring.grafana.enabled


def test_replication_alarms_where_a_standby_runs(synthesized, env: str, cfg) -> None:
    """Issue 21: lag (seconds, bytes), no standby streaming, slot retention, archiving; from the
    metrics the hosts publish (tests/test_database_replication.py checks them on real servers)."""
    template = synthesized.template_json(f"twenty-{env}-monitoring")
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    names = {
        f"twenty-{env}-database-{suffix}": metric
        for suffix, metric in (
            ("replication-lag-seconds", "ReplicationLagSeconds"),
            ("replication-lag-bytes", "ReplicationLagBytes"),
            ("standby-not-streaming", "StreamingStandbys"),
            ("slot-retained-wal", "SlotRetainedBytes"),
            ("archive-failing", "ArchiveFailing"),
        )
    }
    if not cfg.database.standby.enabled:
        assert not set(names) & set(alarms)
        return
    for name, metric in names.items():
        props = alarms[name]
        assert props["MetricName"] == metric
        assert props["Namespace"] == f"Twenty/{env}/Database"
        assert props["AlarmActions"], name
    standby = cfg.database.standby
    assert alarms[f"twenty-{env}-database-replication-lag-bytes"]["Threshold"] == (
        standby.lag_alarm_bytes
    )
    not_streaming = alarms[f"twenty-{env}-database-standby-not-streaming"]
    assert not_streaming["ComparisonOperator"] == "LessThanThreshold"
    assert not_streaming["TreatMissingData"] == "breaching"
