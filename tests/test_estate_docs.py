"""docs/estate/<env>.md: current with the synthesized estate, and drawn from it."""

from __future__ import annotations

from typing import Any

from infra.diagram import page_path, render_page
from tests.conftest import CONFIGS, SynthesizedEstate


def _stacks(synthesized: SynthesizedEstate, env: str) -> dict[str, dict[str, Any]]:
    return {
        s.stack_name: synthesized.template_json(s.stack_name)
        for s in synthesized.estates[env].stacks
    }


def test_estate_page_is_current(synthesized: SynthesizedEstate, env: str) -> None:
    path = page_path(env)
    assert path.exists(), f"{path} missing; run `python -m infra diagram`"
    assert path.read_text() == render_page(env, _stacks(synthesized, env)), (
        f"{path} is stale; run `python -m infra diagram --env {env}` and commit it"
    )


def test_page_shows_what_the_config_asks_for(synthesized: SynthesizedEstate, env: str) -> None:
    cfg = CONFIGS[env]
    page = render_page(env, _stacks(synthesized, env))
    expected = [
        cfg.domain_name,
        str(cfg.network.vpc_cidr),
        *[str(c) for c in (*cfg.network.public_subnets, *cfg.network.private_subnets)],
        *cfg.availability_zones,
        f"EC2 {cfg.database.instance_type}",
        f"GP3 {cfg.database.data_volume_size_gib} GiB",
        f"{cfg.redis.node_type} x{cfg.redis.nodes}",
    ]
    for tier in type(cfg.cluster.node_groups).model_fields:
        group = getattr(cfg.cluster.node_groups, tier)
        expected.append(
            f"{tier.capitalize()} nodes<br/>{', '.join(group.instance_types)} x{group.desired_size}"
        )
        expected.append(f"Min: {group.min_size}, Max: {group.max_size}")
    missing = [item for item in expected if item not in page]
    assert missing == []
    assert page.count('"NAT gateway"') == cfg.network.nat_gateways
