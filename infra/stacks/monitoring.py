"""`twenty-<env>-monitoring`: alarms, Prometheus, dashboards; all page one topic (MON-100)."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_backup as backup
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.config import DatabaseStandbyConfig, MonitoringConfig, Site
from infra.constructs.addons.cloudwatch_observability import METRICS_NAMESPACE
from infra.constructs.alarm_topic import AlarmTopic
from infra.constructs.backup_failure_rule import BackupFailureRule
from infra.constructs.estate_dashboard import EstateDashboard
from infra.constructs.managed_grafana import ManagedGrafana
from infra.constructs.managed_prometheus import ManagedPrometheus
from infra.constructs.service_level_alarms import ServiceLevelAlarms
from infra.database_host import DATA_MOUNT_POINT, metrics_namespace
from infra.naming import alarm_prefix
from infra.stacks.base import EstateStack

_AT_OR_ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_AT_OR_BELOW = cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD
# Deployments whose restarts are alarmed (Container Insights names a pod by its workload).
DEPLOYMENTS = ("frontend", "backend", "worker")


class MonitoringStack(EstateStack):
    """Alarms, the AMP workspace and scraper, the dashboard and (optionally) Grafana.

    It reads the dns, edge, cluster, database and data stacks' resources only (all of waves 1
    and 2), so it deploys with the crm stack in the last wave. Every alarm notifies `topic` when
    it fires and when it clears; so do the Prometheus alerts, through the alert manager.
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
        database_standby: DatabaseStandbyConfig,
        backup_vault: backup.IBackupVault,
        redis_node_ids: list[str],
        cluster: eks.ICluster,
        cluster_name: str,
        cluster_arn: str,
        cluster_security_group_id: str,
        private_subnet_ids: list[str],
        certificate: acm.ICertificate,
        web_acl_metric_name: str,
    ) -> None:
        super().__init__(
            scope,
            site=site,
            part="monitoring",
            description="Twenty CRM: alarms, SLOs, Prometheus workspace and scraper, dashboards",
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

        if database_standby.enabled:
            self._replication_alarms(database_standby)

        self.service_level = ServiceLevelAlarms(
            self,
            "ServiceLevel",
            load_balancer=load_balancer,
            config=monitoring.service_level,
            period=self._period,
            evaluation_periods=monitoring.evaluation_periods,
            alarm_name=self._alarm_name,
            notify=self._notify,
        )
        self.alarms.update(self.service_level.alarms)
        self._cluster_alarms(cluster_name, f"twenty-{self._env}")
        self._alarm(
            "CertificateExpiry",
            cloudwatch.Metric(
                namespace="AWS/CertificateManager",
                metric_name="DaysToExpiry",
                dimensions_map={"CertificateArn": certificate.certificate_arn},
                statistic="Minimum",
                period=Duration.days(1),
            ),
            monitoring.certificate_days_to_expiry,
            "The certificate expires soon: ACM's automatic renewal is stuck (check the "
            "validation CNAME records in the hosted zone)",
            comparison=_AT_OR_BELOW,
            evaluation_periods=1,
        )
        # WAF's metrics carry the web ACL's visibility metric name as the WebACL dimension.
        self.waf_blocked = cloudwatch.Metric(
            namespace="AWS/WAFV2",
            metric_name="BlockedRequests",
            dimensions_map={"WebACL": web_acl_metric_name, "Region": self.region, "Rule": "ALL"},
            statistic="Sum",
            period=self._period,
        )
        self._alarm(
            "WafBlockedSpike",
            self.waf_blocked,
            monitoring.waf_blocked_requests,
            "The web ACL blocks an unusual number of requests (attack, scanner or a rule "
            "blocking real users: check the sampled requests)",
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        backup_failures = BackupFailureRule(
            self, "BackupFailures", vault=backup_vault, topic=self.topic
        )
        self.backup_failures = backup_failures.rule
        self.backup_failures_role = backup_failures.role
        self.prometheus = ManagedPrometheus(
            self,
            "Prometheus",
            environment=self._env,
            cluster=cluster,
            cluster_name=cluster_name,
            cluster_arn=cluster_arn,
            cluster_security_group_id=cluster_security_group_id,
            subnet_ids=private_subnet_ids,
            alarm_topic=self.alarm_topic,
            retention_days=monitoring.prometheus_retention_days,
        )
        self.grafana = (
            ManagedGrafana(
                self,
                "Grafana",
                environment=self._env,
                authentication=monitoring.grafana.authentication,
                prometheus_workspace_arn=self.prometheus.workspace.attr_arn,
            )
            if monitoring.grafana.enabled
            else None
        )
        self.dashboard = EstateDashboard(
            self,
            "Dashboard",
            name=f"twenty-{self._env}",
            service_level=self.service_level,
            load_balancer=load_balancer,
            target_groups={
                tier: self._target_metric("HTTPCode_Target_5XX_Count", load_balancer, g, "Sum")
                for tier, g in target_groups.items()
            },
            cluster_name=cluster_name,
            alarms=self.alarms,
            waf_blocked=self.waf_blocked,
            database_cpu=self._ec2_metric("CPUUtilization", instance_id, "Average"),
            redis_cpu=[self._cache_metric("EngineCPUUtilization", n) for n in redis_node_ids],
            period=self._period,
        )
        CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn)
        CfnOutput(self, "PrometheusWorkspaceArn", value=self.prometheus.workspace.attr_arn)
        CfnOutput(
            self,
            "PrometheusQueryUrl",
            value=f"{self.prometheus.workspace.attr_prometheus_endpoint}api/v1/query",
        )
        CfnOutput(self, "DashboardName", value=f"twenty-{self._env}")
        if self.grafana is not None:
            CfnOutput(self, "GrafanaUrl", value=f"https://{self.grafana.workspace.attr_endpoint}")
        self._acknowledge_findings()

    def _cluster_alarms(self, cluster_name: str, namespace: str) -> None:
        """Node CPU/memory (busiest node) and restarts per Deployment, from Container Insights."""
        for id, metric_name, threshold, what in (
            ("NodeCpu", "node_cpu_utilization", self._cfg.node_cpu_percent, "CPU"),
            ("NodeMemory", "node_memory_utilization", self._cfg.node_memory_percent, "memory"),
        ):
            self._alarm(
                id,
                cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=metric_name,
                    dimensions_map={"ClusterName": cluster_name},
                    statistic="Maximum",
                    period=self._period,
                ),
                threshold,
                f"The busiest EKS node's {what} is saturated; the autoscaler adds nodes only "
                "for pending pods",
            )
        for deployment in DEPLOYMENTS:
            restarts = cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="pod_number_of_container_restarts",
                dimensions_map={
                    "ClusterName": cluster_name,
                    "Namespace": namespace,
                    "PodName": deployment,
                },
                statistic="Maximum",
                period=self._period,
            )
            self._alarm(
                f"{deployment.title()}PodRestarts",
                cloudwatch.MathExpression(
                    expression="DIFF(restarts)",
                    using_metrics={"restarts": restarts},
                    period=self._period,
                    label=f"{deployment} container restarts per window",
                ),
                self._cfg.pod_restarts,
                f"{deployment} containers restart (crash loop, OOM kill or failing liveness "
                "probe): see the pod's logs in Logs Insights",
                missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

    def _acknowledge_findings(self) -> None:
        self.acknowledge(
            self.backup_failures_role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "CDK's SnsTopic target grants the publishing role the topic key's data key "
            "actions; the resource is that one key, and the role can only be assumed by "
            "EventBridge for this account's rules",
        )
        if self.grafana is None:
            return
        self.acknowledge(
            self.grafana.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "Managed Grafana's CloudWatch data source lists and reads metrics and alarms of "
            "any namespace; these read calls take no resource ARN (Prometheus queries are "
            "limited to this environment's workspace)",
        )

    def _alarm_name(self, id: str) -> str:
        return alarm_prefix(self._env) + _kebab(id)

    def _notify(self, alarm: cloudwatch.IAlarm) -> None:
        assert isinstance(alarm, (cloudwatch.Alarm, cloudwatch.CompositeAlarm))
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.IMetric,
        threshold: int,
        description: str,
        *,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.MISSING,
        comparison: cloudwatch.ComparisonOperator = _AT_OR_ABOVE,
        evaluation_periods: int | None = None,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            id,
            alarm_name=self._alarm_name(id),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods or self._cfg.evaluation_periods,
            treat_missing_data=missing,
        )
        self._notify(alarm)
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

    # --- streaming standby (issue 21) -------------------------------------------------------
    def _replication_alarms(self, standby: DatabaseStandbyConfig) -> None:
        """From the metrics `twenty-db-replication publish` sends every minute from whichever
        host is the primary (no host dimension, so a failover moves nothing here)."""
        gib = 1024**3
        for id, name, threshold, description, missing, comparison in (
            (
                "DatabaseReplicationLagSeconds",
                "ReplicationLagSeconds",
                standby.lag_alarm_seconds,
                "The standby replays the primary's WAL this late: a failover would wait for it",
                cloudwatch.TreatMissingData.MISSING,
                _AT_OR_ABOVE,
            ),
            (
                "DatabaseReplicationLagBytes",
                "ReplicationLagBytes",
                standby.lag_alarm_bytes,
                "The standby is this far behind the primary: failover refuses above "
                "failover_max_lag_bytes",
                cloudwatch.TreatMissingData.MISSING,
                _AT_OR_ABOVE,
            ),
            (
                "DatabaseStandbyNotStreaming",
                "StreamingStandbys",
                1,
                "No standby streams from the primary (or the primary reports nothing): no "
                "failover target; rebuild it (docs/runbooks/database-failover.md)",
                cloudwatch.TreatMissingData.BREACHING,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            ),
            (
                "DatabaseSlotRetainedWal",
                "SlotRetainedBytes",
                standby.max_slot_wal_keep_size_gib * gib // 2,
                "The standby's replication slot holds half of max_slot_wal_keep_size: past it, "
                "the standby must be rebuilt",
                cloudwatch.TreatMissingData.MISSING,
                _AT_OR_ABOVE,
            ),
            (
                "DatabaseArchiveFailing",
                "ArchiveFailing",
                1,
                "WAL archiving to pgBackRest fails: the backups' RPO grows until it works",
                cloudwatch.TreatMissingData.MISSING,
                _AT_OR_ABOVE,
            ),
        ):
            self._alarm(
                id,
                cloudwatch.Metric(
                    namespace=metrics_namespace(self._env),
                    metric_name=name,
                    statistic="Maximum" if comparison is _AT_OR_ABOVE else "Minimum",
                    period=Duration.minutes(1),
                ),
                threshold,
                description,
                missing=missing,
                comparison=comparison,
                evaluation_periods=3,
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
