"""Every day-2 command fails fast and says so: bad paths, no credentials, and an AWS endpoint
that accepts connections but never answers (a socket server on 127.0.0.1 that this test runs).

The commands run in-process through `infra.cli.main` with the shared bounds of
infra/ops/aws.py shortened by their TWENTY_AWS_* variables, so each black-hole case ends in
about a second with one line and exit 2, never a traceback and never a hang.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.cli import main
from infra.deploy.pipeline import EXIT_NO_CREDENTIALS, DeployRequest, caller_account, deploy
from infra.ops import progress
from infra.ops.aws import Aws, Timeouts
from infra.ops.report import UnusableError
from tests.ops.conftest import REGION

SHORT = {
    "TWENTY_AWS_CONNECT_TIMEOUT": "1",
    "TWENTY_AWS_READ_TIMEOUT": "0.1",
    "TWENTY_AWS_MAX_ATTEMPTS": "1",
}
BOUND_SECONDS = 8.0  # far above the shortened bounds, far below any hang


class BlackHole:
    """Accepts TCP connections on 127.0.0.1 and never answers; holds them until closed."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.port = int(self.server.getsockname()[1])
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set() and len(self.held) < 64:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(connection)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        for connection in self.held:
            connection.close()
        self.server.close()


@pytest.fixture
def black_hole(monkeypatch: pytest.MonkeyPatch) -> Iterator[BlackHole]:
    hole = BlackHole()
    monkeypatch.setenv("AWS_ENDPOINT_URL", hole.url)
    for name, value in SHORT.items():
        monkeypatch.setenv(name, value)
    try:
        yield hole
    finally:
        hole.close()


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    """A cloud assembly manifest saying which bootstrap version dev's stacks need."""
    directory = tmp_path / "cdk.out"
    directory.mkdir()
    artifact = {
        "type": "aws:cloudformation:stack",
        "properties": {
            "templateFile": "twenty-dev-network.template.json",
            "requiresBootstrapStackVersion": 6,
            "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version",
        },
    }
    manifest = {"version": "48.0.0", "artifacts": {"twenty-dev-network": artifact}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    (directory / "twenty-dev-network.template.json").write_text("{}")
    return directory


def _aws_commands(config_dir: Path, assembly: Path, tmp_path: Path) -> dict[str, list[str]]:
    common = ["--env", "dev", "--config-dir", str(config_dir)]
    return {
        "preflight": ["preflight", *common, "--assembly", str(assembly)],
        "pin-ami": ["pin-ami", *common],
        "verify": ["verify", *common, "--wait-seconds", "1"],
        "smtp-credentials": ["smtp-credentials", *common],
        "prices": ["prices", "--env", "dev", "--price-dir", str(tmp_path / "prices")],
    }


PROGRESS = (": asking ", ": still ")  # progress lines, not errors


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line on stderr (progress lines aside)."""
    err = capsys.readouterr().err
    lines = [
        line for line in err.splitlines() if line.strip() and not any(p in line for p in PROGRESS)
    ]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


COMMANDS = ["preflight", "pin-ami", "verify", "smtp-credentials", "prices"]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_endpoint_that_never_answers_ends_in_one_line(
    command: str,
    black_hole: BlackHole,
    config_dir: Path,
    assembly: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    code = main(_aws_commands(config_dir, assembly, tmp_path)[command])
    elapsed = time.monotonic() - started
    line = _one_line(capsys)
    assert code == 2, line
    assert "cannot reach AWS" in line and "Read timeout" in line, line
    assert elapsed < BOUND_SECONDS
    assert black_hole.held, "the command never connected to the endpoint"


@pytest.mark.parametrize("command", COMMANDS)
def test_no_credentials_is_exit_2_everywhere(
    command: str,
    no_credentials: None,
    config_dir: Path,
    assembly: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(_aws_commands(config_dir, assembly, tmp_path)[command])
    line = _one_line(capsys)
    assert code == 2 and "no AWS credentials" in line, line


def test_deploy_against_an_endpoint_that_never_answers(
    black_hole: BlackHole, tmp_path: Path
) -> None:
    request = DeployRequest(
        root=tmp_path,
        env="dev",
        stack_names=("twenty-dev-network",),
        partial=False,
        allowed=frozenset(),
        report_dir=tmp_path / "out",
        account="123456789012",
        region=REGION,
    )
    failed: list[str] = []
    started = time.monotonic()
    code = deploy(
        request,
        credentials=lambda: "env",
        diff=lambda *_: pytest.fail("the guard ran"),
        run=lambda _: pytest.fail("a command ran"),  # type: ignore[arg-type,return-value]
        say=lambda _: None,
        fail=failed.append,
        account=caller_account,
    )
    assert code == EXIT_NO_CREDENTIALS
    assert len(failed) == 1 and "cannot reach AWS" in failed[0], failed
    assert time.monotonic() - started < BOUND_SECONDS


def test_deploy_without_credentials(no_credentials: None, tmp_path: Path) -> None:
    with pytest.raises(UnusableError, match="no AWS credentials"):
        caller_account(REGION)


def test_a_silent_step_gets_a_progress_line(black_hole: BlackHole) -> None:
    """While a call waits on the endpoint, the watchdog names it on stderr."""
    stream = io.StringIO()
    aws = Aws(REGION, Timeouts(connect=1, read=0.4, attempts=1))
    with (
        progress.watching("preflight", quiet_seconds=0.2, stream=stream),
        pytest.raises(UnusableError),
    ):
        aws.account()
    assert "preflight: still waiting for AWS sts GetCallerIdentity" in stream.getvalue()


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf"])
def test_bad_timeout_variables_are_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWENTY_AWS_READ_TIMEOUT", value)
    with pytest.raises(UnusableError, match="TWENTY_AWS_READ_TIMEOUT"):
        Timeouts.from_environment()


def test_a_bad_timeout_variable_is_one_line_from_a_command(
    monkeypatch: pytest.MonkeyPatch, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TWENTY_AWS_MAX_ATTEMPTS", "many")
    assert main(["pin-ami", "--env", "dev", "--config-dir", str(config_dir)]) == 2
    assert "TWENTY_AWS_MAX_ATTEMPTS='many'" in _one_line(capsys)


def _corrupt(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_text('{"artifacts": {"twenty-dev-network": ')
    return directory


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["preflight", "--env", "dev", "--config-dir", "{missing}"], "does not exist"),
        (["preflight", "--env", "dev", "--config-dir", "{file}"], "is not a directory"),
        (["pin-ami", "--env", "dev", "--config-dir", "{missing}"], "{missing}: does not exist"),
        (["verify", "--env", "dev", "--config-dir", "{missing}"], "does not exist"),
        (["verify", "--env", "dev", "--wait-seconds", "-1"], "expected 0 or more seconds"),
        (["verify", "--env", "dev", "--base-url", "crm.example.org"], "not an http(s) URL"),
        (["verify", "--env", "dev", "--base-url", "ftp://crm.example.org"], "not an http(s)"),
        (["smtp-credentials", "--env", "dev", "--config-dir", "{missing}"], "does not exist"),
        (["deploy-target", "--env", "dev", "--config-dir", "{missing}"], "does not exist"),
        (["prices", "--price-dir", "{file}"], "is not a directory"),
        (["cost", "--outdir", "{file}"], "is not a directory"),
        (["cost", "--env", "dev", "--outdir", "{corrupt}"], "not a readable cloud assembly"),
        (["diagram", "--docs-dir", "{file}/pages"], "is not a directory"),
        (["diagram", "--env", "dev", "--outdir", "{corrupt}"], "not a readable cloud assembly"),
    ],
)
def test_bad_paths_and_arguments_are_one_line_exit_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    assembly: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    places = {
        "missing": str(tmp_path / "absent"),
        "file": str(tmp_path / "a-file"),
        "corrupt": str(_corrupt(tmp_path / "corrupt.out")),
    }
    Path(places["file"]).write_text("not a directory\n")
    started = time.monotonic()
    try:
        code = main([arg.format(**places) for arg in args])
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    line = _one_line(capsys)
    assert code == 2 and message.format(**places) in line, line
    assert time.monotonic() - started < BOUND_SECONDS


def test_preflight_without_an_assembly_names_it(
    config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["preflight", "--env", "dev", "--config-dir", str(config_dir)]
    assert main([*args, "--assembly", str(tmp_path / "nothing")]) == 2
    assert "no cloud assembly" in _one_line(capsys)


def test_deploy_target_needs_neither_credentials_nor_an_endpoint(
    black_hole: BlackHole,
    no_credentials: None,
    config_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Derived from config only: it answers at once, offline, once the examples are replaced."""
    assert main(["deploy-target", "--env", "dev", "--config-dir", str(config_dir)]) == 0
    out = capsys.readouterr().out
    assert "role-arn=arn:aws:iam::123456789012:role/twenty-dev-github-deploy" in out
    assert black_hole.held == []


def test_a_step_that_streams_its_own_output_gets_no_extra_lines() -> None:
    stream = io.StringIO()
    with progress.watching("deploy", quiet_seconds=0.1, stream=stream):
        progress.step("running cdk deploy", streams=True)
        time.sleep(0.8)
        assert stream.getvalue() == ""
        progress.step("moving the tag")
        time.sleep(0.8)
    assert "deploy: still moving the tag" in stream.getvalue()
