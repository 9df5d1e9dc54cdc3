"""The monthly estimate: price arithmetic on small fixture templates with round prices, the
committed price file, and the real estate (every resource priced or deliberately free)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.cost.assumptions import ASSUMPTIONS, HOURS_PER_MONTH
from infra.cost.estimate import estimate_environment, estimate_stack, render
from infra.cost.prices import RATES, PriceBook, PriceFileError, load_prices
from infra.cost.rules import FREE, RULES, free_reason
from infra.synth import summary
from tests.conftest import ALL_CONFIGS, ENVIRONMENTS, SynthesizedEstate

REGION = "sa-east-1"
H = HOURS_PER_MONTH


def _book(tmp_path: Path, **changes: Any) -> PriceBook:
    """A price file of round numbers, written and read back through the loader."""
    data: dict[str, Any] = {
        "region": REGION,
        "currency": "USD",
        "as_of": "2026-01-01",
        "source": "test fixture",
        "instances": {"t3.medium": 0.1, "t3.large": 0.2},
        "cache_nodes": {"valkey": {"cache.t4g.micro": 0.02}},
        "rates": {key: 1.0 for key in RATES},
    }
    data["rates"].update(
        {"ebs.gp3.gib_month": 0.1, "ebs.gp3.iops_month": 0.01, "ebs.gp3.mibps_month": 0.05}
    )
    data.update(changes)
    (tmp_path / f"{REGION}.json").write_text(json.dumps(data))
    return load_prices(REGION, tmp_path)


def _template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": resources}


NODE_GROUP = {
    "Type": "AWS::EKS::Nodegroup",
    "Properties": {
        "InstanceTypes": ["t3.medium"],
        "ScalingConfig": {"MinSize": 2, "DesiredSize": 2, "MaxSize": 6},
        "LaunchTemplate": {"Id": {"Ref": "Launch"}},
    },
}
LAUNCH = {
    "Type": "AWS::EC2::LaunchTemplate",
    "Properties": {
        "LaunchTemplateData": {
            "BlockDeviceMappings": [{"Ebs": {"VolumeSize": 30, "VolumeType": "gp3"}}]
        }
    },
}


def test_node_group_at_desired_and_at_max(tmp_path: Path) -> None:
    cost = estimate_stack("s", _template(Nodes=NODE_GROUP, Launch=LAUNCH), _book(tmp_path))
    each = 0.1 * H + 30 * 0.1
    assert cost.desired == pytest.approx(2 * each)
    assert cost.at_max == pytest.approx(6 * each)
    assert cost.free == 1  # the launch template is priced with the node group
    assert cost.unpriced == []


def test_gp3_volume_pays_only_above_the_included_iops_and_throughput(tmp_path: Path) -> None:
    base = {"Type": "AWS::EC2::Volume", "Properties": {"Size": 100, "VolumeType": "gp3"}}
    fast = {
        "Type": "AWS::EC2::Volume",
        "Properties": {"Size": 100, "VolumeType": "gp3", "Iops": 4000, "Throughput": 250},
    }
    book = _book(tmp_path)
    assert estimate_stack("s", _template(V=base), book).desired == pytest.approx(10.0)
    assert estimate_stack("s", _template(V=fast), book).desired == pytest.approx(
        10.0 + 1000 * 0.01 + 125 * 0.05
    )


def test_database_host_with_root_volume(tmp_path: Path) -> None:
    host = {
        "Type": "AWS::EC2::Instance",
        "Properties": {
            "InstanceType": "t3.large",
            "BlockDeviceMappings": [{"Ebs": {"VolumeSize": 20, "VolumeType": "gp3"}}],
        },
    }
    cost = estimate_stack("s", _template(Host=host), _book(tmp_path))
    assert cost.desired == pytest.approx(0.2 * H + 20 * 0.1)


def test_nat_gateway_hours_and_assumed_data(tmp_path: Path) -> None:
    rates = {key: 1.0 for key in RATES} | {
        "vpc.nat_gateway.hour": 0.05,
        "vpc.nat_gateway.gib": 0.04,
    }
    cost = estimate_stack(
        "s", _template(Nat={"Type": "AWS::EC2::NatGateway"}), _book(tmp_path, rates=rates)
    )
    assert cost.desired == pytest.approx(0.05 * H + ASSUMPTIONS.nat_data_gib * 0.04)
    assert any("assumed" in item.charge.what for item in cost.items)


def test_cache_nodes_and_backup_snapshots(tmp_path: Path) -> None:
    redis = {
        "Type": "AWS::ElastiCache::ReplicationGroup",
        "Properties": {
            "Engine": "valkey",
            "CacheNodeType": "cache.t4g.micro",
            "NumCacheClusters": 2,
        },
    }
    volume = {"Type": "AWS::EC2::Volume", "Properties": {"Size": 50, "VolumeType": "gp3"}}
    plan = {
        "Type": "AWS::Backup::BackupPlan",
        "Properties": {"BackupPlan": {"BackupPlanRule": [{"Lifecycle": {"DeleteAfterDays": 7}}]}},
    }
    book = _book(tmp_path)
    assert estimate_stack("s", _template(R=redis), book).desired == pytest.approx(2 * 0.02 * H)
    snapshots = estimate_stack("s", _template(V=volume, P=plan), book)
    stored = 50 * (1 + ASSUMPTIONS.backup_daily_change * 7)
    assert snapshots.desired == pytest.approx(50 * 0.1 + stored * 1.0)


def test_unknown_things_are_listed_not_zero(tmp_path: Path) -> None:
    rates = {key: 1.0 for key in RATES if key != "kms.key.month"}
    template = _template(
        Odd={"Type": "AWS::Example::Thing"},
        Big={"Type": "AWS::EC2::Instance", "Properties": {"InstanceType": "x9.huge"}},
        Key={"Type": "AWS::KMS::Key"},
        Acl={
            "Type": "AWS::WAFv2::WebACL",
            "Properties": {
                "Rules": [
                    {
                        "Statement": {
                            "ManagedRuleGroupStatement": {
                                "Name": "AWSManagedRulesBotControlRuleSet"
                            }
                        }
                    }
                ]
            },
        },
        Hook={"Type": "Custom::Anything"},
    )
    cost = estimate_stack("s", template, _book(tmp_path, rates=rates))
    reasons = {u.logical_id: u.reason for u in cost.unpriced}
    assert set(reasons) == {"Odd", "Big", "Key", "Acl"}
    assert "no pricing rule" in reasons["Odd"]
    assert "x9.huge" in reasons["Big"]
    assert "kms.key.month" in reasons["Key"]
    assert "BotControl" in reasons["Acl"]
    assert cost.items == [] and cost.free == 1
    text = render([estimate_environment("dev", {"s": template}, _book(tmp_path, rates=rates))])
    assert "not priced: s/Odd (AWS::Example::Thing): no pricing rule" in text


def test_price_file_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match="make prices"):
        load_prices("eu-west-1", tmp_path)
    with pytest.raises(PriceFileError, match="unknown rate"):
        _book(tmp_path, rates={"ec2.made_up": 1})
    with pytest.raises(PriceFileError, match="non-negative"):
        _book(tmp_path, instances={"t3.medium": -1})
    with pytest.raises(PriceFileError, match="states us-east-1/USD, not sa-east-1"):
        _book(tmp_path, region="us-east-1")


def test_committed_price_files_state_region_date_source_and_cover_the_configs() -> None:
    for region in sorted({cfg.region for cfg in ALL_CONFIGS.values()}):
        book = load_prices(region)
        assert book.region == region and book.as_of and region in book.source
        assert set(book.rates) == set(RATES), "every rate priced"
        assert all(value > 0 for value in book.rates.values())
        for cfg in ALL_CONFIGS.values():
            assert cfg.database.instance_type in book.instances
            assert cfg.redis.node_type in book.cache_nodes[cfg.redis.engine]


def test_obvious_types_have_rules_even_before_the_estate_uses_them() -> None:
    for kind in ("AWS::APS::Workspace", "AWS::Grafana::Workspace", "AWS::SES::EmailIdentity"):
        assert kind in RULES
    assert not set(RULES) & set(FREE), "a type is priced or free, not both"


def _estate(synthesized: SynthesizedEstate, env: str) -> dict[str, dict[str, Any]]:
    return {
        s.stack_name: synthesized.template_json(s.stack_name)
        for s in synthesized.estates[env].stacks
    }


def test_every_resource_of_the_estate_is_priced_or_deliberately_free(
    synthesized: SynthesizedEstate, env: str
) -> None:
    templates = _estate(synthesized, env)
    cost = estimate_environment(env, templates, load_prices(ALL_CONFIGS[env].region))
    assert [u.describe() for u in cost.unpriced] == []
    types = {r["Type"] for t in templates.values() for r in t["Resources"].values()}
    priced = {i.resource_type for s in cost.stacks for i in s.items}
    assert all(t in priced or free_reason(t) for t in types)
    assert cost.at_max > cost.desired > 0


def test_prod_costs_more_than_dev(synthesized: SynthesizedEstate) -> None:
    if not {"dev", "prod"} <= set(ENVIRONMENTS):
        pytest.skip("needs dev and prod (TWENTY_TEST_ENVS narrows the run)")
    totals = {
        env: estimate_environment(
            env, _estate(synthesized, env), load_prices(ALL_CONFIGS[env].region)
        ).desired
        for env in ("dev", "prod")
    }
    assert totals["prod"] > totals["dev"]


def test_synth_summary_has_a_cost_column(synthesized: SynthesizedEstate) -> None:
    estates = list(synthesized.estates.values())
    text = summary(estates, synthesized.template_json)
    for estate in estates:
        for stack in estate.stacks:
            line = next(row for row in text.splitlines() if f" {stack.stack_name} " in row)
            assert line.rstrip().endswith("USD/month")
    assert text.count("USD/month at desired") == len(estates)
    assert "not priced" not in text


def _assembly(directory: Path, templates: dict[str, dict[str, Any]]) -> Path:
    """A cloud assembly written now: newer than every synth input, so the CLI reuses it."""
    directory.mkdir()
    artifacts = {}
    for name, template in templates.items():
        (directory / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://111111111111/{REGION}",
            "properties": {"templateFile": f"{name}.template.json", "stackName": name},
        }
    (directory / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return directory


def test_cost_and_diagram_commands_reuse_a_current_assembly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra.cli import main

    outdir = _assembly(
        tmp_path / "cdk.out",
        {
            "twenty-dev-cluster": _template(Nodes=NODE_GROUP, Launch=LAUNCH),
            "twenty-dev-odd": _template(Odd={"Type": "AWS::Example::Thing"}),
        },
    )
    assert main(["cost", "--env", "dev", "--outdir", str(outdir)]) == 0
    out, err = capsys.readouterr()
    assert "using" in err and "synthesizing" not in err
    assert "twenty-dev-cluster" in out and "total USD/month" in out
    assert "not priced: twenty-dev-odd/Odd (AWS::Example::Thing)" in out
    assert main(["cost", "--env", "dev", "--outdir", str(outdir), "--strict"]) == 1
    docs = tmp_path / "estate"
    assert main(["diagram", "--env", "dev", "--outdir", str(outdir), "--docs-dir", str(docs)]) == 0
    assert "t3.medium x2" in (docs / "dev.md").read_text()


def test_cost_command_bad_input_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from infra.cli import main

    assert main(["cost", "--env", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
