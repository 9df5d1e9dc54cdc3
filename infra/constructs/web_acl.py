"""A regional WAFv2 web ACL for an ALB: AWS managed rule groups plus a per-IP rate limit.

Rule order is cheapest-and-most-decisive first: known-bad IPs, then the rate limit, then the
request inspections. Every rule emits CloudWatch metrics and sampled requests, so a false
positive can be found and its rule switched to count-only in config.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import WafConfig
from infra.constructs.encrypted_log_group import EncryptedLogGroup

# Request headers that carry credentials: WAF logs them as "REDACTED".
REDACTED_HEADERS = ("authorization", "cookie")


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _managed_rule(
    name: str, group: str, priority: int, count_only: list[str]
) -> wafv2.CfnWebACL.RuleProperty:
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
        )
        for rule in count_only
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_visibility(name),
    )


class LoadBalancerWebAcl(Construct):
    """`self.web_acl` (REGIONAL, default allow), associated with `load_balancer_arn`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        waf: WafConfig,
        load_balancer_arn: str,
        metric: str,
        log_group_name: str,
    ) -> None:
        super().__init__(scope, id)
        rate_limit = wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerIp",
            priority=1,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=waf.rate_limit,
                    evaluation_window_sec=waf.rate_limit_window_seconds,
                )
            ),
            visibility_config=_visibility("RateLimitPerIp"),
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=[
                _managed_rule("AwsIpReputation", "AWSManagedRulesAmazonIpReputationList", 0, []),
                rate_limit,
                _managed_rule(
                    "AwsCommonRules",
                    "AWSManagedRulesCommonRuleSet",
                    2,
                    waf.common_rules_count_only,
                ),
                _managed_rule("AwsKnownBadInputs", "AWSManagedRulesKnownBadInputsRuleSet", 3, []),
            ],
            visibility_config=_visibility(metric),
        )
        wafv2.CfnWebACLAssociation(
            self,
            "Association",
            resource_arn=load_balancer_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        self.logs = self._request_log(waf, log_group_name)

    def _request_log(self, waf: WafConfig, name: str) -> EncryptedLogGroup:
        """Every request WAF evaluated, to a KMS-encrypted log group whose name WAF requires
        to start with `aws-waf-logs-`; the credentials in `REDACTED_HEADERS` never reach it."""
        group = EncryptedLogGroup(
            self, "RequestLogs", retention=waf.log_retention_days, purpose="WAF request"
        )
        cfn_group = group.log_group.node.default_child
        assert isinstance(cfn_group, logs.CfnLogGroup)
        cfn_group.log_group_name = name
        # WAF wants the log group's ARN without CloudFormation's trailing `:*`.
        arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[arn],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
        )
        self.logging.add_resource_dependency(cfn_group)
        return group
