"""The environment at a glance in the CloudWatch console: one dashboard `twenty-<env>`.

Rows follow the golden signals: the service level users feel (latency, errors, traffic,
burn-rate alarms), then saturation of the cluster, the database host and the cache, then the
edge (WAF). Grafana shows the same signals from Prometheus (monitoring/dashboards/).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.constructs.addons.cloudwatch_observability import METRICS_NAMESPACE
from infra.constructs.service_level_alarms import ServiceLevelAlarms


class EstateDashboard(Construct):
    """`self.dashboard`, named after the environment."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        service_level: ServiceLevelAlarms,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_groups: dict[str, cloudwatch.IMetric],
        cluster_name: str,
        alarms: dict[str, cloudwatch.Alarm],
        waf_blocked: cloudwatch.IMetric,
        database_cpu: cloudwatch.IMetric,
        redis_cpu: list[cloudwatch.IMetric],
        period: Duration,
    ) -> None:
        super().__init__(scope, id)
        requests = cloudwatch.Metric(
            namespace="AWS/ApplicationELB",
            metric_name="RequestCount",
            dimensions_map={"LoadBalancer": load_balancer.load_balancer_full_name},
            statistic="Sum",
            period=period,
        )

        def node(metric_name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=metric_name,
                dimensions_map={"ClusterName": cluster_name},
                statistic="Maximum",
                period=period,
            )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Resource",
            dashboard_name=name,
            default_interval=Duration.hours(6),
            widgets=[
                [
                    cloudwatch.TextWidget(
                        markdown=f"# {name}\nService level: {service_level.summary}. Pod "
                        "logs: Logs Insights on "
                        f"`/aws/containerinsights/{cluster_name}/application`.",
                        width=24,
                        height=2,
                    )
                ],
                [
                    cloudwatch.GraphWidget(
                        title="p95 response time (s)",
                        left=[service_level.latency_p95],
                        left_annotations=[
                            cloudwatch.HorizontalAnnotation(
                                value=service_level.latency_objective_seconds,
                                label="objective",
                            )
                        ],
                        width=8,
                    ),
                    cloudwatch.GraphWidget(
                        title="5xx share of requests", left=[service_level.error_ratio], width=8
                    ),
                    cloudwatch.GraphWidget(title="Requests", left=[requests], width=8),
                ],
                [
                    cloudwatch.AlarmStatusWidget(
                        title="Service-level and burn-rate alarms",
                        alarms=[
                            *service_level.alarms.values(),
                            *service_level.burn_alarms.values(),
                        ],
                        width=24,
                        height=3,
                    )
                ],
                [
                    cloudwatch.GraphWidget(
                        title="Target 5xx per tier", left=list(target_groups.values()), width=8
                    ),
                    cloudwatch.GraphWidget(
                        title="Busiest node CPU / memory (%)",
                        left=[node("node_cpu_utilization"), node("node_memory_utilization")],
                        width=8,
                    ),
                    cloudwatch.GraphWidget(
                        title="Database host CPU / cache engine CPU (%)",
                        left=[database_cpu, *redis_cpu],
                        width=8,
                    ),
                ],
                [
                    cloudwatch.GraphWidget(
                        title="WAF blocked requests", left=[waf_blocked], width=8
                    ),
                    cloudwatch.AlarmStatusWidget(
                        title="All alarms",
                        alarms=[a for k, a in alarms.items() if not k.startswith("Slo")],
                        width=16,
                        height=6,
                    ),
                ],
            ],
        )
