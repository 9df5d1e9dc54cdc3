"""`python -m infra deploy`: the pipeline on fixture diffs, with an injected command runner.

The guard's verdict decides whether any command runs: a blocked stateful replacement runs
neither `cdk deploy` nor `git tag`. The credentials check runs before anything else, offline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from infra.deploy.credentials import CredentialsError, credential_source
from infra.deploy.pipeline import (
    EXIT_BAD_INPUT,
    EXIT_BLOCKED,
    EXIT_DEPLOY_FAILED,
    EXIT_NO_CREDENTIALS,
    EXIT_OK,
    DeployRequest,
    deploy,
)
from infra.deploy.tags import deployed_commit, tag_name
from infra.review.command import Outcome, compare, outcome
from infra.review.guard import parse_allow_list
from tests.conftest import ROOT
from tests.test_diff import DATA, ENV, _base_stacks, _write_assembly

STACKS = tuple(f"twenty-{ENV}-{part}" for part in ("network", "data", "cicd"))
REPLACEMENT = f"{ENV}/{DATA}/DatabaseInstance"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit: the deploy's working tree."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "ci@example.com")
    _git(root, "config", "user.name", "ci")
    (root / "README.md").write_text("estate\n")
    _git(root, "add", "README.md")
    _git(root, "commit", "-q", "-m", "first")
    return root


@pytest.fixture(scope="module")
def replacing_assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Fixture assemblies whose change replaces the database host (a new AMI)."""
    work = tmp_path_factory.mktemp("assemblies")
    new = _base_stacks()
    new[DATA]["Resources"]["DatabaseInstance"]["Properties"]["ImageId"] = "ami-0fedcba9876543210"
    return _write_assembly(work / "old", _base_stacks()), _write_assembly(work / "new", new)


class Recorder:
    """The injected command runner: records each command, answers with `codes`."""

    def __init__(self, cdk_exit: int = 0, real_git: bool = True) -> None:
        self.commands: list[list[str]] = []
        self.cdk_exit = cdk_exit
        self.real_git = real_git

    def __call__(self, args: Sequence[str]) -> int:
        self.commands.append(list(args))
        if args[0].endswith("cdk"):
            return self.cdk_exit
        return subprocess.run(list(args), check=False).returncode if self.real_git else 0

    @property
    def cdk_calls(self) -> list[list[str]]:
        return [c for c in self.commands if c[0].endswith("cdk")]


def _request(repo: Path, tmp_path: Path, **overrides: object) -> DeployRequest:
    values: dict[str, object] = {
        "root": repo,
        "env": ENV,
        "stack_names": STACKS,
        "partial": False,
        "allowed": frozenset(),
        "concurrency": 4,
        "require_approval": "never",
        "report_dir": tmp_path / "out",
    }
    values.update(overrides)
    return DeployRequest(**values)  # type: ignore[arg-type]


_OUTCOMES: dict[tuple[tuple[Path, Path], frozenset[str]], Outcome] = {}


def _fixture_diff(assemblies: tuple[Path, Path], seen: list[str | None]):  # type: ignore[no-untyped-def]
    """The guard's diff on the fixture assemblies (each verdict computed once per session)."""

    def diff(request: DeployRequest, commit: str | None) -> Outcome:
        seen.append(commit)
        key = (assemblies, request.allowed)
        if key not in _OUTCOMES:
            old, new = assemblies
            _OUTCOMES[key] = outcome("fixture", compare([ENV], old, new, request.allowed))
        return _OUTCOMES[key]

    return diff


def _run(
    request: DeployRequest,
    assemblies: tuple[Path, Path],
    runner: Recorder,
    credentials: str | None = "env",
) -> tuple[int, list[str | None], list[str], list[str]]:
    seen: list[str | None] = []
    said: list[str] = []
    failed: list[str] = []
    code = deploy(
        request,
        credentials=lambda: credentials,
        diff=_fixture_diff(assemblies, seen),
        run=runner,
        say=said.append,
        fail=failed.append,
    )
    return code, seen, said, failed


def test_blocked_replacement_runs_no_command(
    repo: Path, tmp_path: Path, replacing_assemblies: tuple[Path, Path]
) -> None:
    runner = Recorder()
    code, seen, said, failed = _run(_request(repo, tmp_path), replacing_assemblies, runner)
    assert code == EXIT_BLOCKED
    assert runner.commands == []
    assert seen == [None]  # no deployed/dev tag yet: judged as a first deploy
    assert len(failed) == 1 and REPLACEMENT in failed[0] and "ALLOW_DESTRUCTIVE" in failed[0]
    assert deployed_commit(repo, ENV) is None
    assert any(line.startswith("[2/4] guard") for line in said)


def test_allowed_replacement_deploys_then_moves_the_tag(
    repo: Path, tmp_path: Path, replacing_assemblies: tuple[Path, Path]
) -> None:
    runner = Recorder()
    request = _request(repo, tmp_path, allowed=parse_allow_list([REPLACEMENT]))
    code, _, said, failed = _run(request, replacing_assemblies, runner)
    assert (code, failed) == (EXIT_OK, [])
    (cdk,) = runner.cdk_calls
    assert cdk[1:4] == ["deploy", "--app", str(request.assembly)]
    assert cdk[4:7] == list(STACKS)
    assert cdk[cdk.index("--concurrency") + 1] == "4"
    assert cdk[cdk.index("--require-approval") + 1] == "never"
    assert cdk[cdk.index("--outputs-file") + 1] == str(tmp_path / "out" / f"outputs-{ENV}.json")
    assert runner.commands[-1][-4:] == [
        "tag",
        "--force",
        tag_name(ENV),
        _git(repo, "rev-parse", "HEAD"),
    ]
    assert deployed_commit(repo, ENV) == _git(repo, "rev-parse", "HEAD")
    assert [line[:5] for line in said if line.startswith("[")] == [
        "[1/4]",
        "[2/4]",
        "[3/4]",
        "[4/4]",
    ]
    assert (tmp_path / "out" / f"diff-{ENV}-deploy.md").exists()


def test_guard_compares_with_the_deployed_tag(
    repo: Path, tmp_path: Path, replacing_assemblies: tuple[Path, Path]
) -> None:
    first = _git(repo, "rev-parse", "HEAD")
    _git(repo, "tag", tag_name(ENV), first)
    (repo / "README.md").write_text("estate, changed\n")
    _git(repo, "commit", "-qam", "second")
    runner = Recorder()
    request = _request(repo, tmp_path, allowed=parse_allow_list([REPLACEMENT]))
    code, seen, _, _ = _run(request, replacing_assemblies, runner)
    assert code == EXIT_OK
    assert seen == [first]
    assert deployed_commit(repo, ENV) == _git(repo, "rev-parse", "HEAD") != first


def test_failed_cdk_deploy_leaves_the_tag(
    repo: Path, tmp_path: Path, replacing_assemblies: tuple[Path, Path]
) -> None:
    runner = Recorder(cdk_exit=1)
    request = _request(repo, tmp_path, allowed=parse_allow_list([REPLACEMENT]))
    code, _, _, failed = _run(request, replacing_assemblies, runner)
    assert code == EXIT_DEPLOY_FAILED
    assert len(runner.commands) == 1 and "exit 1" in failed[0]
    assert deployed_commit(repo, ENV) is None


def test_no_credentials_stops_before_anything(
    repo: Path, tmp_path: Path, replacing_assemblies: tuple[Path, Path]
) -> None:
    runner = Recorder()
    code, seen, said, failed = _run(
        _request(repo, tmp_path), replacing_assemblies, runner, credentials=None
    )
    assert code == EXIT_NO_CREDENTIALS
    assert (runner.commands, seen, said) == ([], [], [])
    assert len(failed) == 1 and "no AWS credentials" in failed[0]


def test_uncommitted_changes_are_refused_or_leave_the_tag(
    repo: Path, tmp_path: Path, replacing_assemblies: tuple[Path, Path]
) -> None:
    (repo / "README.md").write_text("edited, not committed\n")
    runner = Recorder()
    code, seen, _, failed = _run(_request(repo, tmp_path), replacing_assemblies, runner)
    assert code == EXIT_BAD_INPUT and seen == [] and "README.md" in failed[0]
    request = _request(repo, tmp_path, allow_dirty=True, allowed=parse_allow_list([REPLACEMENT]))
    code, _, said, _ = _run(request, replacing_assemblies, runner)
    assert code == EXIT_OK and len(runner.cdk_calls) == 1
    assert deployed_commit(repo, ENV) is None
    assert "not moved" in said[-1]


def test_partial_deploy_leaves_the_tag(
    repo: Path, tmp_path: Path, replacing_assemblies: tuple[Path, Path]
) -> None:
    runner = Recorder()
    request = _request(
        repo,
        tmp_path,
        stack_names=(f"twenty-{ENV}-cicd",),
        partial=True,
        allowed=parse_allow_list([REPLACEMENT]),
    )
    code, _, _, _ = _run(request, replacing_assemblies, runner)
    assert code == EXIT_OK
    assert runner.cdk_calls[0][4] == f"twenty-{ENV}-cicd"
    assert deployed_commit(repo, ENV) is None


def _no_credentials_env(home: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "absent-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "absent-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return environ


def test_credential_source_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _no_credentials_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    for key in [
        k for k in os.environ if k.startswith("AWS_") and k not in _no_credentials_env(tmp_path)
    ]:
        monkeypatch.delenv(key)
    assert credential_source() is None
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x")
    assert credential_source() == "container-role"
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    (tmp_path / "absent-config").write_text(
        "[profile sso-user]\nsso_session = corp\nsso_account_id = 111111111111\n"
        "sso_role_name = Deployer\nregion = sa-east-1\n"
        "[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\n"
        "sso_region = sa-east-1\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "sso-user")
    assert credential_source() == "sso"  # deferred: no call to the SSO portal
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    with pytest.raises(CredentialsError, match="nobody"):
        credential_source()


def test_cli_refuses_the_committed_examples_before_credentials(tmp_path: Path) -> None:
    """Preflight's offline check runs first: each committed example value named on its own
    line, exit 2, before credentials are looked for or anything is synthesized."""
    result = subprocess.run(
        [sys.executable, "-m", "infra", "deploy", "--env", "dev"],
        cwd=ROOT,
        env=_no_credentials_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == EXIT_BAD_INPUT == EXIT_NO_CREDENTIALS
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("deploy: config/dev.yaml: ") for line in lines), result.stderr
    named = " ".join(lines)
    for example in ("111111111111", "ami-00000000000000000", "203.0.113.0/24", "example.com"):
        assert example in named
    assert "Traceback" not in result.stderr and "credentials" not in result.stderr


def test_credentials_of_another_account_stop_before_the_guard(
    repo: Path, tmp_path: Path, replacing_assemblies: tuple[Path, Path]
) -> None:
    runner = Recorder()
    request = _request(repo, tmp_path, account="123456789012", region="sa-east-1")
    failed: list[str] = []
    code = deploy(
        request,
        credentials=lambda: "env",
        diff=lambda *_: pytest.fail("the guard ran"),
        run=runner,
        say=lambda _: None,
        fail=failed.append,
        account=lambda region: "210987654321",
    )
    assert code == EXIT_NO_CREDENTIALS and runner.commands == []
    assert len(failed) == 1 and "account 210987654321" in failed[0], failed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "nowhere"], "config/nowhere.yaml: no such file"),
        (["--env", "dev", "--stack", "vpc"], "--stack vpc: not a part of dev"),
        (["--env", "dev", "--allow-destructive", "dev/x"], "expected <env>/<stack>/<logical id>"),
    ],
)
def test_cli_bad_input_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra.cli import main

    assert main(["deploy", *args]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_help_documents_exit_codes() -> None:
    from infra.cli import _parser

    text = _parser()._subparsers._group_actions[0].choices["deploy"].format_help()  # type: ignore[union-attr]
    for code in ("0", "2", "3", "5", "6"):
        assert f"\n  {code}  " in text
    assert "\n  4  " not in text  # no credentials is 2, as for every command


def test_deploy_target_refuses_the_example_account(capsys: pytest.CaptureFixture[str]) -> None:
    from infra.cli import main

    assert main(["deploy-target", "--env", "prod"]) == EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == "" and "333333333333, the example prod account id" in err


def test_deploy_target_is_derived_from_config() -> None:
    from infra.deploy.target import github_outputs

    values = dict(line.split("=", 1) for line in github_outputs("prod").splitlines())
    assert values == {
        "role-arn": "arn:aws:iam::333333333333:role/twenty-prod-github-deploy",
        "region": "sa-east-1",
        "github-environment": "prod",
        "approval-required": "true",
        "url": "https://mgenial.olhai.app.br",
        "health-url": "https://mgenial.olhai.app.br/healthz",
    }
    assert "approval-required=false" in github_outputs("dev")
