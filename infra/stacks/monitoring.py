"""`twenty-<env>-monitoring`: CloudWatch alarms and backup-failure events to one topic (MON-100)."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.config import MonitoringConfig, Site
from infra.constructs.alarm_topic import AlarmTopic
from infra.constructs.backup_failure_rule import BackupFailureRule
from infra.database_host import DATA_MOUNT_POINT, metrics_namespace
from infra.naming import alarm_prefix
from infra.stacks.base import EstateStack

_AT_OR_ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


class MonitoringStack(EstateStack):
    """Alarms on the ALB, its target groups, the database host and the cache nodes.

    It reads the edge, database and data stacks' resources only, so it deploys with the crm
    stack in the last wave. Every alarm notifies `topic` when it fires and when it clears.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        site: Site,
        monitoring: MonitoringConfig,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_groups: dict[str, elbv2.ApplicationTargetGroup],
        database_instance: ec2.Instance,
        backup_vault: backup.IBackupVault,
        redis_node_ids: list[str],
    ) -> None:
        super().__init__(
            scope,
            site=site,
            part="monitoring",
            description="Twenty CRM: CloudWatch alarms, alarm topic, backup failure events",
        )
        self._env = site.environment
        self._cfg = monitoring
        self._period = Duration.seconds(monitoring.period_seconds)
        self.alarm_topic = AlarmTopic(
            self,
            "AlarmTopic",
            name=f"twenty-{self._env}-alarms",
            emails=monitoring.alarm_emails,
            account=site.account,
            region=site.region,
            alarm_name_prefix=alarm_prefix(self._env),
        )
        self.topic = self.alarm_topic.topic
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        self._alarm(
            "Alb5xx",
            load_balancer.metrics.http_code_elb(
                elbv2.HttpCodeElb.ELB_5XX_COUNT, period=self._period, statistic="Sum"
            ),
            monitoring.alb_5xx_count,
            "The ALB itself returns 5xx (no healthy target, timeouts to the pods)",
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for tier, group in target_groups.items():
            title = tier.capitalize()
            self._alarm(
                f"{title}Target5xx",
                self._target_metric("HTTPCode_Target_5XX_Count", load_balancer, group, "Sum"),
                monitoring.target_5xx_count,
                f"The {tier} pods answer with 5xx",
                missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self._alarm(
                f"{title}UnhealthyHosts",
                self._target_metric("UnHealthyHostCount", load_balancer, group, "Maximum"),
                monitoring.unhealthy_hosts,
                f"{tier} pods fail the ALB health check",
                missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        instance_id = database_instance.instance_id
        self._alarm(
            "DatabaseCpu",
            self._ec2_metric("CPUUtilization", instance_id, "Average"),
            monitoring.database_cpu_percent,
            "The database host's CPU is saturated",
        )
        self._alarm(
            "DatabaseStatusCheck",
            self._ec2_metric("StatusCheckFailed", instance_id, "Maximum"),
            1,
            "The database host fails an EC2 instance or system status check",
        )
        self._alarm(
            "DatabaseDisk",
            self._data_volume_used_percent(instance_id),
            monitoring.database_disk_used_percent,
            f"The data volume ({DATA_MOUNT_POINT}) is filling up; grow it before PostgreSQL stops",
        )
        for n, node_id in enumerate(redis_node_ids, start=1):
            self._alarm(
                f"RedisEngineCpu{n}",
                self._cache_metric("EngineCPUUtilization", node_id),
                monitoring.redis_engine_cpu_percent,
                f"Cache node {n}: the Redis/Valkey main thread is saturated",
            )
            self._alarm(
                f"RedisMemory{n}",
                self._cache_metric("DatabaseMemoryUsagePercentage", node_id),
                monitoring.redis_memory_percent,
                f"Cache node {n} is filling up; with noeviction, writes fail when it is full",
            )

        self.backup_failures = BackupFailureRule(
            self, "BackupFailures", vault=backup_vault, topic=self.topic
        ).rule
        CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn)

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.IMetric,
        threshold: int,
        description: str,
        *,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.MISSING,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            id,
            alarm_name=alarm_prefix(self._env) + _kebab(id),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=_AT_OR_ABOVE,
            evaluation_periods=self._cfg.evaluation_periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[id] = alarm

    def _target_metric(
        self,
        name: str,
        load_balancer: elbv2.ApplicationLoadBalancer,
        group: elbv2.ApplicationTargetGroup,
        statistic: str,
    ) -> cloudwatch.Metric:
        """Dimensions from the two resources' full-name attributes.

        `group.metrics` would derive the load balancer's name by splitting the listener ARN
        exported by the edge stack, which cfn-lint cannot type-check across stacks.
        """
        return cloudwatch.Metric(
            namespace="AWS/ApplicationELB",
            metric_name=name,
            dimensions_map={
                "LoadBalancer": load_balancer.load_balancer_full_name,
                "TargetGroup": group.target_group_full_name,
            },
            statistic=statistic,
            period=self._period,
        )

    def _ec2_metric(self, name: str, instance_id: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/EC2",
            metric_name=name,
            dimensions_map={"InstanceId": instance_id},
            statistic=statistic,
            period=self._period,
        )

    def _cache_metric(self, name: str, node_id: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/ElastiCache",
            metric_name=name,
            dimensions_map={"CacheClusterId": node_id},
            statistic="Average",
            period=self._period,
        )

    def _data_volume_used_percent(self, instance_id: str) -> cloudwatch.MathExpression:
        """The agent's disk metric carries device and fstype dimensions known only on the host.

        A Metrics Insights query filters by the two dimensions known at synth (InstanceId and
        path) and ignores the rest, so the alarm needs no device name.
        """
        query = (
            f'SELECT MAX(used_percent) FROM "{metrics_namespace(self._env)}" '
            f"WHERE InstanceId = '{instance_id}' AND path = '{DATA_MOUNT_POINT}'"
        )
        return cloudwatch.MathExpression(
            expression=query, using_metrics={}, period=self._period, label="used_percent"
        )


def _kebab(id: str) -> str:
    """Alb5xx -> alb5xx, DatabaseCpu -> database-cpu."""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in id).lstrip("-")
