"""restore: the AWS side of `python -m infra restore` on moto and botocore's Stubber.

moto serves the database stack and its outputs (CloudFormation); SSM Run Command executes
nothing in moto, so SendCommand and GetCommandInvocation are stubbed with responses shaped like
the service's, carrying what the host script prints (its own real run is in
tests/test_pgbackrest_repo2.py). Every judgement is shown to fail on the output it guards.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from infra.cli import main
from infra.ops.aws import Aws
from infra.ops.restore import Restore, RestoreRequest, parse_host_output, postgres_time
from infra.restore_document import restore_document_name
from tests.ops.conftest import load
from tests.ops.test_verify import COMMAND, INSTANCE, NOW, FakeClock, create_stack

TARGET = "2026-11-30T11:00:00Z"
STEPS = "step stop_writers 2.104\nstep restore 41.250\nstep replay_wal 12.5\nstep check 0.3\n"


def host_output(**result: Any) -> str:
    base = {
        "target": TARGET,
        "repo": 1,
        "in_recovery": False,
        "restored_time": "2026-11-30 10:59:58.123456+00",
        "timeline": 3,
        "tables": 412,
        "estimated_rows": 1_250_000,
        "database_bytes": 9_876_543_210,
    }
    return STEPS + "step start_writers 3.0\nresult " + json.dumps({**base, **result}) + "\n"


def deploy_database(aws: Aws) -> None:
    create_stack(
        aws,
        "database",
        {"InstanceId": INSTANCE, "RestoreDocumentName": restore_document_name("dev")},
    )


def stub_ssm(aws: Aws, final: dict[str, Any], *, target: str = TARGET, repo: str = "1") -> Stubber:
    stubber = Stubber(aws.client("ssm"))
    stubber.add_response(
        "send_command",
        {"Command": {"CommandId": COMMAND}},
        {
            "InstanceIds": [INSTANCE],
            "DocumentName": "twenty-dev-restore",
            "Comment": ANY,
            "Parameters": {"target": [target], "repo": [repo]},
            "TimeoutSeconds": ANY,
        },
    )
    stubber.add_client_error("get_command_invocation", "InvocationDoesNotExist")
    stubber.add_response(
        "get_command_invocation",
        {"CommandId": COMMAND, "InstanceId": INSTANCE, "Status": "InProgress"},
    )
    stubber.add_response(
        "get_command_invocation", {"CommandId": COMMAND, "InstanceId": INSTANCE, **final}
    )
    stubber.activate()
    return stubber


def restore(aws: Aws, config_dir: Path, **request: Any) -> Restore:
    lines: list[str] = []
    return Restore(
        load(config_dir),
        RestoreRequest(**{"target": TARGET, "wait_seconds": 600, **request}),
        aws=aws,
        clock=FakeClock(),
        progress=lines.append,
    )


def by_check(report: Any) -> dict[str, Any]:
    return {f.check: f for f in report.findings}


def test_restore_sends_the_document_by_name_and_reports_each_step(
    aws: Aws, config_dir: Path
) -> None:
    deploy_database(aws)
    stubber = stub_ssm(aws, {"Status": "Success", "StandardOutputContent": host_output()})
    report = restore(aws, config_dir).run()
    stubber.assert_no_pending_responses()
    assert report.ok, report.as_table()
    checks = by_check(report)
    assert [c for c in checks if c.startswith("step ")] == [
        "step stop_writers",
        "step restore",
        "step replay_wal",
        "step check",
        "step start_writers",
    ]
    assert checks["step restore"].detail == "41.2 s"
    assert "not after the target" in checks["restored time"].detail
    assert checks["tables"].detail.startswith("412 tables")


@pytest.mark.parametrize(
    ("result", "check", "expected"),
    [
        ({"in_recovery": True}, "not in recovery", "still in recovery"),
        ({"restored_time": "2026-11-30 11:00:01+00"}, "restored time", "AFTER the target"),
        ({"tables": 0}, "tables", "0 tables"),
    ],
)
def test_restore_fails_on_a_wrong_result(
    aws: Aws, config_dir: Path, result: dict[str, Any], check: str, expected: str
) -> None:
    deploy_database(aws)
    stub_ssm(aws, {"Status": "Success", "StandardOutputContent": host_output(**result)})
    report = restore(aws, config_dir).run()
    assert report.exit_code == 1
    finding = by_check(report)[check]
    assert not finding.ok and expected in finding.detail


def test_no_replayed_transaction_is_the_backups_own_state(aws: Aws, config_dir: Path) -> None:
    deploy_database(aws)
    stub_ssm(aws, {"Status": "Success", "StandardOutputContent": host_output(restored_time=None)})
    report = restore(aws, config_dir).run()
    assert report.ok
    assert "no transaction between the backup's end" in by_check(report)["restored time"].detail


def test_a_failed_host_script_is_a_finding_with_its_last_error_line(
    aws: Aws, config_dir: Path
) -> None:
    deploy_database(aws)
    stub_ssm(
        aws,
        {
            "Status": "Failed",
            "StandardOutputContent": "step stop_writers 1.0\n",
            "StandardErrorContent": "x\ntwenty-db-restore: FATAL: recovery did not finish\n",
        },
    )
    report = restore(aws, config_dir).run()
    assert report.exit_code == 1
    assert "FATAL: recovery did not finish" in by_check(report)["restore"].detail
    assert by_check(report)["step stop_writers"].ok


def test_the_wait_is_bounded(aws: Aws, config_dir: Path) -> None:
    deploy_database(aws)
    stubber = Stubber(aws.client("ssm"))
    stubber.add_response("send_command", {"Command": {"CommandId": COMMAND}})
    for _ in range(3):
        stubber.add_response(
            "get_command_invocation",
            {"CommandId": COMMAND, "InstanceId": INSTANCE, "Status": "InProgress"},
        )
    stubber.activate()
    report = restore(aws, config_dir, wait_seconds=30, poll_seconds=15).run()
    assert report.exit_code == 1
    assert "not finished after 30 s" in by_check(report)["restore"].detail


def test_dry_run_sends_nothing(aws: Aws, config_dir: Path) -> None:
    deploy_database(aws)
    stubber = Stubber(aws.client("ssm"))  # no response queued: any SSM call would raise
    stubber.activate()
    report = restore(aws, config_dir, dry_run=True).run()
    assert report.ok
    assert "would send SSM document twenty-dev-restore" in by_check(report)["dry run"].detail


def test_not_deployed_is_a_finding(aws: Aws, config_dir: Path) -> None:
    report = restore(aws, config_dir).run()
    assert report.exit_code == 1
    assert not by_check(report)["database host"].ok


def test_credentials_of_another_account_change_nothing(aws: Aws, config_dir: Path) -> None:
    deploy_database(aws)
    cfg = load(config_dir)
    other = cfg.model_copy(update={"account": "210987654321"})
    stubber = Stubber(aws.client("ssm"))  # no response queued: any SSM call would raise
    stubber.activate()
    request = RestoreRequest(target=TARGET, wait_seconds=600)
    report = Restore(other, request, aws=aws, clock=FakeClock(), progress=lambda _: None).run()
    assert report.exit_code == 1
    (finding,) = report.findings
    assert finding.check == "account" and "210987654321" in finding.detail


def test_cli_dry_run_json_exit_0(
    aws: Aws, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_database(aws)
    code = main(
        [
            "restore",
            "--env",
            "dev",
            "--config-dir",
            str(config_dir),
            "--to",
            "2000-01-01T00:00:00Z",
            "--dry-run",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] and out["command"] == "restore"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--to", "yesterday"], "must be latest or an ISO 8601 time"),
        (["--to", "2026-11-30 11:00:00"], "must be latest or an ISO 8601 time"),
        (["--to", "2999-01-01T00:00:00Z"], "is in the future"),
        (["--to", "latest", "--repo", "2"], "needs a recovery region"),
        (["--to", "latest", "--repo", "3"], "invalid choice"),
    ],
)
def test_cli_bad_input_exit_2_in_one_line(
    config_dir: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    try:
        code = main(["restore", "--env", "dev", "--config-dir", str(config_dir), *arguments])
    except SystemExit as exit:  # argparse's own refusals
        code = int(str(exit.code))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["restore", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 every check passed; 1 findings" in text and "2 bad input" in text


def test_host_output_and_postgres_times_parse() -> None:
    output = parse_host_output(host_output())
    assert output.steps[0] == ("stop_writers", 2.104)
    assert output.result is not None and output.result["tables"] == 412
    assert postgres_time("2026-11-30 10:59:58.123456+00") == datetime(
        2026, 11, 30, 10, 59, 58, 123456, tzinfo=UTC
    )
    assert postgres_time("2026-11-30 08:00:00-03") == datetime(2026, 11, 30, 11, tzinfo=UTC)
    assert postgres_time("2026-11-30 08:00:00-03") < NOW
