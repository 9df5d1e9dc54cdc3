"""A synth that fails on its input ends in one line per problem, exit 2, never a traceback:
through `python -m infra synth`, app.py (what `npx cdk synth` runs) and the diff's synths,
whose validation report is kept where the message says it is."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from infra.review.checkout import SynthJob, failure_lines
from infra.synth_errors import REPORT_FILE, SynthInputError, explain, report_lines
from tests.conftest import ROOT


def _report(directory: Path) -> Path:
    """A CDK validation report as cdk-nag's plugin writes it: one failing rule."""
    directory.mkdir(parents=True, exist_ok=True)
    violation = {
        "ruleName": "AwsSolutions-SQS4",
        "description": "The SQS queue does not require requests to use SSL.",
        "severity": "error",
        "violatingConstructs": [
            {
                "constructPath": "twenty-dev-monitoring/Queue/Resource",
                "cloudFormationResource": {"logicalId": "Queue4A7E3555"},
            }
        ],
    }
    report = {
        "title": "Validation Report",
        "pluginReports": [
            {"pluginName": "AwsSolutions", "conclusion": "failure", "violations": [violation]},
            {"pluginName": "CloudFormation Validate", "conclusion": "success", "violations": []},
        ],
    }
    path = directory / REPORT_FILE
    path.write_text(json.dumps(report))
    return path


def test_a_nag_finding_is_one_line_naming_rule_resource_and_config_key(tmp_path: Path) -> None:
    report = _report(tmp_path / "cdk.out")
    (line,) = report_lines(report, Path("config"))
    assert line.startswith("config/dev.yaml: monitoring: AwsSolutions-SQS4 on ")
    assert "twenty-dev-monitoring/Queue/Resource (Queue4A7E3555)" in line
    assert "require requests to use SSL" in line and str(report) in line


def test_cdks_validation_failure_is_read_from_its_report(tmp_path: Path) -> None:
    report = _report(tmp_path / "cdk.out")
    failure = RuntimeError(
        f"ValidationFailed: Validation failed. A copy of this report can be found in: {report}"
    )
    explained = explain(failure, tmp_path / "cdk.out", ["dev"], Path("config"))
    assert len(explained.lines) == 1 and "AwsSolutions-SQS4" in explained.lines[0]


def test_a_value_cdk_refuses_names_the_file_and_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """gp3 throughput above 0.25 MiB/s per IOPS: CDK's limit, found while building the stack.

    `validate` knows this limit too (infra/config/database.py); it is switched off here so that
    the value reaches CDK, as any limit `validate` does not know yet would."""
    from infra.cli import main

    monkeypatch.setattr("infra.config.database.gp3_throughput_per_iops", lambda: 1000.0)

    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)
    dev = config_dir / "dev.yaml"
    text = dev.read_text()
    assert "data_volume_throughput_mibps: 125" in text
    dev.write_text(
        text.replace("data_volume_throughput_mibps: 125", "data_volume_throughput_mibps: 1000")
    )
    args = [
        "synth",
        "--env",
        "dev",
        "--config-dir",
        str(config_dir),
        "--outdir",
        str(tmp_path / "out"),
    ]
    assert main(args) == 2
    captured = capsys.readouterr()
    # a "synth: still ..." progress line may precede it on a busy machine (infra/ops/progress.py)
    lines = [line for line in captured.err.strip().splitlines() if ": still " not in line]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith(f"synth: {dev}: database: CDK refused a value: Throughput")
    assert lines[0].endswith(")") and "(building infra/constructs/database_instance.py:" in lines[0]


def test_the_diff_keeps_the_report_its_message_names(tmp_path: Path) -> None:
    """The head's synth runs in a temporary directory; the report is copied to the report
    directory and the line points there, so it still exists when the diff has ended."""
    outdir = tmp_path / "tmp" / "head.out"
    report = _report(outdir)
    job = SynthJob("working tree", ROOT, outdir, "dev")
    err = f"noise\nsynth: config/dev.yaml: monitoring: AwsSolutions-SQS4 ...; report: {report}\n"
    (line,) = failure_lines(job, err, tmp_path / "cdk.out")
    shutil.rmtree(tmp_path / "tmp")
    kept = Path(line.rsplit("report: ", 1)[1])
    assert kept.parent == tmp_path / "cdk.out" and kept.is_file()
    assert "AwsSolutions-SQS4" in kept.read_text()


def test_app_py_prints_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """app.py, what `npx cdk synth` runs, translates the same failures."""
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("app", None)
    import app

    def refuse(*_: object, **__: object) -> None:
        raise RuntimeError("`gp3` volumes iops must be between 3000 and 80000.\n    at stack")

    monkeypatch.setattr(app, "build_app", refuse)
    assert app.main() == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("synth: ") and "iops must be" in err[0], err


def test_a_synth_input_error_is_not_translated_twice() -> None:
    error = SynthInputError(["config/dev.yaml: database: x"])
    assert error.lines == ["config/dev.yaml: database: x"]


def test_a_real_nag_failure_becomes_one_line_per_finding(tmp_path: Path) -> None:
    """cdk-nag on a real (tiny) App: CDK's own message and report, translated."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_sqs as sqs

    from infra.nag import enable_nag
    from infra.synth_errors import translated_failures

    outdir = tmp_path / "cdk.out"
    app = App(outdir=str(outdir))
    enable_nag(app)
    sqs.Queue(Stack(app, "twenty-dev-monitoring"), "Queue")
    with (
        pytest.raises(SynthInputError) as raised,
        translated_failures("dev", outdir, Path("config")),
    ):
        app.synth()
    lines = raised.value.lines
    assert lines and all(
        line.startswith("config/dev.yaml: monitoring: AwsSolutions-SQS") for line in lines
    )
    assert all("twenty-dev-monitoring/Queue/Resource" in line for line in lines), lines
    assert all(str(outdir / REPORT_FILE) in line for line in lines)
