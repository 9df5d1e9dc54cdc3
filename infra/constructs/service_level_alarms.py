"""Seed 002's service level as CloudWatch alarms on the load balancer.

- p95 of TargetResponseTime above `p95_latency_ms`;
- 5xx share above `error_ratio_percent`, by metric math over the request counts;
- the availability error budget (100 % - objective) spent too fast: multi-window burn-rate
  alarms (Google SRE workbook, "Alerting on SLOs"): a fast burn pages when both the 1 h and the
  5 min windows burn above `fast_burn_rate`, a slow burn when both the 6 h and the 30 min
  windows burn above `slow_burn_rate`. The short window makes the alarm clear soon after the
  burn stops. Each pair is two metric alarms without actions joined by a composite alarm,
  which is what notifies.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.config import ServiceLevelConfig

# (name, long window, short window) of each burn-rate pair; the rate comes from config.
BURN_WINDOWS = {
    "Fast": (Duration.hours(1), Duration.minutes(5)),
    "Slow": (Duration.hours(6), Duration.minutes(30)),
}


def _alb_metric(
    load_balancer: elbv2.ApplicationLoadBalancer, name: str, statistic: str, period: Duration
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/ApplicationELB",
        metric_name=name,
        dimensions_map={"LoadBalancer": load_balancer.load_balancer_full_name},
        statistic=statistic,
        period=period,
    )


def error_ratio(
    load_balancer: elbv2.ApplicationLoadBalancer, period: Duration
) -> cloudwatch.MathExpression:
    """5xx / requests in `period`, as a fraction (0-1).

    RequestCount counts only requests the ALB routed to a target; the ALB's own 5xx (no healthy
    target) are added to the denominator so that an outage reads 100 %, not a division by zero.
    No traffic reads 0.
    """
    return cloudwatch.MathExpression(
        expression="IF((req + elb) > 0, (FILL(elb, 0) + FILL(target, 0)) / (req + elb), 0)",
        using_metrics={
            "req": _alb_metric(load_balancer, "RequestCount", "Sum", period),
            "elb": _alb_metric(load_balancer, "HTTPCode_ELB_5XX_Count", "Sum", period),
            "target": _alb_metric(load_balancer, "HTTPCode_Target_5XX_Count", "Sum", period),
        },
        period=period,
        label="5xx share of requests",
    )


class ServiceLevelAlarms(Construct):
    """`self.alarms` (metric alarms that notify) and `self.burn_alarms` (composites)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        load_balancer: elbv2.ApplicationLoadBalancer,
        config: ServiceLevelConfig,
        period: Duration,
        evaluation_periods: int,
        alarm_name: Callable[[str], str],
        notify: Callable[[cloudwatch.IAlarm], None],
    ) -> None:
        super().__init__(scope, id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.burn_alarms: dict[str, cloudwatch.CompositeAlarm] = {}
        self.latency_objective_seconds = config.p95_latency_ms / 1000
        self.summary = (
            f"p95 < {config.p95_latency_ms} ms, errors < {config.error_ratio_percent} %, "
            f"availability {config.availability_percent} %"
        )
        self.latency_p95 = _alb_metric(load_balancer, "TargetResponseTime", "p95", period)
        self.error_ratio = error_ratio(load_balancer, period)
        self.alarms["SloLatencyP95"] = cloudwatch.Alarm(
            self,
            "LatencyP95",
            alarm_name=alarm_name("SloLatencyP95"),
            alarm_description=f"p95 target response time above {config.p95_latency_ms} ms "
            "(seed 002: p95 < 500 ms)",
            metric=self.latency_p95,
            threshold=self.latency_objective_seconds,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms["SloErrorRatio"] = cloudwatch.Alarm(
            self,
            "ErrorRatio",
            alarm_name=alarm_name("SloErrorRatio"),
            alarm_description=f"5xx above {config.error_ratio_percent} % of requests "
            "(seed 002: errors < 0.1 %)",
            metric=self.error_ratio,
            threshold=config.error_ratio_percent / 100,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in self.alarms.values():
            notify(alarm)
        budget = (100 - config.availability_percent) / 100
        rates = {"Fast": config.fast_burn_rate, "Slow": config.slow_burn_rate}
        for speed, windows in BURN_WINDOWS.items():
            rate = rates[speed]
            members = []
            for window in windows:
                minutes = int(window.to_minutes())
                member_id = f"SloBurn{minutes}m"
                members.append(
                    cloudwatch.Alarm(
                        self,
                        f"Burn{minutes}m",
                        alarm_name=alarm_name(member_id),
                        alarm_description=f"Error budget of {config.availability_percent} % "
                        f"burning faster than {rate}x over {minutes} min (no action: part of "
                        f"the {speed.lower()}-burn composite alarm)",
                        metric=cloudwatch.MathExpression(
                            expression=f"ratio / {budget!r}",
                            using_metrics={"ratio": error_ratio(load_balancer, window)},
                            period=window,
                            label=f"burn rate over {minutes} min",
                        ),
                        threshold=rate,
                        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                        evaluation_periods=1,
                        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    )
                )
            composite = cloudwatch.CompositeAlarm(
                self,
                f"{speed}Burn",
                composite_alarm_name=alarm_name(f"Slo{speed}Burn"),
                alarm_description=f"{speed} burn of the {config.availability_percent} % "
                f"availability budget: both windows above {rate}x",
                alarm_rule=cloudwatch.AlarmRule.all_of(*members),
            )
            notify(composite)
            self.burn_alarms[f"Slo{speed}Burn"] = composite
