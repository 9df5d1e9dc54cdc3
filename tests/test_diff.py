"""The reviewers' diff and its guard, on small hand-built cloud assemblies (no estate synth).

Each scenario edits a copy of one fixture template the way a real change would and asserts the
verdict: what is reported, whether the guard stops it (exit 3) and whether ALLOW_DESTRUCTIVE
lets it through.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from infra.review.checkout import CheckoutError, check_synth_command
from infra.review.command import Outcome, compare, environment_report, outcome
from infra.review.guard import AllowListError, parse_allow_list
from infra.review.promotion import by_design, config_differences, normalize
from infra.review.replacement import Effect, changed_paths, property_effect
from infra.review.report import COLUMNS, COST_COLUMNS
from infra.review.stateful import STATEFUL_TYPES
from infra.review.templates import diff_templates
from tests.conftest import ALL_CONFIGS, ROOT

ENV = "dev"
DATA = f"twenty-{ENV}-data"
CLUSTER = f"twenty-{ENV}-cluster"
TAGS = [{"Key": "Owner", "Value": "platform"}]


def _base_stacks() -> dict[str, dict[str, Any]]:
    """A data stack (zone, database host, volume, bucket) and a cluster stack (node group)."""
    data = {
        "Resources": {
            "Zone": {
                "Type": "AWS::Route53::HostedZone",
                "Properties": {"Name": "crm.example.com."},
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
            },
            "DatabaseInstance": {
                "Type": "AWS::EC2::Instance",
                "Properties": {
                    "ImageId": "ami-0123456789abcdef0",
                    "InstanceType": "t3.large",
                    "Tags": TAGS,
                },
                "DeletionPolicy": "Retain",
            },
            "DataVolume": {
                "Type": "AWS::EC2::Volume",
                "Properties": {"AvailabilityZone": "sa-east-1a", "Size": 50, "Tags": TAGS},
                "DeletionPolicy": "Retain",
            },
            "FileBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"Tags": TAGS},
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
            },
            "ScratchBucket": {"Type": "AWS::S3::Bucket", "Properties": {"Tags": TAGS}},
        },
        "Outputs": {"ZoneId": {"Value": {"Ref": "Zone"}}},
    }
    cluster = {
        "Resources": {
            "FrontendNodes": {
                "Type": "AWS::EKS::Nodegroup",
                "Properties": {
                    "ClusterName": "twenty-dev",
                    "NodeRole": "arn:aws:iam::111111111111:role/nodes",
                    "Subnets": ["subnet-1", "subnet-2"],
                    "InstanceTypes": ["t3.medium"],
                    "ScalingConfig": {"MinSize": 2, "DesiredSize": 2, "MaxSize": 4},
                },
            }
        }
    }
    return {DATA: data, CLUSTER: cluster}


def _write_assembly(
    directory: Path, stacks: dict[str, dict[str, Any]], k8s: dict[str, str] | None = None
) -> Path:
    """A minimal cloud assembly: manifest.json naming one template file per stack."""
    directory.mkdir(parents=True)
    artifacts = {}
    for name, template in stacks.items():
        (directory / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{name}.template.json", "stackName": name},
        }
    (directory / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    for path, text in (k8s or {}).items():
        target = directory / "k8s" / ENV / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return directory


def _diff(
    tmp_path: Path,
    new: dict[str, dict[str, Any]],
    allow: str = "",
    old_k8s: dict[str, str] | None = None,
    new_k8s: dict[str, str] | None = None,
) -> Outcome:
    old_dir = _write_assembly(tmp_path / "old", _base_stacks(), old_k8s)
    new_dir = _write_assembly(tmp_path / "new", new, new_k8s)
    reports = compare([ENV], old_dir, new_dir, parse_allow_list([allow]))
    return outcome("fixture", reports)


def _changes(result: Outcome) -> dict[str, tuple[str, str]]:
    """{logical id: (kind, cause)} from the report's table rows."""
    rows = {}
    for line in result.report.splitlines():
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        is_row = line.startswith("|") and len(cells) == len(COLUMNS)
        if is_row and cells[0] not in (COLUMNS[0], "---"):
            rows[cells[1]] = (cells[0], cells[3])
    return rows


def test_unchanged_templates_report_nothing(tmp_path: Path) -> None:
    result = _diff(tmp_path, _base_stacks())
    assert _changes(result) == {}
    assert result.exit_code == 0


def test_tag_change_is_only_updates(tmp_path: Path) -> None:
    new = _base_stacks()
    for resource in new[DATA]["Resources"].values():
        if "Tags" in resource["Properties"]:
            resource["Properties"]["Tags"] = [{"Key": "Owner", "Value": "crm-team"}]
    result = _diff(tmp_path, new)
    changes = _changes(result)
    assert set(changes) == {"DatabaseInstance", "DataVolume", "FileBucket", "ScratchBucket"}
    assert {kind for kind, _ in changes.values()} == {"updated"}
    assert all(cause == "Tags" for _, cause in changes.values())
    assert result.exit_code == 0


def test_node_instance_type_replaces_node_group_without_guard(tmp_path: Path) -> None:
    new = _base_stacks()
    new[CLUSTER]["Resources"]["FrontendNodes"]["Properties"]["InstanceTypes"] = ["t3.large"]
    result = _diff(tmp_path, new)
    assert _changes(result) == {"FrontendNodes": ("replaced", "InstanceTypes")}
    assert result.blocked == []
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("logical_id", "prop", "value"),
    [
        ("Zone", "Name", "crm2.example.com."),
        ("DatabaseInstance", "ImageId", "ami-0fedcba9876543210"),
    ],
)
def test_stateful_replacement_is_blocked_then_allowed(
    tmp_path: Path, logical_id: str, prop: str, value: str
) -> None:
    new = _base_stacks()
    new[DATA]["Resources"][logical_id]["Properties"][prop] = value
    blocked = _diff(tmp_path / "blocked", new)
    assert _changes(blocked)[logical_id] == ("replaced", prop)
    assert [f.address for f in blocked.blocked] == [f"{ENV}/{DATA}/{logical_id}"]
    assert blocked.exit_code == 3
    allowed = _diff(tmp_path / "allowed", new, allow=f"{ENV}/{DATA}/{logical_id}")
    assert allowed.blocked == []
    assert allowed.exit_code == 0


def test_allowance_is_per_environment_and_resource(tmp_path: Path) -> None:
    new = _base_stacks()
    new[DATA]["Resources"]["DatabaseInstance"]["Properties"]["ImageId"] = "ami-0fedcba9876543210"
    new[DATA]["Resources"]["Zone"]["Properties"]["Name"] = "crm2.example.com."
    only_one = _diff(tmp_path / "one", new, allow=f"{ENV}/{DATA}/Zone")
    assert [f.change.logical_id for f in only_one.blocked] == ["DatabaseInstance"]
    other_env = _diff(tmp_path / "env", new, allow=f"prod/{DATA}/Zone,prod/{DATA}/DatabaseInstance")
    assert only_one.exit_code == other_env.exit_code == 3


def test_renamed_zone_logical_id_orphans_the_old_zone(tmp_path: Path) -> None:
    new = _base_stacks()
    new[DATA]["Resources"]["HostedZone"] = new[DATA]["Resources"].pop("Zone")
    new[DATA]["Outputs"]["ZoneId"]["Value"] = {"Ref": "HostedZone"}
    result = _diff(tmp_path, new)
    changes = _changes(result)
    assert changes["Zone"][0] == "orphaned"
    assert changes["HostedZone"][0] == "added"
    assert [f.change.logical_id for f in result.blocked] == ["Zone"]


def test_removed_bucket_is_orphaned_or_destroyed(tmp_path: Path) -> None:
    new = _base_stacks()
    del new[DATA]["Resources"]["FileBucket"]  # DeletionPolicy Retain
    del new[DATA]["Resources"]["ScratchBucket"]  # default: deleted with the stack resource
    result = _diff(tmp_path, new)
    changes = _changes(result)
    assert changes["FileBucket"][0] == "orphaned"
    assert changes["ScratchBucket"][0] == "destroyed"
    assert {f.change.logical_id for f in result.blocked} == {"FileBucket", "ScratchBucket"}
    assert result.exit_code == 3


def test_removed_stack_destroys_its_resources(tmp_path: Path) -> None:
    new = _base_stacks()
    del new[DATA]
    result = _diff(tmp_path, new)
    assert f"### {DATA} (removed)" in result.report
    assert {f.change.logical_id for f in result.blocked} == set(_base_stacks()[DATA]["Resources"])


def test_report_tables_are_well_formed_markdown(tmp_path: Path) -> None:
    new = _base_stacks()
    new[DATA]["Resources"]["DatabaseInstance"]["Properties"]["ImageId"] = "ami-0fedcba9876543210"
    new[DATA]["Resources"]["FileBucket"]["Properties"]["Tags"] = [{"Key": "a|b", "Value": "x"}]
    new[CLUSTER]["Resources"]["FrontendNodes"]["Properties"]["InstanceTypes"] = ["t3.large"]
    lines = _diff(tmp_path, new).report.splitlines()
    tables: list[list[str]] = []
    for previous, line in zip(["", *lines], lines, strict=False):
        if line.startswith("|"):
            if not previous.startswith("|"):
                assert previous == "", "a table needs a blank line before it"
                tables.append([])
            tables[-1].append(line)
    headers = [tuple(c.strip() for c in _cells(rows[0])) for rows in tables]
    assert headers.count(COLUMNS) == 2  # one per changed stack
    assert headers.count(COST_COLUMNS) == 1  # the stacks whose estimate moved
    for rows in tables:
        header, separator, *body = rows
        columns = _cells(header)
        assert len(columns) in (len(COLUMNS), len(COST_COLUMNS))
        assert all(re.fullmatch(r"\s*:?-{3,}:?\s*", c) for c in _cells(separator))
        assert len(_cells(separator)) == len(columns)
        assert body and all(len(_cells(row)) == len(columns) for row in body)


def _cells(row: str) -> list[str]:
    assert row.startswith("|") and row.endswith("|")
    return re.split(r"(?<!\\)\|", row[1:-1])


def test_summary_line_per_environment_at_the_top(tmp_path: Path) -> None:
    result = _diff(tmp_path, _base_stacks())
    lines = result.report.splitlines()
    assert lines[0].startswith("# ")
    assert lines[2].startswith(f"- **{ENV}**")
    assert set(result.per_environment) == {ENV}


def test_manifest_diff_and_absence(tmp_path: Path) -> None:
    none = _diff(tmp_path / "none", _base_stacks())
    assert "No rendered manifests" in none.report
    changed = _diff(
        tmp_path / "changed",
        _base_stacks(),
        old_k8s={"backend.yaml": "replicas: 2\n"},
        new_k8s={"backend.yaml": "replicas: 3\n", "worker.yaml": "kind: Deployment\n"},
    )
    assert "```diff" in changed.report
    assert "-replicas: 2" in changed.report and "+replicas: 3" in changed.report
    assert "+++ b/worker.yaml" in changed.report
    assert changed.exit_code == 0


def test_stateful_types_cover_the_estates_state() -> None:
    for kind in (
        "AWS::EC2::Instance",
        "AWS::EC2::Volume",
        "AWS::Route53::HostedZone",
        "AWS::CertificateManager::Certificate",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::SecretsManager::Secret",
        "AWS::EKS::Cluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::Backup::BackupVault",
    ):
        assert kind in STATEFUL_TYPES
    assert "AWS::EKS::Nodegroup" not in STATEFUL_TYPES


@pytest.mark.parametrize("entry", ["dev/twenty-dev-data", "dev//Zone", "a/b/c/d"])
def test_malformed_allowance_is_rejected(entry: str) -> None:
    with pytest.raises(AllowListError, match="expected <env>/<stack>/<logical id>"):
        parse_allow_list([entry])


def test_allowances_merge_environment_variable_and_flag() -> None:
    assert parse_allow_list(["dev/s/A, dev/s/B", None, "dev/s/A"]) == {"dev/s/A", "dev/s/B"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["diff", "--base", "no-such-ref-xyz", "--env", "dev"], "--base no-such-ref-xyz"),
        (["diff", "--base", "HEAD", "--env", "nosuchenv"], "--env nosuchenv"),
        (["diff", "--base", "HEAD", "--base-env", "qa"], "not allowed with"),
        (["diff", "--env", "prod", "--base-env", "nosuchenv"], "nosuchenv"),
        (["diff", "--allow-destructive", "dev/x"], "ALLOW_DESTRUCTIVE entry"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def _commit_files(repo: Path, files: dict[str, str]) -> None:
    """A one-commit git repository holding `files` (path: text)."""
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)


# A base of either layout: the single module infra/cli.py (before the split), or the package
# infra/cli/ whose estate.py defines synth (today's file, so a renamed marker fails here).
SYNTH_COMMAND = 'add_parser("synth")\nadd_argument("--outdir")\n'
SYNTH_LAYOUTS = {
    "module": {"infra/cli.py": SYNTH_COMMAND},
    "package": {
        "infra/cli/__init__.py": "",
        "infra/cli/estate.py": (ROOT / "infra" / "cli" / "estate.py").read_text(),
    },
}


@pytest.mark.parametrize("layout", sorted(SYNTH_LAYOUTS))
def test_base_with_synth_command_is_accepted(layout: str, tmp_path: Path) -> None:
    _commit_files(tmp_path, SYNTH_LAYOUTS[layout])
    check_synth_command(tmp_path, "HEAD", "base")


@pytest.mark.parametrize(
    "files",
    [
        {"infra/cli.py": 'commands = ("validate",)\n'},
        {"infra/cli.py": 'add_parser("synth")\n'},
        {"infra/cli/estate.py": 'add_parser("validate")\nadd_argument("--outdir")\n'},
        {"infra/__init__.py": ""},
    ],
    ids=["module-without-synth", "module-synth-without-outdir", "package-without-synth", "none"],
)
def test_base_without_synth_command_fails_clearly(files: dict[str, str], tmp_path: Path) -> None:
    _commit_files(tmp_path, files)
    with pytest.raises(CheckoutError, match="--base old: predates `python -m infra synth"):
        check_synth_command(tmp_path, "HEAD", "old")


def test_promotion_masks_by_design_values() -> None:
    reported, masked = config_differences(ALL_CONFIGS["qa"], ALL_CONFIGS["prod"])
    assert {"name", "account", "domain_name", "network.vpc_cidr", "tags.Environment"} <= set(masked)
    assert "database.instance_type" in masked and "network.nat_gateways" in masked
    baseline = {field for field, _, _ in reported}
    changed = ALL_CONFIGS["prod"].model_copy(update={"region": "us-east-1"})
    reported, _ = config_differences(ALL_CONFIGS["qa"], changed)
    assert [field for field, _, _ in reported if field not in baseline] == ["region"]
    assert by_design("cluster.node_groups.backend.min_size")
    assert not by_design("cluster.version")


def test_promotion_normalizes_identity_but_not_kind() -> None:
    identity = [(re.compile(r"(?<![A-Za-z0-9])qa(?![A-Za-z0-9])"), "<env>")]
    template = {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "Description": "flow logs of twenty-qa-network",
                    "EnableKeyRotation": True,
                    "Tags": [{"Key": "Environment", "Value": "qa"}],
                },
            },
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}},
        }
    }
    masked = normalize(copy.deepcopy(template), identity)
    key = masked["Resources"]["Key"]["Properties"]
    assert key["Description"] == "flow logs of twenty-<env>-network"
    assert key["EnableKeyRotation"] is True
    assert key["Tags"] == [{"Key": "Environment", "Value": "<by design>"}]
    assert masked["Resources"]["Vpc"]["Properties"]["CidrBlock"] == "<by design>"


def test_root_is_this_repository() -> None:
    assert (ROOT / "infra" / "review" / "template_diff.js").exists()


@pytest.mark.e2e
def test_end_to_end_tag_change_against_a_temporary_clone(tmp_path: Path) -> None:
    """The one real run: `python -m infra diff` in a clone, HEAD vs. an edited working tree."""
    clone = tmp_path / "clone"
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", head], check=True)
    (clone / "node_modules").symlink_to((ROOT / "node_modules").resolve())
    dev = clone / "config" / "dev.yaml"
    text = dev.read_text()
    assert "  Owner: " in text
    dev.write_text(re.sub(r"(?m)^  Owner: .*$", "  Owner: crm-reviewers", text))
    run = subprocess.run(
        [sys.executable, "-m", "infra", "diff", "--env", "dev", "--base", "HEAD"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    kinds = {kind for kind, _ in _changes_of(run.stdout).values()}
    assert kinds == {"updated"}
    assert (clone / "cdk.out" / "diff-dev.md").read_text() == run.stdout


def _changes_of(report: str) -> dict[str, tuple[str, str]]:
    return _changes(Outcome(report=report, per_environment={}, blocked=[]))


def test_cli_exits_3_when_blocked_and_0_when_allowed_by_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    new = _base_stacks()
    new[DATA]["Resources"]["Zone"]["Properties"]["Name"] = "crm2.example.com."
    runs = iter(["blocked", "allowed"])

    def fake(
        *, root: Path, env: str, base: str | None, allowed: frozenset[str], **_: object
    ) -> Outcome:
        return _diff(tmp_path / next(runs), new, allow=",".join(allowed))

    monkeypatch.setattr("infra.review.command.diff_against_ref", fake)
    reports = tmp_path / "reports"
    assert main(["diff", "--env", ENV, "--report-dir", str(reports)]) == 3
    out, err = capsys.readouterr()
    assert f"{ENV}/{DATA}/Zone" in err.splitlines()[-1]
    assert (reports / f"diff-{ENV}.md").read_text() == out
    monkeypatch.setenv("ALLOW_DESTRUCTIVE", f"{ENV}/{DATA}/Zone")
    assert main(["diff", "--env", ENV, "--report-dir", str(reports)]) == 0


def test_make_target_passes_variables_through() -> None:
    dry = subprocess.run(
        ["make", "-n", "diff", "ENV=prod", "BASE=main", "ALLOW_DESTRUCTIVE=prod/s/Zone"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"-m infra diff --env prod --base main +--allow-destructive prod/s/Zone", dry)
    promote = subprocess.run(
        ["make", "-n", "diff", "ENV=prod", "BASE_ENV=qa"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"-m infra diff --env prod +--base-env qa", promote)


@pytest.mark.parametrize(
    ("resource_type", "path", "effect"),
    [
        ("AWS::EC2::Instance", ("InstanceType",), Effect.INTERRUPT),
        ("AWS::EC2::Instance", ("UserData",), Effect.INTERRUPT),
        ("AWS::EC2::Instance", ("ImageId",), Effect.REPLACE),
        ("AWS::EC2::Instance", ("NetworkInterfaces", "0", "SubnetId"), Effect.REPLACE),
        ("AWS::EC2::Instance", ("BlockDeviceMappings", "0", "Ebs", "VolumeSize"), Effect.REPLACE),
        (
            "AWS::EC2::Instance",
            ("BlockDeviceMappings", "0", "Ebs", "DeleteOnTermination"),
            Effect.UPDATE,
        ),
        ("AWS::EC2::Instance", ("Monitoring",), Effect.UPDATE),
        ("AWS::EC2::Volume", ("AvailabilityZone",), Effect.REPLACE),
        ("AWS::EC2::Volume", ("Size",), Effect.UPDATE),
        ("AWS::EKS::Nodegroup", ("InstanceTypes",), Effect.REPLACE),
        ("AWS::EKS::Nodegroup", ("ScalingConfig", "MaxSize"), Effect.UPDATE),
        ("AWS::EKS::Cluster", ("KubernetesNetworkConfig", "IpFamily"), Effect.REPLACE),
        ("AWS::EKS::Cluster", ("KubernetesNetworkConfig", "ElasticLoadBalancing"), Effect.UPDATE),
        ("AWS::ElastiCache::ReplicationGroup", ("CacheNodeType",), Effect.UPDATE),
        ("AWS::ElastiCache::ReplicationGroup", ("AuthToken",), Effect.MAY_REPLACE),
        ("AWS::Route53::HostedZone", ("Name",), Effect.REPLACE),
    ],
)
def test_property_effects_come_from_the_schemas_and_known_context(
    resource_type: str, path: tuple[str, ...], effect: Effect
) -> None:
    judged = property_effect(resource_type, path)
    assert judged is not None and judged[0] == effect


def test_custom_resources_update_and_unknown_types_fall_back_to_the_engine() -> None:
    judged = property_effect("Custom::AWSCDK-EKS-KubernetesResource", ("Manifest",))
    assert judged is not None and judged[0] == Effect.UPDATE  # an Update event to the handler
    assert property_effect("AWS::Nowhere::Thing", ("Name",)) is None


def test_changed_paths_stop_at_intrinsic_functions() -> None:
    old = {"A": {"B": 1, "C": [{"Ref": "X"}, "y"]}}
    new = {"A": {"B": 2, "C": [{"Fn::GetAtt": ["Z", "Arn"]}, "y"]}}
    assert changed_paths(old, new, ()) == [("A", "B"), ("A", "C", "0")]


def _network(cidr: str, subnet_cidr: str) -> dict[str, Any]:
    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}},
            "Subnet1": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": subnet_cidr},
            },
        },
        "Outputs": {"PublishSubnet1": {"Value": {"Ref": "Subnet1"}}},
    }


def _consumer() -> dict[str, Any]:
    subnet = {
        "Fn::GetStackOutput": {
            "StackName": f"twenty-{ENV}-network",
            "Region": "sa-east-1",
            "OutputName": "PublishSubnet1",
        }
    }
    return {
        "Resources": {
            "Cluster": {
                "Type": "AWS::EKS::Cluster",
                "Properties": {
                    "RoleArn": "arn:aws:iam::111111111111:role/eks",
                    "ResourcesVpcConfig": {"SubnetIds": [subnet]},
                },
            },
            "Nodes": {
                "Type": "AWS::EKS::Nodegroup",
                "Properties": {"ClusterName": {"Ref": "Cluster"}, "Subnets": [subnet]},
            },
        }
    }


def _judged(new_network: dict[str, Any]) -> Outcome:
    network, cluster = f"twenty-{ENV}-network", f"twenty-{ENV}-cluster"
    pairs: dict[str, tuple[Any, Any]] = {
        network: (_network("10.0.0.0/16", "10.0.1.0/24"), new_network),
        cluster: (_consumer(), _consumer()),
    }
    report = environment_report(ENV, pairs, diff_templates(pairs), frozenset())
    return outcome("fixture", [report])


def test_weak_reference_chain_replaces_consumers_of_a_moved_vpc() -> None:
    result = _judged(_network("10.9.0.0/16", "10.9.1.0/24"))
    changes = _changes(result)
    assert changes["Cluster"][0] == "replaced"  # subnets from another VPC: a new cluster
    assert changes["Nodes"][0] == "replaced"  # Subnets is create-only
    assert f"### twenty-{ENV}-cluster (changed through references)" in result.report
    assert (
        f"- twenty-{ENV}-network/Subnet1 replaced → twenty-{ENV}-cluster/Cluster (SubnetIds) "
        "replaced" in result.report.splitlines()
    )
    assert [f.change.logical_id for f in result.blocked] == ["Cluster"]
    assert result.exit_code == 3


def test_new_subnet_in_the_same_vpc_updates_the_cluster_in_place() -> None:
    result = _judged(_network("10.0.0.0/16", "10.0.9.0/24"))
    changes = _changes(result)
    assert changes["Subnet1"][0] == "replaced"
    assert changes["Cluster"] == (
        "updated",
        f"ResourcesVpcConfig.SubnetIds ← twenty-{ENV}-network/Subnet1 replaced",
    )
    assert changes["Nodes"][0] == "replaced"
    assert result.exit_code == 0


def test_node_group_desired_size_shows_its_cost_change(tmp_path: Path) -> None:
    from infra.cost.assumptions import HOURS_PER_MONTH
    from infra.cost.estimate import signed
    from infra.cost.prices import load_prices

    new = _base_stacks()
    new[CLUSTER]["Resources"]["FrontendNodes"]["Properties"]["ScalingConfig"]["DesiredSize"] = 4
    result = _diff(tmp_path, new)
    book = load_prices(ALL_CONFIGS[ENV].region)
    # two more t3.medium, each with EKS's default 20 GiB gp3 root volume
    delta = 2 * (
        book.instances["t3.medium"] * HOURS_PER_MONTH + 20 * book.rates["ebs.gp3.gib_month"]
    )
    summary = result.report.splitlines()[2]
    assert f"cost change: {signed(delta)} USD/month at desired" in summary
    assert "±0.00 at max" in summary  # the max size did not move
    row = next(line for line in result.report.splitlines() if line.startswith(f"| {CLUSTER} "))
    assert signed(delta) in row
    assert "docs/estate/dev.md" in result.report  # the diagram is linked, and redrawn:
    assert "```mermaid" in result.report and "t3.medium x4" in result.report


def test_unchanged_estate_links_its_diagram_without_redrawing(tmp_path: Path) -> None:
    result = _diff(tmp_path, _base_stacks())
    assert "### Estate diagram ([docs/estate/dev.md](docs/estate/dev.md))" in result.report
    assert "```mermaid" not in result.report
    assert "cost change: ±0.00 USD/month at desired" in result.report


def test_new_node_group_redraws_the_estate_diagram(tmp_path: Path) -> None:
    new = _base_stacks()
    new[CLUSTER]["Resources"]["FrontendNodes"]["Properties"]["InstanceTypes"] = ["t3.large"]
    result = _diff(tmp_path, new)
    assert "```mermaid" in result.report
    assert "t3.large x2" in result.report
