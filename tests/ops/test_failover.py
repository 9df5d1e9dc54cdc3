"""`failover` and `rebuild-standby` on moto (CloudFormation, EC2, Route53) with the SSM Run
Command calls on botocore's Stubber (moto runs no command): the order of the steps, fencing
before promotion, the refusals, the dry run, the config line, the exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from infra.cli import main
from infra.config import EnvironmentConfig
from infra.naming import stack_name
from infra.ops.aws import Aws
from infra.ops.failover import FailoverOptions, replace_writer, run_failover
from infra.ops.rebuild_standby import run_rebuild_standby
from infra.ops.report import UnusableError
from tests.ops.conftest import REGION, deployable_text, load
from tests.ops.test_verify import FakeClock

ENV = "prod"
LIMIT = 16 * 1024 * 1024  # prod's failover_max_lag_bytes


@pytest.fixture
def prod_dir(config_dir: Path) -> Path:
    """Every committed config (one is validated against the others), prod deployable."""
    text = deployable_text("prod").replace("oidc_provider: create", "oidc_provider: existing")
    (config_dir / "prod.yaml").write_text(text)
    return config_dir


@pytest.fixture
def estate(aws: Aws) -> dict[str, str]:
    """The deployed database stack as failover finds it: two instances, the two groups, the
    private zone whose db CNAME names db1, and the stack's outputs."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.3.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    fence = ec2.create_security_group(GroupName="q", Description="q", VpcId=vpc)["GroupId"]
    image = ec2.register_image(Name="ubuntu", RootDeviceName="/dev/sda1")["ImageId"]
    ids = {}
    for member in ("db1", "db2"):
        [instance] = ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[group]
        )["Instances"]
        ids[member] = instance["InstanceId"]
    route53 = aws.client("route53")
    zone = route53.create_hosted_zone(
        Name=f"{ENV}.internal",
        CallerReference="twenty",
        VPC={"VPCRegion": REGION, "VPCId": vpc},
        HostedZoneConfig={"PrivateZone": True, "Comment": ""},
    )["HostedZone"]["Id"].split("/")[-1]
    _point(aws, zone, "db1")
    outputs = {
        "Db1InstanceId": ids["db1"],
        "Db2InstanceId": ids["db2"],
        "PrivateZoneId": zone,
        "SecurityGroupId": group,
        "QuarantineSecurityGroupId": fence,
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    aws.client("cloudformation").create_stack(
        StackName=stack_name(ENV, "database"), TemplateBody=json.dumps(template)
    )
    return {**ids, "zone": zone, "group": group, "fence": fence}


def _point(aws: Aws, zone: str, member: str) -> None:
    aws.client("route53").change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"db.{ENV}.internal.",
                        "Type": "CNAME",
                        "TTL": 10,
                        "ResourceRecords": [{"Value": f"{member}.{ENV}.internal"}],
                    },
                }
            ]
        },
    )


def _writer(aws: Aws, zone: str) -> str:
    records = aws.client("route53").list_resource_record_sets(HostedZoneId=zone)
    [cname] = [r for r in records["ResourceRecordSets"] if r["Type"] == "CNAME"]
    return str(cname["ResourceRecords"][0]["Value"])


def _groups(aws: Aws, instance: str) -> list[str]:
    described = aws.client("ec2").describe_instances(InstanceIds=[instance])
    return [g["GroupId"] for g in described["Reservations"][0]["Instances"][0]["SecurityGroups"]]


def _state(aws: Aws, instance: str) -> str:
    described = aws.client("ec2").describe_instances(InstanceIds=[instance])
    return str(described["Reservations"][0]["Instances"][0]["State"]["Name"])


class Commands:
    """The Run Command calls the test expects, in order, on Stubber; records what was sent."""

    def __init__(self, aws: Aws) -> None:
        self.ssm = aws.client("ssm")
        self.stubber = Stubber(self.ssm)
        self.sent: list[tuple[str, str]] = []
        self.count = 0

    def expect(
        self, instance: str, subcommand: str, final: dict[str, Any], pending: int = 0
    ) -> Commands:
        self.count += 1
        command = f"{self.count:08d}-0000-4000-8000-000000000000"
        self.stubber.add_response(
            "send_command",
            {"Command": {"CommandId": command}},
            {
                "InstanceIds": [instance],
                "DocumentName": f"twenty-{ENV}-db-{subcommand}",
                "Comment": ANY,
                "TimeoutSeconds": ANY,
            },
        )
        for _ in range(pending):
            self.stubber.add_response(
                "get_command_invocation",
                {"CommandId": command, "InstanceId": instance, "Status": "InProgress"},
            )
        self.stubber.add_response(
            "get_command_invocation", {"CommandId": command, "InstanceId": instance, **final}
        )
        return self

    def expect_online(self, instance: str, polls: int = 1) -> Commands:
        """DescribeInstanceInformation: offline `polls - 1` times, then Online."""
        filters = [{"Key": "InstanceIds", "Values": [instance]}]
        for status in ["ConnectionLost"] * (polls - 1) + ["Online"]:
            self.stubber.add_response(
                "describe_instance_information",
                {"InstanceInformationList": [{"InstanceId": instance, "PingStatus": status}]},
                {"Filters": filters},
            )
        return self

    def activate(self, on_send: Any = None) -> Commands:
        def record(params: dict[str, Any], **_: Any) -> None:
            sent = (params["InstanceIds"][0], params["DocumentName"])
            self.sent.append(sent)
            if on_send is not None:
                on_send(*sent)

        self.ssm.meta.events.register("before-parameter-build.ssm.SendCommand", record)
        self.stubber.activate()
        return self


def ok(status: dict[str, Any]) -> dict[str, Any]:
    return {"Status": "Success", "StandardOutputContent": json.dumps(status) + "\n"}


def standby(backlog: int = 0, streaming: bool = True) -> dict[str, Any]:
    return ok(
        {"member": "db2", "role": "standby", "streaming": streaming,
         "replay_backlog_bytes": backlog}
    )  # fmt: skip


def primary(member: str = "db1", lag: int | None = 0, standby_name: str = "db2") -> dict:
    standbys = [] if lag is None else [{"name": standby_name, "lag_bytes": lag}]
    return ok({"member": member, "role": "primary", "standbys": standbys})


NO_ANSWER_POLLS = 2  # primary_wait_seconds 4 at poll 2: two pending polls, then NoAnswer
OPTIONS = FailoverOptions(primary_wait_seconds=4, wait_seconds=20, poll_seconds=2)


def failover(aws: Aws, prod_dir: Path, **options: Any) -> tuple[int, list[Any]]:
    cfg: EnvironmentConfig = load(prod_dir, ENV)
    chosen = FailoverOptions(**{**OPTIONS.__dict__, **options})
    report = run_failover(cfg, prod_dir / "prod.yaml", aws, chosen, FakeClock())
    return report.exit_code, list(report.findings)


def test_failover_fences_before_promoting_moves_the_name_and_the_config(
    aws: Aws, prod_dir: Path, estate: dict[str, str]
) -> None:
    seen_at_promotion: list[tuple[list[str], str]] = []

    def on_send(instance: str, document: str) -> None:
        if document.endswith("-promote"):
            seen_at_promotion.append((_groups(aws, estate["db1"]), _state(aws, estate["db1"])))

    commands = (
        Commands(aws)
        .expect(estate["db2"], "status", standby(backlog=4096, streaming=False))
        .expect(estate["db1"], "status", {"Status": "InProgress"}, pending=NO_ANSWER_POLLS)
        .expect(estate["db2"], "promote", {"Status": "Success"})
        .activate(on_send)
    )
    code, findings = failover(aws, prod_dir)
    commands.stubber.assert_no_pending_responses()
    assert code == 0, findings
    assert [f.check for f in findings] == [
        "hosts", "standby", "primary", "fence", "promote", "dns", "config", "failover"
    ]  # fmt: skip
    # The old primary was fenced (quarantine group, stopping) before the promotion was sent.
    assert seen_at_promotion == [([estate["fence"]], "stopped")]
    assert _writer(aws, estate["zone"]) == f"db2.{ENV}.internal"
    text = (prod_dir / "prod.yaml").read_text()
    assert "    writer: db2               # rewritten by `python -m infra failover`" in text
    assert load(prod_dir, ENV).database.standby.writer == "db2"
    assert "4096 bytes received not replayed" in findings[1].detail
    assert "did not answer" in findings[2].detail


@pytest.mark.parametrize(
    ("standby_final", "primary_final", "refused_at", "detail"),
    [
        (standby(backlog=LIMIT + 1), None, "standby", "refused without --force"),
        (primary("db2"), None, "standby", "db2 is a primary, not a standby"),
        ({"Status": "Failed", "StandardErrorContent": "boom\n"}, None, "standby", "boom"),
        (standby(), primary(lag=LIMIT + 1), "primary", "refused without --force"),
        (standby(), primary(lag=None), "primary", "does not stream from it"),
    ],
)
def test_failover_refuses_and_changes_nothing(
    aws: Aws,
    prod_dir: Path,
    estate: dict[str, str],
    standby_final: dict[str, Any],
    primary_final: dict[str, Any] | None,
    refused_at: str,
    detail: str,
) -> None:
    commands = Commands(aws).expect(estate["db2"], "status", standby_final)
    if primary_final is not None:
        commands.expect(estate["db1"], "status", primary_final)
    commands.activate()
    code, findings = failover(aws, prod_dir)
    commands.stubber.assert_no_pending_responses()  # and no promote was sent (none stubbed)
    assert code == 1
    assert findings[-1].check == refused_at and not findings[-1].ok
    assert detail in findings[-1].detail
    assert _groups(aws, estate["db1"]) == [estate["group"]], "no fence after a refusal"
    assert _state(aws, estate["db1"]) == "running"
    assert _writer(aws, estate["zone"]) == f"db1.{ENV}.internal"
    assert "writer: db1" in (prod_dir / "prod.yaml").read_text()


def test_force_promotes_a_lagging_standby(aws: Aws, prod_dir: Path, estate: dict[str, str]):
    commands = (
        Commands(aws)
        .expect(estate["db2"], "status", standby(backlog=LIMIT + 1))
        .expect(estate["db1"], "status", primary(lag=LIMIT + 5))
        .expect(estate["db2"], "promote", {"Status": "Success"})
        .activate()
    )
    code, findings = failover(aws, prod_dir, force=True)
    commands.stubber.assert_no_pending_responses()
    assert code == 0
    assert "--force given" in findings[1].detail and "--force given" in findings[2].detail


def test_dry_run_checks_and_changes_nothing(aws: Aws, prod_dir: Path, estate: dict[str, str]):
    commands = (
        Commands(aws)
        .expect(estate["db2"], "status", standby())
        .expect(estate["db1"], "status", primary(lag=0))
        .activate()
    )
    code, findings = failover(aws, prod_dir, dry_run=True)
    commands.stubber.assert_no_pending_responses()
    assert code == 0
    assert findings[-1].check == "dry run" and "would fence db1, promote db2" in findings[-1].detail
    assert _groups(aws, estate["db1"]) == [estate["group"]]
    assert _writer(aws, estate["zone"]) == f"db1.{ENV}.internal"


def test_failed_promotion_keeps_the_fence_and_the_name(
    aws: Aws, prod_dir: Path, estate: dict[str, str]
) -> None:
    commands = (
        Commands(aws)
        .expect(estate["db2"], "status", standby())
        .expect(estate["db1"], "status", {"Status": "InProgress"}, pending=NO_ANSWER_POLLS)
        .expect(estate["db2"], "promote", {"Status": "Failed", "StandardErrorContent": "no\n"})
        .activate()
    )
    code, findings = failover(aws, prod_dir)
    commands.stubber.assert_no_pending_responses()
    assert code == 1
    assert [f.check for f in findings][-2:] == ["fence", "promote"]
    assert _writer(aws, estate["zone"]) == f"db1.{ENV}.internal"
    assert "writer: db1" in (prod_dir / "prod.yaml").read_text()


def test_rebuild_standby_starts_clones_and_unfences_the_old_primary(
    aws: Aws, prod_dir: Path, estate: dict[str, str]
) -> None:
    # After a failover: db2 is named, db1 stopped in the quarantine group.
    _point(aws, estate["zone"], "db2")
    ec2 = aws.client("ec2")
    ec2.modify_instance_attribute(InstanceId=estate["db1"], Groups=[estate["fence"]])
    ec2.stop_instances(InstanceIds=[estate["db1"]])
    rebuilt = {"Status": "Success", "StandardErrorContent": "db1 streams from db.prod.internal\n"}
    commands = (
        Commands(aws)
        .expect(estate["db2"], "status", primary("db2", lag=None))
        .expect_online(estate["db1"], polls=2)
        .expect(estate["db1"], "rebuild-standby", rebuilt)
        .expect(estate["db1"], "status", ok({"role": "standby", "streaming": True}))
        .activate()
    )
    cfg = load(prod_dir, ENV)
    report = run_rebuild_standby(cfg, aws, OPTIONS, FakeClock())
    commands.stubber.assert_no_pending_responses()
    assert report.exit_code == 0, report.as_table()
    assert [f.check for f in report.findings] == [
        "primary", "instance", "rebuild", "security group", "standby", "rebuild-standby"
    ]  # fmt: skip
    assert _state(aws, estate["db1"]) == "running"
    assert _groups(aws, estate["db1"]) == [estate["group"]]


def test_rebuild_refuses_without_an_answering_primary(
    aws: Aws, prod_dir: Path, estate: dict[str, str]
) -> None:
    commands = Commands(aws).expect(estate["db1"], "status", standby()).activate()
    report = run_rebuild_standby(load(prod_dir, ENV), aws, OPTIONS, FakeClock())
    commands.stubber.assert_no_pending_responses()
    assert report.exit_code == 1
    assert "is not an answering primary (standby)" in report.findings[-1].detail


def test_replace_writer_changes_that_value_only() -> None:
    text = "database:\n  standby:\n    enabled: true\n    writer: db1   # note\n  x: 1\n"
    assert replace_writer(text, "db2", "f.yaml") == text.replace("writer: db1", "writer: db2")
    with pytest.raises(UnusableError, match=r"database\.standby\.writer: missing"):
        replace_writer("database:\n  standby: {}\n", "db2", "f.yaml")


def test_environment_without_standby_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["failover", "--env", "dev"]) == 2
    assert "dev has no standby host" in capsys.readouterr().err
    assert main(["rebuild-standby", "--env", "dev", "--dry-run"]) == 2


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("failover", "rebuild-standby"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "exit codes: 0 every step done" in out and "1 a check refused" in out
        assert "2 bad input" in out and "--dry-run" in out


# --- verify's replication check ------------------------------------------------------------


def _verify(aws: Aws, prod_dir: Path) -> list[Any]:
    from infra.ops.verify import Verify, VerifyOptions

    options = VerifyOptions(wait_seconds=10, poll_seconds=2)
    checks = Verify(load(prod_dir, ENV), aws, options, FakeClock(), lambda d, p: set())
    return list(checks.replication())


def test_verify_replication_streaming(aws: Aws, prod_dir: Path, estate: dict[str, str]):
    streaming = {"name": "db2", "state": "streaming", "lag_bytes": 128}
    status = ok({"role": "primary", "standbys": [streaming]})
    commands = Commands(aws).expect(estate["db1"], "status", status).activate()
    [finding] = _verify(aws, prod_dir)
    commands.stubber.assert_no_pending_responses()
    assert finding.ok and finding.detail == "db2 streams from db1, 128 bytes behind"


def test_verify_replication_findings(aws: Aws, prod_dir: Path, estate: dict[str, str]):
    _point(aws, estate["zone"], "db2")  # failover ran, config not committed
    commands = Commands(aws).expect(estate["db2"], "status", primary("db2", lag=None)).activate()
    config_line, streaming = _verify(aws, prod_dir)
    commands.stubber.assert_no_pending_responses()
    assert not config_line.ok and "config database.standby.writer says db1" in config_line.detail
    assert not streaming.ok and "no standby streams from db2" in streaming.detail


def test_verify_without_standby_passes(aws: Aws, config_dir: Path) -> None:
    from infra.ops.verify import Verify, VerifyOptions

    checks = Verify(load(config_dir), aws, VerifyOptions(), FakeClock(), lambda d, p: set())
    assert [(f.ok, f.detail) for f in checks.replication()] == [(True, "no standby configured")]


def _deny_stop(aws: Aws) -> None:
    """StopInstances answered with an error (as for a host whose zone is down)."""
    from botocore.awsrequest import AWSResponse

    def deny(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "IncorrectInstanceState", "Message": "cannot stop it now"}
        return AWSResponse("https://ec2", 400, {}, None), {
            "Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}
        }  # fmt: skip

    aws.client("ec2").meta.events.register("before-call.ec2.StopInstances", deny)


def test_a_live_primary_that_does_not_stop_is_not_promoted_over(
    aws: Aws, prod_dir: Path, estate: dict[str, str]
) -> None:
    """Its open connections survive the group swap: promoting now could lose their writes."""
    _deny_stop(aws)
    commands = (
        Commands(aws)
        .expect(estate["db2"], "status", standby())
        .expect(estate["db1"], "status", primary(lag=0))
        .activate()
    )
    code, findings = failover(aws, prod_dir)
    commands.stubber.assert_no_pending_responses()  # no promote
    assert code == 1
    assert findings[-1].check == "fence" and "not promoting" in findings[-1].detail
    assert _groups(aws, estate["db1"]) == [estate["fence"]], "the group swap stays"
    assert _writer(aws, estate["zone"]) == f"db1.{ENV}.internal"


def test_a_dead_primary_that_does_not_stop_is_fenced_by_its_group(
    aws: Aws, prod_dir: Path, estate: dict[str, str]
) -> None:
    _deny_stop(aws)
    commands = (
        Commands(aws)
        .expect(estate["db2"], "status", standby())
        .expect(estate["db1"], "status", {"Status": "InProgress"}, pending=NO_ANSWER_POLLS)
        .expect(estate["db2"], "promote", {"Status": "Success"})
        .activate()
    )
    code, findings = failover(aws, prod_dir)
    commands.stubber.assert_no_pending_responses()
    assert code == 0
    fence = next(f for f in findings if f.check == "fence")
    assert "stop failed" in fence.detail and "the group fences it" in fence.detail
