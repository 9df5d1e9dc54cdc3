"""verify: each post-deploy check passing and failing.

moto serves STS, CloudFormation stacks and outputs, ELBv2 target health, ACM, Route53, SSM's
SendCommand and CloudWatch alarms. Where moto lacks the API, botocore's Stubber answers with
responses shaped like the service's, and the test says so: CloudFormation drift detection,
AWS Backup recovery points, and the output of SSM Run Command (moto runs nothing). /healthz
is asked of a local HTTP server on 127.0.0.1; DNS lookups are injected fakes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import moto.settings
import pytest
from botocore.stub import ANY, Stubber

from infra.cli import main
from infra.naming import STACK_PARTS, stack_name
from infra.ops.aws import Aws
from infra.ops.verify import Clock, Verify, VerifyOptions
from tests.ops.conftest import ACCOUNT, load

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
INSTANCE = "i-0123456789abcdef0"
COMMAND = "0b1e2c3d-4e5f-4789-abcd-ef0123456789"


class FakeClock(Clock):
    """Time that advances only when the code sleeps: bounded waits finish at once."""

    def __init__(self) -> None:
        self.t = 0.0
        super().__init__(now=lambda: NOW, monotonic=lambda: self.t, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.t += seconds


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def create_stack(aws: Aws, part: str, outputs: dict[str, str], resources: Any = None) -> None:
    template = {
        "Resources": resources or {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    aws.client("cloudformation").create_stack(
        StackName=stack_name("dev", part), TemplateBody=json.dumps(template)
    )


def verify(aws: Aws, config_dir: Path, base_url: str = "http://127.0.0.1:9") -> Verify:
    options = VerifyOptions(wait_seconds=10, poll_seconds=5, base_url=base_url)
    return Verify(load(config_dir), aws, options, FakeClock(), lambda d, p: set())


def only(findings: list[Any]) -> tuple[bool, str]:
    [finding] = findings
    return finding.ok, finding.detail


# --- stacks: status from moto is not enough, drift detection is Stubber --------------------


def _describe(part: str, status: str) -> dict[str, Any]:
    name = stack_name("dev", part)
    return {
        "Stacks": [
            {
                "StackName": name,
                "StackId": f"arn:aws:cloudformation:sa-east-1:{ACCOUNT}:stack/{name}/1",
                "CreationTime": NOW,
                "StackStatus": status,
            }
        ]
    }


def stub_stacks(aws: Aws, statuses: dict[str, str], drift: dict[str, list[str]]) -> Stubber:
    """CloudFormation as a Stubber: moto has no drift detection. `drift[part]` is the sequence
    of detection results the part's polls return (IN_PROGRESS, IN_SYNC, DRIFTED)."""
    client = aws.session.client("cloudformation", region_name="sa-east-1")
    stubber = Stubber(client)
    for part in STACK_PARTS:
        status = statuses.get(part)
        if status is None:
            stubber.add_client_error(
                "describe_stacks",
                "ValidationError",
                f"Stack with id {stack_name('dev', part)} does not exist",
            )
            continue
        stubber.add_response("describe_stacks", _describe(part, status))
        if part in drift:
            stubber.add_response(
                "detect_stack_drift",
                {"StackDriftDetectionId": f"detect-{part}"},
                {"StackName": stack_name("dev", part)},
            )
    polls = max(len(v) for v in drift.values()) if drift else 0
    for i in range(polls):
        for part, results in drift.items():
            if i >= len(results):
                continue
            result = results[i]
            body: dict[str, Any] = {
                "StackId": f"arn:aws:cloudformation:sa-east-1:{ACCOUNT}:stack/x/1",
                "StackDriftDetectionId": f"detect-{part}",
                "DetectionStatus": "DETECTION_IN_PROGRESS"
                if result == "IN_PROGRESS"
                else "DETECTION_COMPLETE",
                "Timestamp": NOW,
            }
            if result != "IN_PROGRESS":
                body["StackDriftStatus"] = result
            stubber.add_response("describe_stack_drift_detection_status", body)
            if result == "DRIFTED":
                stubber.add_response(
                    "describe_stack_resource_drifts",
                    {
                        "StackResourceDrifts": [
                            {
                                "StackId": "x",
                                "LogicalResourceId": "AlbSecurityGroup",
                                "ResourceType": "AWS::EC2::SecurityGroup",
                                "StackResourceDriftStatus": "MODIFIED",
                                "Timestamp": NOW,
                            }
                        ]
                    },
                    {
                        "StackName": stack_name("dev", part),
                        "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"],
                    },
                )
    stubber.activate()
    return stubber


def run_stacks(aws: Aws, config_dir: Path, stubber: Stubber) -> list[Any]:
    check = verify(aws, config_dir)
    check.cloudformation = stubber.client
    findings = check.stacks()
    stubber.assert_no_pending_responses()
    return findings


def test_stacks_complete_and_in_sync(aws: Aws, config_dir: Path) -> None:
    statuses = dict.fromkeys(STACK_PARTS, "UPDATE_COMPLETE")
    drift = {p: ["IN_SYNC"] for p in STACK_PARTS}
    drift["crm"] = ["IN_PROGRESS", "IN_SYNC"]
    findings = run_stacks(aws, config_dir, stub_stacks(aws, statuses, drift))
    assert [f.check for f in findings] == [f"stack {p}" for p in STACK_PARTS]
    assert all(f.ok for f in findings), findings


def test_stacks_rolled_back_drifted_or_missing(aws: Aws, config_dir: Path) -> None:
    statuses = dict.fromkeys(STACK_PARTS, "CREATE_COMPLETE")
    statuses["crm"] = "UPDATE_ROLLBACK_COMPLETE"
    del statuses["monitoring"]
    drift = {p: ["IN_SYNC"] for p in statuses if p != "crm"}
    drift["edge"] = ["DRIFTED"]
    findings = {f.check: f for f in run_stacks(aws, config_dir, stub_stacks(aws, statuses, drift))}
    assert not findings["stack crm"].ok
    assert "twenty-dev-crm is UPDATE_ROLLBACK_COMPLETE" in findings["stack crm"].detail
    assert "failed-deploy.md" in findings["stack crm"].detail
    assert findings["stack monitoring"].detail == "twenty-dev-monitoring is not deployed"
    assert "DRIFTED: AlbSecurityGroup MODIFIED" in findings["stack edge"].detail
    assert [c for c, f in findings.items() if not f.ok] == [
        "stack edge", "stack crm", "stack monitoring"
    ]  # fmt: skip


def test_drift_detection_wait_is_bounded(aws: Aws, config_dir: Path) -> None:
    statuses = {"network": "CREATE_COMPLETE"}
    # wait 10 s, poll every 5 s: polls at 0, 5 and 10 s, then the bound ends the wait
    drift = {"network": ["IN_PROGRESS"] * 3}
    findings = {f.check: f for f in run_stacks(aws, config_dir, stub_stacks(aws, statuses, drift))}
    assert "did not finish in 10 s" in findings["stack network"].detail


# --- target groups, certificate, delegation: moto ---------------------------------------------


def _target_groups(aws: Aws, healthy_backend: bool) -> None:
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    arns = {}
    for tier in ("Frontend", "Backend"):
        arns[tier] = elbv2.create_target_group(
            Name=f"dev-{tier.lower()}", Protocol="HTTP", Port=3000, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
    tiers = ("Frontend", "Backend") if healthy_backend else ("Frontend",)
    for tier in tiers:
        elbv2.register_targets(
            TargetGroupArn=arns[tier], Targets=[{"Id": "10.0.3.10", "Port": 3000}]
        )
    create_stack(aws, "edge", {f"{t}TargetGroupArn": arn for t, arn in arns.items()})


@pytest.mark.parametrize("healthy", [True, False])
def test_target_groups(aws: Aws, config_dir: Path, healthy: bool) -> None:
    _target_groups(aws, healthy_backend=healthy)
    found = {f.check: f for f in verify(aws, config_dir).target_groups()}
    assert found["targets frontend"].ok
    assert found["targets backend"].ok is healthy
    if not healthy:
        assert "0 healthy of 0" in found["targets backend"].detail
        assert "kubectl -n twenty-dev get pods" in found["targets backend"].detail


@pytest.mark.parametrize("issued", [True, False])
def test_certificate(
    aws: Aws, config_dir: Path, issued: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto issues a DNS-validated certificate after MOTO_ACM_VALIDATION_WAIT seconds
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", -1 if issued else 3600)
    arn = aws.client("acm").request_certificate(
        DomainName="mgenialdev.olhai.app.br", ValidationMethod="DNS"
    )["CertificateArn"]
    create_stack(aws, "dns", {"CertificateArn": arn, "HostedZoneId": "Z0"})
    ok, detail = only(verify(aws, config_dir).certificate())
    assert ok is issued
    assert detail.startswith("mgenialdev.olhai.app.br: " + ("ISSUED" if issued else "PENDING"))


def test_delegation_compares_zone_and_parent(aws: Aws, config_dir: Path) -> None:
    route53 = aws.client("route53")
    zone = route53.create_hosted_zone(Name="mgenialdev.olhai.app.br", CallerReference="dev")
    servers = {n.rstrip(".") for n in zone["DelegationSet"]["NameServers"]}
    create_stack(aws, "dns", {"CertificateArn": "x", "HostedZoneId": zone["HostedZone"]["Id"]})
    check = verify(aws, config_dir)
    check.parent_lookup = lambda domain, parent: servers
    assert only(check.delegation())[0]
    check.parent_lookup = lambda domain, parent: set()
    ok, detail = only(check.delegation())
    assert not ok and "has no NS record" in detail


# --- backups: AWS Backup recovery points and pgBackRest through Run Command (Stubber) -------


def _database_stack(aws: Aws) -> None:
    # moto's CloudFormation has no AWS::Backup::BackupVault; a parameter stands in under the
    # vault's pinned logical id, so DescribeStackResource returns its name as the physical id.
    vault = {
        "DatabaseBackupVault": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "twentydevdatabaseVault", "Type": "String", "Value": "x"},
        }
    }
    create_stack(aws, "database", {"InstanceId": INSTANCE}, resources=vault)


@pytest.mark.parametrize(("age_hours", "ok"), [(5, True), (30, False)])
def test_backup_snapshots(aws: Aws, config_dir: Path, age_hours: int, ok: bool) -> None:
    _database_stack(aws)
    # moto has no recovery points: ListRecoveryPointsByBackupVault is stubbed
    stubber = Stubber(aws.client("backup"))
    points = [
        {
            "RecoveryPointArn": f"arn:aws:ec2:sa-east-1::snapshot/snap-{i}",
            "BackupVaultName": "twentydevdatabaseVault",
            "CreationDate": NOW - timedelta(hours=hours),
            "Status": status,
        }
        for i, (hours, status) in enumerate(
            [(age_hours + 24, "COMPLETED"), (age_hours, "COMPLETED"), (1, "PARTIAL")]
        )
    ]
    stubber.add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": points},
        {"BackupVaultName": "twentydevdatabaseVault"},
    )
    stubber.activate()
    result, detail = only(verify(aws, config_dir).snapshots())
    assert result is ok
    assert f"is {age_hours:.1f} h old" in detail
    if not ok:
        assert "older than rpo_hours 26" in detail


def pgbackrest_info(stop: datetime, code: int = 0) -> str:
    """`pgbackrest info --output=json` as pgBackRest documents it, cut to what verify reads."""
    start = int(stop.timestamp()) - 120
    return json.dumps(
        [
            {
                "name": "twenty",
                "status": {
                    "code": code,
                    "message": "ok" if code == 0 else "error (missing stanza path)",
                },
                "backup": [
                    {
                        "label": "20261129-030001F",
                        "type": "full",
                        "timestamp": {"start": start - 86400, "stop": start - 86400 + 60},
                    },
                    {
                        "label": "20261129-030001F_20261130-030001D",
                        "type": "diff",
                        "timestamp": {"start": start, "stop": int(stop.timestamp())},
                    },
                ],
            }
        ]
    )


def test_pgbackrest_repo2_must_be_fresh_with_a_recovery_region(aws: Aws, config_dir: Path) -> None:
    """qa has a recovery region: a backup in repo1 alone is a finding; one in each passes."""
    check = Verify(
        load(config_dir, "qa"),
        aws,
        VerifyOptions(wait_seconds=10, poll_seconds=5),
        FakeClock(),
        lambda d, p: set(),
    )
    info = json.loads(pgbackrest_info(NOW - timedelta(hours=2)))
    for backup in info[0]["backup"]:
        backup["database"] = {"id": 1, "repo-key": 1}
    finding = check._pgbackrest_finding(json.dumps(info))
    assert not finding.ok and "repo2 (the recovery region) has no backup" in finding.detail
    info[0]["backup"][0]["database"]["repo-key"] = 2  # the older full backup: 26 h + old
    finding = check._pgbackrest_finding(json.dumps(info))
    assert not finding.ok and "repo2 older than rpo_hours" in finding.detail
    info[0]["backup"].append({**info[0]["backup"][1], "database": {"id": 1, "repo-key": 2}})
    finding = check._pgbackrest_finding(json.dumps(info))
    assert finding.ok, finding.detail
    assert "in repo2 2.0 h old" in finding.detail


def stub_run_command(aws: Aws, final: dict[str, Any], pending_polls: int = 1) -> Stubber:
    """moto's Run Command executes nothing: SendCommand and GetCommandInvocation are stubbed."""
    stubber = Stubber(aws.client("ssm"))
    stubber.add_response(
        "send_command",
        {"Command": {"CommandId": COMMAND}},
        {
            "InstanceIds": [INSTANCE],
            # The estate's own document (no parameters), never AWS-RunShellScript.
            "DocumentName": "twenty-dev-pgbackrest-info",
            "Comment": ANY,
            "TimeoutSeconds": ANY,
        },
    )
    stubber.add_client_error("get_command_invocation", "InvocationDoesNotExist")
    for _ in range(pending_polls):
        stubber.add_response(
            "get_command_invocation",
            {"CommandId": COMMAND, "InstanceId": INSTANCE, "Status": "InProgress"},
        )
    stubber.add_response(
        "get_command_invocation", {"CommandId": COMMAND, "InstanceId": INSTANCE, **final}
    )
    stubber.activate()
    return stubber


def _ok(output: str) -> dict[str, str]:
    return {"Status": "Success", "StandardOutputContent": output}


@pytest.mark.parametrize(
    ("final", "ok", "expected"),
    [
        (_ok(pgbackrest_info(NOW - timedelta(hours=9))), True, "newest backup is 9.0 h old"),
        (_ok(pgbackrest_info(NOW - timedelta(hours=50))), False, "older than rpo_hours 26"),
        (_ok(pgbackrest_info(NOW, code=2)), False, "stanza status: error (missing stanza path)"),
        (_ok("[]"), False, "no stanza twenty"),
        (
            {"Status": "Failed", "StandardErrorContent": "runuser: failed to execute pgbackrest\n"},
            False,
            "Failed: runuser: failed to execute pgbackrest",
        ),
    ],
)
def test_pgbackrest(
    aws: Aws, config_dir: Path, final: dict[str, Any], ok: bool, expected: str
) -> None:
    _database_stack(aws)
    stubber = stub_run_command(aws, final)
    result, detail = only(verify(aws, config_dir).pgbackrest())
    stubber.assert_no_pending_responses()
    assert result is ok and expected in detail


def test_pgbackrest_wait_is_bounded(aws: Aws, config_dir: Path) -> None:
    _database_stack(aws)
    stub_run_command(aws, {"Status": "InProgress"}, pending_polls=1)
    ok, detail = only(verify(aws, config_dir).pgbackrest())
    assert not ok and f"did not finish in 10 s (command {COMMAND})" in detail


# --- alarms and /healthz -----------------------------------------------------------------------


def _alarm(aws: Aws, name: str, state: str) -> None:
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=2,
        Threshold=80,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_alarms(aws: Aws, config_dir: Path) -> None:
    _alarm(aws, "twenty-dev-database-cpu", "OK")
    _alarm(aws, "twenty-qa-database-cpu", "ALARM")  # another environment's: not ours
    assert only(verify(aws, config_dir).alarms())[0]
    _alarm(aws, "twenty-dev-alb5xx", "ALARM")
    ok, detail = only(verify(aws, config_dir).alarms())
    assert not ok and detail == "in ALARM: test"


def test_healthz(aws: Aws, config_dir: Path, http_base: str) -> None:
    assert only(verify(aws, config_dir, http_base + "/ok").healthz()) == (
        True, f"{http_base}/ok/healthz: HTTP 200"
    )  # fmt: skip
    assert only(verify(aws, config_dir, http_base + "/down").healthz()) == (
        False, f"{http_base}/down/healthz: HTTP 503"
    )  # fmt: skip


def test_verify_cli_on_an_empty_account_reports_json(
    aws: Aws, config_dir: Path, http_base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["verify", "--env", "dev", "--config-dir", str(config_dir), "--json"]
    assert main([*args, "--base-url", http_base + "/ok"]) == 1
    report = json.loads(capsys.readouterr().out)
    failed = {c["check"]: c["detail"] for c in report["checks"] if not c["ok"]}
    assert failed["stack network"] == "twenty-dev-network is not deployed"
    assert failed["certificate"] == "the dns stack is not deployed"
    assert report["ok"] is False and report["environment"] == "dev"
    assert [c["ok"] for c in report["checks"] if c["check"] in ("alarms", "healthz")] == [
        True,
        True,
    ]


@pytest.mark.parametrize(("age_hours", "ok"), [(5, True), (30, False), (None, False)])
def test_recovery_copies(aws: Aws, config_dir: Path, age_hours: int | None, ok: bool) -> None:
    """qa copies its snapshots to us-east-1: the newest copy there must be within the RPO.
    moto has no recovery points: ListRecoveryPointsByBackupVault is stubbed, in that region."""
    check = Verify(
        load(config_dir, "qa"),
        aws,
        VerifyOptions(wait_seconds=10, poll_seconds=5),
        FakeClock(),
        lambda d, p: set(),
    )
    check.recovery_aws = Aws("us-east-1")
    stubber = Stubber(check.recovery_aws.client("backup"))
    points = (
        []
        if age_hours is None
        else [
            {
                "RecoveryPointArn": "arn:aws:ec2:us-east-1::snapshot/snap-1",
                "BackupVaultName": "twenty-qa-recovery",
                "CreationDate": NOW - timedelta(hours=age_hours),
                "Status": "COMPLETED",
            }
        ]
    )
    stubber.add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": points},
        {"BackupVaultName": "twenty-qa-recovery"},
    )
    stubber.activate()
    result, detail = only(check.recovery_copies())
    assert result is ok, detail
    if age_hours is None:
        assert "has no completed copy" in detail
    elif not ok:
        assert "older than rpo_hours" in detail
    assert verify(aws, config_dir).recovery_copies() == []  # dev: no recovery region
