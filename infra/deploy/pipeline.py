"""The deploy of one environment, step by step, each step a progress line.

0. (the CLI, before this module) preflight's offline check: the committed example values of
   the config (infra/ops/placeholders.py) are refused by name.
1. credentials: resolved offline (infra/deploy/credentials.py); none, and nothing else runs.
   Then STS says whose they are (with the shared timeouts of infra/ops/aws.py): another
   account, or an endpoint that does not answer, stops here in seconds, not in cdk deploy.
2. guard: the working tree's assembly against the `deployed/<env>` commit, with the reviewers'
   diff (infra/review/); a stateful replacement not named in ALLOW_DESTRUCTIVE stops here.
3. cdk deploy of exactly that assembly: every stack of the environment (or the `--stack` parts),
   `--concurrency` stacks of a wave side by side, `--require-approval`, outputs to a file.
4. the tag: `deployed/<env>` moves to HEAD, after a complete deploy of a clean working tree only.

The guard's diff and the command runner are passed in, so tests drive the pipeline on fixture
diffs and see which commands would have run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from infra.deploy.credentials import CredentialsError, credential_source
from infra.deploy.tags import (
    TagError,
    deployed_commit,
    head_commit,
    move_tag_command,
    tag_name,
    uncommitted,
)
from infra.ops import progress
from infra.ops.report import UnusableError
from infra.review.checkout import CheckoutError
from infra.review.command import Outcome, UsageError, diff_for_deploy, write_reports
from infra.review.templates import DiffToolError

EXIT_OK = 0
EXIT_BAD_INPUT = 2  # unknown environment or part, bad ALLOW_DESTRUCTIVE, dirty tree, failed synth
EXIT_BLOCKED = 3  # the guard stopped a stateful replacement: nothing deployed
# No usable AWS credentials (none, refused, another account, unreachable endpoint): nothing
# synthesized, nothing deployed. The same code as every other command's (infra/ops/report.py).
EXIT_NO_CREDENTIALS = EXIT_BAD_INPUT
EXIT_DEPLOY_FAILED = 5  # cdk deploy failed: some stacks may have changed, the tag did not move
EXIT_TAG_FAILED = 6  # deployed, but deployed/<env> could not be moved

EXIT_CODES = {
    EXIT_OK: "deployed (and deployed/<env> moved to HEAD unless --stack or --allow-dirty)",
    EXIT_BAD_INPUT: "bad input: unknown environment or --stack part, a committed example value "
    "in the config (preflight's offline check), malformed ALLOW_DESTRUCTIVE, uncommitted "
    "changes, a base or synth that fails; or no usable AWS credentials (none, refused, of "
    "another account, endpoint unreachable): nothing was run",
    EXIT_BLOCKED: "the guard blocked a stateful replacement, a lost retain policy or an update "
    "AWS rejects; nothing was deployed",
    EXIT_DEPLOY_FAILED: "cdk deploy failed; deployed/<env> did not move",
    EXIT_TAG_FAILED: "deployed, but deployed/<env> could not be moved",
}
REQUIRE_APPROVAL = ("never", "any-change", "broadening")

Runner = Callable[[Sequence[str]], int]
GuardDiff = Callable[["DeployRequest", str | None], Outcome]


@dataclass(frozen=True)
class DeployRequest:
    """What to deploy and how."""

    root: Path
    env: str
    stack_names: tuple[str, ...]  # every stack of the environment, or the --stack parts
    partial: bool
    allowed: frozenset[str]
    concurrency: int = 4
    require_approval: str = "broadening"
    allow_dirty: bool = False
    report_dir: Path = field(default_factory=lambda: Path("cdk.out"))
    account: str | None = None  # the config's account: the credentials' must be it (STS)
    region: str | None = None

    @property
    def assembly(self) -> Path:
        """The assembly the guard checks and cdk deploys: cdk.out/deploy-<env>."""
        return self.report_dir / f"deploy-{self.env}"

    @property
    def outputs_file(self) -> Path:
        return self.report_dir / f"outputs-{self.env}.json"

    def cdk_command(self) -> list[str]:
        cdk = self.root / "node_modules" / ".bin" / "cdk"
        return [
            str(cdk),
            "deploy",
            "--app",
            str(self.assembly),
            *self.stack_names,
            "--concurrency",
            str(self.concurrency),
            "--require-approval",
            self.require_approval,
            "--outputs-file",
            str(self.outputs_file),
            "--progress",
            "events",
        ]


def guard_diff(request: DeployRequest, commit: str | None) -> Outcome:
    """The real guard: synthesize the working tree into the request's assembly and diff it."""
    shutil.rmtree(request.assembly, ignore_errors=True)
    return diff_for_deploy(
        root=request.root,
        env=request.env,
        ref=tag_name(request.env),
        commit=commit,
        allowed=request.allowed,
        head_out=request.assembly,
        progress=_guard_progress,
        report_dir=request.report_dir,
    )


def _guard_progress(line: str) -> None:
    progress.step(line)
    _say("      " + line)


def caller_account(region: str) -> str:
    """The account of the credentials, from STS with the shared timeouts (infra/ops/aws.py);
    `UnusableError` with one line without credentials or an endpoint that does not answer."""
    from infra.ops.aws import Aws

    return Aws(region).account()


def run_command(args: Sequence[str]) -> int:
    """Run a command in the foreground, its output streaming through; Node from the venv."""
    environ = dict(os.environ)
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    environ["JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"] = "1"
    return subprocess.run(list(args), env=environ, check=False).returncode


def _say(line: str) -> None:
    progress.say(f"deploy: {line}", sys.stdout)


def _fail(line: str) -> None:
    progress.say(f"deploy: {line}", sys.stderr)


def deploy(
    request: DeployRequest,
    *,
    credentials: Callable[[], str | None] = credential_source,
    diff: GuardDiff = guard_diff,
    run: Runner = run_command,
    say: Callable[[str], None] = _say,
    fail: Callable[[str], None] = _fail,
    account: Callable[[str], str] = caller_account,
) -> int:
    """Deploy `request.env`; the exit code is one of EXIT_CODES."""
    env, tag = request.env, tag_name(request.env)
    try:
        source = credentials()
    except CredentialsError as exc:
        fail(f"AWS credentials are configured but unusable: {exc}; fix AWS_PROFILE or the file")
        return EXIT_NO_CREDENTIALS
    if source is None:
        fail(
            "no AWS credentials found (environment, AWS_PROFILE/SSO profile, web identity); "
            f"log in to the {env} account (e.g. `aws sso login --profile <p>` and "
            "AWS_PROFILE=<p>) and run again; nothing was deployed"
        )
        return EXIT_NO_CREDENTIALS
    if request.account is not None and request.region is not None:
        progress.step("asking STS for the credentials' account")
        try:
            actual = account(request.region)
        except UnusableError as exc:
            fail(f"{exc}; nothing was deployed")
            return EXIT_NO_CREDENTIALS
        if actual != request.account:
            fail(
                f"the credentials ({source}) are for account {actual}, config/{env}.yaml names "
                f"{request.account}; use credentials of {request.account}; nothing was deployed"
            )
            return EXIT_NO_CREDENTIALS
        source = f"{source}, account {actual}"
    say(f"[1/4] credentials: {source}")

    try:
        head = head_commit(request.root)
        dirty = uncommitted(request.root)
        if dirty and not request.allow_dirty:
            fail(
                f"uncommitted changes ({', '.join(dirty[:5])}{', ...' if len(dirty) > 5 else ''}"
                f"); commit them, since {tag} must name what is deployed, or pass --allow-dirty "
                "(the tag then stays where it is)"
            )
            return EXIT_BAD_INPUT
        base = deployed_commit(request.root, env)
    except TagError as exc:
        fail(str(exc))
        return EXIT_BAD_INPUT
    if base is None:
        say(f"[2/4] guard: no tag {tag}: first deploy of {env}, every stack is new; synthesizing")
    else:
        say(f"[2/4] guard: {tag} ({base[:12]}) → working tree ({head[:12]}); synthesizing both")
    progress.step("synthesizing and diffing for the guard")
    try:
        outcome = diff(request, base)
    except (UsageError, CheckoutError, DiffToolError) as exc:
        fail(f"guard: {exc}")
        return EXIT_BAD_INPUT
    for path in write_reports(outcome, request.report_dir, "-deploy"):
        say(f"      report: {path}")
    for line in outcome.report.splitlines():
        if line.startswith("- **"):
            say("      " + line.removeprefix("- "))
    if outcome.blocked:
        listed = ", ".join(f.describe() for f in outcome.blocked)
        fail(
            f"BLOCKED by the guard, nothing deployed: {listed}; if intended, name each in "
            "ALLOW_DESTRUCTIVE=<env>/<stack>/<logical id>,... (docs/reviewing.md)"
        )
        return EXIT_BLOCKED

    say(
        f"[3/4] cdk deploy: {len(request.stack_names)} stack(s) of {env}, concurrency "
        f"{request.concurrency}, require-approval {request.require_approval}"
    )
    progress.step("running cdk deploy", streams=True)  # its events stream through
    code = run(request.cdk_command())
    if code != 0:
        fail(f"cdk deploy failed (exit {code}); {tag} stays at {base[:12] if base else 'none'}")
        return EXIT_DEPLOY_FAILED
    for line in _stack_lines(request):
        say("      " + line)

    if request.partial or dirty:
        why = "--stack deploys part of the environment" if request.partial else "uncommitted tree"
        say(f"[4/4] tag: {tag} not moved ({why}); done")
        return EXIT_OK
    code = run(move_tag_command(request.root, env, head))
    if code != 0:
        fail(f"deployed, but `git tag` failed (exit {code}); move {tag} to {head[:12]} by hand")
        return EXIT_TAG_FAILED
    say(f"[4/4] tag: {tag} → {head[:12]}; done")
    return EXIT_OK


def _stack_lines(request: DeployRequest) -> list[str]:
    """One line per deployed stack, from the outputs file cdk wrote."""
    try:
        outputs = json.loads(request.outputs_file.read_text())
    except (OSError, ValueError):
        return [f"{name}: deployed" for name in request.stack_names]
    return [
        f"{name}: deployed, {len(outputs.get(name, {}))} output(s)" for name in request.stack_names
    ]
