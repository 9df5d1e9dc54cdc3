"""Changing tags or thresholds in config must never replace the zone, certificate, ALB or bucket.

The estate is rebuilt from a modified config in a fresh App (constructed, not synthesized) and
every logical id is compared with the session's synthesized templates.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, CfnResource, Stack, assertions

from infra.app import cdk_context
from infra.config import TLS_POLICIES, EnvironmentConfig
from infra.estate import build_estate
from infra.stacks.edge import TLS_POLICY_MEMBERS
from tests.conftest import SynthesizedEstate

STATEFUL = {
    "dns": ("HostedZone", "Certificate"),
    "edge": ("AccessLogsBucket",),
}


def _modified(cfg: EnvironmentConfig, change: dict[str, Any]) -> EnvironmentConfig:
    """`cfg` with `change` merged into its data, validated again."""

    def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        return {
            key: merge(base[key], value) if isinstance(value, dict) and key in base else value
            for key, value in {**base, **update}.items()
        }

    return EnvironmentConfig.model_validate(merge(cfg.model_dump(), change))


def _thresholds(cfg: EnvironmentConfig) -> dict[str, Any]:
    check = {
        "healthy_threshold": 7,
        "unhealthy_threshold": 9,
        "interval_seconds": 40,
        "timeout_seconds": 11,
        "healthy_http_codes": "200-299",
    }
    return {
        "edge": {
            "idle_timeout_seconds": cfg.edge.idle_timeout_seconds + 240,
            "frontend": {"deregistration_delay_seconds": 90, "health_check": check},
            "backend": {"deregistration_delay_seconds": 120, "health_check": check},
            "access_logs": {"expiration_days": 400},
            "waf": {"rate_limit": 750},
        }
    }


def _tags(cfg: EnvironmentConfig) -> dict[str, Any]:
    return {"tags": {**cfg.tags, "Owner": "another-team", "CostCenter": "elsewhere", "Extra": "x"}}


def _logical_ids(stack: Stack) -> set[str]:
    return {
        stack.resolve(c.logical_id) for c in stack.node.find_all() if isinstance(c, CfnResource)
    }


@pytest.mark.parametrize("change", [_tags, _thresholds], ids=["tags", "thresholds"])
def test_logical_ids_stable(synthesized: SynthesizedEstate, env: str, cfg, change) -> None:
    modified = _modified(cfg, change(cfg))
    assert modified != cfg
    estate = build_estate(App(context=cdk_context()), modified)
    for stack in (estate.dns, estate.edge):
        template = synthesized.template_json(stack.stack_name)
        assert _logical_ids(stack) == set(template["Resources"]), stack.stack_name
        for logical_id in STATEFUL[stack.part]:
            assert logical_id in template["Resources"]
    alb = estate.edge.load_balancer.node.default_child
    assert isinstance(alb, CfnResource)
    alb_id = estate.edge.resolve(alb.logical_id)
    assert synthesized.template_json(estate.edge.stack_name)["Resources"][alb_id]["Type"] == (
        "AWS::ElasticLoadBalancingV2::LoadBalancer"
    )


def test_non_default_edge_options(cfg: EnvironmentConfig) -> None:
    """Options the committed configs do not use: seven paths, a pinned health-check port, a
    post-quantum TLS policy. An ALB rule holds five path values, so seven paths become two rules.
    """
    paths = ["/assets/*", "/img/*", "/favicon.ico", "/manifest.json", "/fonts/*", "/a?", "/b"]
    change = {
        "edge": {
            "frontend_paths": paths,
            "tls_policy": "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
            "backend": {"health_check": {"port": 3100}},
        }
    }
    estate = build_estate(App(context=cdk_context()), _modified(cfg, change))
    template = assertions.Template.from_stack(estate.edge)
    rules = template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule")
    by_priority = sorted((r["Properties"] for r in rules.values()), key=lambda p: p["Priority"])
    values = [p["Conditions"][0]["PathPatternConfig"]["Values"] for p in by_priority]
    assert values == [paths[:5], paths[5:]]
    assert [p["Priority"] for p in by_priority] == [10, 20]
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 443, "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09"},
    )
    [group] = template.find_resources("AWS::EC2::SecurityGroup").values()
    egress = [r["FromPort"] for r in group["Properties"]["SecurityGroupEgress"]]
    assert egress == [3000, 3100], "a pinned health-check port is opened next to the pod port"
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress").values()
    assert sorted(r["Properties"]["FromPort"] for r in ingress) == [3000, 3100]


def test_every_allowed_tls_policy_is_mapped() -> None:
    assert set(TLS_POLICY_MEMBERS) == set(TLS_POLICIES)
