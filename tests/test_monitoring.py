"""The monitoring stack: alarm topic, every alarm with its configured threshold, backup events."""

from __future__ import annotations

from typing import Any

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
    assert sorted(alarms) == sorted(expected)
    topic = _topic_ref(synthesized, env)
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
    assert "events.amazonaws.com" in services


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
    assert deps == {f"twenty-{env}-edge", f"twenty-{env}-database", f"twenty-{env}-data"}
