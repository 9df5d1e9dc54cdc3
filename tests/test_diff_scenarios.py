"""The diff guard on real config changes, in both directions (issue 12).

Each scenario mutates one environment's config, rebuilds only the stack parts it touches
(tests/diff_scenarios.py) and asserts the exit code and the rows the report names, with their
kind. The base is the session's synthesized estate; all scenarios share one diff-engine run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk import CfnDeletionPolicy

from infra.estate import STACK_PARTS, EstateParts
from infra.review.command import Outcome
from infra.review.report import COLUMNS
from tests import diff_scenarios
from tests.conftest import CONFIGS, ENVIRONMENTS, SynthesizedEstate
from tests.diff_scenarios import Scenario, set_path

ENV = "dev" if "dev" in ENVIRONMENTS else ENVIRONMENTS[0]
CFG = CONFIGS[ENV]
INTERRUPTED = "updated, with interruption (stop/start)"
HASH = "[0-9A-F]{8}"


def _stack(part: str) -> str:
    return f"twenty-{ENV}-{part}"


def _other_zone(data: dict[str, Any]) -> None:
    current = data["database"]["availability_zone"]
    data["database"]["availability_zone"] = next(
        z for z in data["availability_zones"] if z != current
    )


def _move_vpc(data: dict[str, Any]) -> None:
    network = data["network"]
    network["vpc_cidr"] = "10.250.0.0/16"
    network["public_subnets"] = ["10.250.1.0/24", "10.250.2.0/24"]
    network["private_subnets"] = ["10.250.3.0/24", "10.250.4.0/24"]


def _rename_domain(data: dict[str, Any]) -> None:
    data["domain_name"] = "crm." + data["domain_name"]
    data["dns"]["subject_alternative_names"] = ["*." + data["domain_name"]]


def _bigger(current: str) -> str:
    return next(t for t in ("t3.xlarge", "t3.2xlarge") if t != current)


def _rename_log_key(parts: EstateParts) -> None:
    """What renaming the construct of the (unpinned) PostgreSQL log key does to the template:
    the same resource under a new logical id, every reference following it."""
    key = parts.database.node.find_child("PostgresLogs").node.find_child("Key")
    key.node.default_child.override_logical_id("PostgresLogKeyRenamed")  # type: ignore[union-attr]


def _multi_region_storage_key(parts: EstateParts) -> None:
    """A code change making the database's storage key multi-Region: AWS rejects it (the KMS
    key's schema: "the update request fails"), so the guard must not call it an update."""
    key = parts.database.storage_key.node.default_child
    key.add_property_override("MultiRegion", True)  # type: ignore[union-attr]


def _data_volume_deletable(parts: EstateParts) -> None:
    """A code change dropping the data volume's Retain: the next stack deletion destroys it."""
    volume = parts.database.data_volume.node.default_child
    volume.cfn_options.deletion_policy = CfnDeletionPolicy.DELETE  # type: ignore[union-attr]
    volume.cfn_options.update_replace_policy = CfnDeletionPolicy.DELETE  # type: ignore[union-attr]


def _nothing(_: dict[str, Any]) -> None:
    pass


SCENARIOS = [
    # Not a change: the partial builds and their merged outputs equal the full estate.
    Scenario("unchanged", _nothing, ("cluster", "database", "data", "dns", "edge"), 0),
    Scenario(
        "db-instance-type",
        lambda d: set_path(d, "database.instance_type", _bigger(d["database"]["instance_type"])),
        ("database",),
        0,
        rows={("database", "DatabaseInstance"): INTERRUPTED},
    ),
    Scenario(
        "postgres-setting",
        lambda d: set_path(d, "database.tuning.work_mem", "96MB"),
        ("database",),
        0,
        rows={("database", "DatabaseInstance"): INTERRUPTED},
    ),
    Scenario(
        "vpc-move",
        _move_vpc,
        STACK_PARTS,
        3,
        rows={
            ("network", f"Vpc{HASH}"): "replaced",
            ("network", f"VpcPrivateSubnet1Subnet{HASH}"): "replaced",
            ("cluster", f"ControlPlaneCluster{HASH}"): "replaced",
            ("cluster", f"FrontendNodesNodegroup{HASH}"): "replaced",
            ("data", "RedisReplicationGroup"): "replaced",
            ("data", f"RedisSubnets{HASH}"): "replaced",
            ("edge", f"LoadBalancer{HASH}"): "replaced",
            ("database", "DatabaseInstance"): "replaced",
        },
        blocked=frozenset(
            {
                ("cluster", f"ControlPlaneCluster{HASH}"),
                # The cluster's OIDC provider follows the new cluster's issuer URL; IAM OIDC
                # providers are guarded (other roles may trust them).
                ("cluster", f"ControlPlaneClusterOidcProviderNative{HASH}"),
                ("data", "RedisReplicationGroup"),
                ("database", "DatabaseInstance"),
            }
        ),
        chains=(
            f"{_stack('network')}/VpcPrivateSubnet1Subnet{HASH} replaced → "
            f"{_stack('cluster')}/ControlPlaneCluster{HASH} \\(SubnetIds\\) replaced",
            f"{_stack('network')}/VpcPrivateSubnet1Subnet{HASH} replaced → "
            f"{_stack('data')}/RedisSubnets{HASH} \\(SubnetIds\\) replaced → "
            f"{_stack('data')}/RedisReplicationGroup \\(CacheSubnetGroupName\\) replaced",
            f"{_stack('network')}/VpcPublicSubnet1Subnet{HASH} replaced → "
            f"{_stack('edge')}/LoadBalancer{HASH} \\(Subnets\\) replaced",
        ),
    ),
    Scenario(
        "db-availability-zone",
        _other_zone,
        ("database",),
        3,
        rows={("database", "DatabaseInstance"): "replaced", ("database", "DataVolume"): "replaced"},
        blocked=frozenset({("database", "DatabaseInstance"), ("database", "DataVolume")}),
    ),
    Scenario(
        "node-group-instance-type",
        lambda d: set_path(d, "cluster.node_groups.frontend.instance_types", ["t3.xlarge"]),
        ("cluster",),
        0,
        rows={("cluster", f"FrontendNodesNodegroup{HASH}"): "replaced"},
    ),
    Scenario(
        "redis-node-type",
        lambda d: set_path(d, "redis.node_type", "cache.t4g.medium"),
        ("data",),
        0,
        rows={("data", "RedisReplicationGroup"): "updated"},
    ),
    Scenario(
        "data-volume-size",
        lambda d: set_path(
            d, "database.data_volume_size_gib", d["database"]["data_volume_size_gib"] * 2
        ),
        ("database",),
        0,
        rows={("database", "DataVolume"): "updated"},
    ),
    Scenario(
        "hosted-zone-rename",
        _rename_domain,
        ("dns", "edge"),
        3,
        rows={("dns", "HostedZone"): "replaced", ("dns", "Certificate"): "replaced"},
        blocked=frozenset({("dns", "HostedZone"), ("dns", "Certificate")}),
        chains=(
            f"{_stack('dns')}/HostedZone replaced → "
            f"{_stack('edge')}/AliasRecord{HASH} \\(HostedZoneId\\) replaced",
        ),
    ),
    Scenario(
        "stateful-construct-rename",
        _nothing,
        ("database",),
        3,
        rows={
            ("database", f"PostgresLogsKey{HASH}"): "orphaned",
            ("database", "PostgresLogKeyRenamed"): "added",
        },
        blocked=frozenset({("database", f"PostgresLogsKey{HASH}")}),
        after_build=_rename_log_key,
    ),
    Scenario(
        "kms-multi-region",
        _nothing,
        ("database",),
        3,
        rows={("database", "StorageKey"): "update will fail"},
        blocked=frozenset({("database", "StorageKey")}),
        after_build=_multi_region_storage_key,
    ),
    Scenario(
        "retain-policy-lost",
        _nothing,
        ("database",),
        3,
        rows={("database", "DataVolume"): "updated"},
        blocked=frozenset({("database", "DataVolume")}),
        after_build=_data_volume_deletable,
    ),
    Scenario(
        "tag-only",
        lambda d: set_path(d, "tags.Owner", "crm-reviewers"),
        STACK_PARTS,
        0,
    ),
]
# Scenarios whose rows are exactly the ones named (nothing else changes).
EXACT = {
    "unchanged",
    "kms-multi-region",
    "retain-policy-lost",
    "db-instance-type",
    "postgres-setting",
    "node-group-instance-type",
    "redis-node-type",
    "data-volume-size",
}


@pytest.fixture(scope="module")
def outcomes(
    synthesized: SynthesizedEstate, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    base = {
        name: synthesized.template_json(name)
        for name in synthesized.stack_names
        if name.startswith(f"twenty-{ENV}-")
    }
    return diff_scenarios.run(SCENARIOS, CFG, base, tmp_path_factory.mktemp("scenarios"))


def rows_of(report: str) -> dict[tuple[str, str], tuple[str, str]]:
    """{(part, logical id): (kind, stateful cell)} from the report's stack tables."""
    rows: dict[tuple[str, str], tuple[str, str]] = {}
    stack = ""
    for line in report.splitlines():
        heading = re.match(r"### (twenty-\w+-(\w+)) \(", line)
        if heading:
            stack = heading.group(2)
            continue
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        if (
            line.startswith("|")
            and len(cells) == len(COLUMNS)
            and cells[0]
            not in (
                COLUMNS[0],
                "---",
            )
        ):
            rows[(stack, cells[1])] = (cells[0], cells[4])
    return rows


def _match(pattern: tuple[str, str], rows: Mapping[tuple[str, str], Any]) -> tuple[str, str]:
    found = [key for key in rows if key[0] == pattern[0] and re.fullmatch(pattern[1], key[1])]
    assert len(found) == 1, f"{pattern}: expected one row, found {found}"
    return found[0]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario, outcomes: dict[str, Outcome]) -> None:
    result = outcomes[scenario.name]
    rows = rows_of(result.report)
    for pattern, kind in scenario.rows.items():
        assert rows[_match(pattern, rows)][0] == kind, (pattern, result.report)
    if scenario.name in EXACT:
        assert len(rows) == len(scenario.rows), result.report
    blocked = {(f.stack.split("-", 2)[2], f.change.logical_id) for f in result.blocked}
    assert {_match(p, dict.fromkeys(blocked)) for p in scenario.blocked} == blocked
    chains = [line[2:] for line in result.report.splitlines() if line.startswith("- twenty-")]
    for pattern in scenario.chains:
        assert any(re.fullmatch(pattern, chain) for chain in chains), (pattern, chains)
    assert result.exit_code == scenario.exit_code, result.report


def test_no_in_place_scenario_blocks_and_every_stateful_replacement_does(
    outcomes: dict[str, Outcome],
) -> None:
    """The issue's 'done when', over every scenario: an update or stop/start never exits 3
    unless it drops a retain policy; every stateful row that is replaced, destroyed or orphaned
    is blocked, and so is every update that will fail."""
    for name, result in outcomes.items():
        retain_lost = {f.change.logical_id for f in result.blocked if "retain policy" in f.reason}
        for (part, logical_id), (kind, stateful) in rows_of(result.report).items():
            losing = kind in ("replaced", "may be replaced", "destroyed", "orphaned")
            if kind == "update will fail":
                assert stateful == "BLOCKED", (name, part, logical_id)
            elif stateful in ("yes", "BLOCKED"):
                expected = losing or logical_id in retain_lost
                assert (stateful == "BLOCKED") == expected, (name, part, logical_id, kind)
        in_place = not retain_lost and all(
            kind in ("updated", INTERRUPTED, "added")
            for kind, stateful in rows_of(result.report).values()
            if stateful
        )
        assert (result.exit_code == 0) == in_place, name


def test_guard_blocks_a_failing_update_and_a_lost_retain_policy_with_one_line_each(
    outcomes: dict[str, Outcome],
) -> None:
    """Each finding is one line naming the resource, what happens and the source or the fix."""
    (failing,) = outcomes["kms-multi-region"].blocked
    line = failing.describe()
    assert "\n" not in line and not failing.allowed
    assert line.startswith(f"{ENV}/{_stack('database')}/StorageKey (AWS::KMS::Key update will fail")
    assert "MultiRegion" in line and "the update request fails" in line
    (lost,) = outcomes["retain-policy-lost"].blocked
    line = lost.describe()
    assert "\n" not in line
    assert "DeletionPolicy Retain -> Delete" in line and "UpdateReplacePolicy Retain" in line


def test_tag_only_change_touches_every_stack_in_place(outcomes: dict[str, Outcome]) -> None:
    result = outcomes["tag-only"]
    rows = rows_of(result.report)
    assert {part for part, _ in rows} == set(STACK_PARTS)
    assert {kind for kind, _ in rows.values()} == {"updated"}
