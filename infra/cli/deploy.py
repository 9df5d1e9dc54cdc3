"""`deploy` and `deploy-target`: deploy one environment (guard, cdk deploy, tag) and the facts
of its deploy job for GitHub Actions."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli import EXIT_BAD_INPUT
from infra.config import CONFIG_DIR

if TYPE_CHECKING:
    from infra.cli import _Parser
    from infra.config import EnvironmentConfig

ROOT = Path(__file__).resolve().parents[2]
"""The repository: its working tree is what a deploy synthesizes and tags."""


def _deploy(args: argparse.Namespace) -> int:
    # no CDK import here: the deploy synthesizes in a subprocess, and a missing credential
    # should be reported in a second
    from infra.cli.operations import environment_file
    from infra.config import CONFIG_DIR, load_environment
    from infra.deploy.pipeline import DeployRequest, deploy
    from infra.naming import stack_name, stack_parts
    from infra.review.guard import AllowListError, parse_allow_list

    config_file = environment_file(args.env, CONFIG_DIR)
    cfg = load_environment(args.env, CONFIG_DIR)
    parts = stack_parts(cfg)
    unknown = [p for p in args.stack if p not in parts]
    if unknown:
        print(
            f"deploy: --stack {unknown[0]}: not a part of {cfg.name}; use one of "
            + ", ".join(parts),
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if args.concurrency < 1:
        print("deploy: --concurrency must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        allowed = parse_allow_list([os.environ.get("ALLOW_DESTRUCTIVE"), *args.allow_destructive])
    except AllowListError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    refuse_examples("deploy", cfg, config_file)  # arguments first, then the config's values
    chosen = [p for p in parts if p in args.stack] if args.stack else list(parts)
    request = DeployRequest(
        root=ROOT,
        env=cfg.name,
        stack_names=tuple(stack_name(cfg.name, p) for p in chosen),
        partial=bool(args.stack),
        allowed=allowed,
        concurrency=args.concurrency,
        require_approval=args.require_approval,
        allow_dirty=args.allow_dirty,
        report_dir=Path(args.report_dir),
        account=cfg.account,
        region=cfg.region,
    )
    return deploy(request)


def refuse_examples(command: str, cfg: EnvironmentConfig, config_file: Path) -> None:
    """Preflight's offline check: a committed example value (account, AMI, ranges, addresses)
    is refused by name, one line each (exit 2)."""
    from infra.ops.preflight import offline_problems
    from infra.ops.report import UnusableError

    problems = offline_problems(cfg, config_file)
    if problems:
        raise UnusableError("\n".join(f"{command}: {line}" for line in problems))


def _bootstrap(args: argparse.Namespace) -> int:
    from infra.config import load_environment
    from infra.deploy.bootstrap import bootstrap
    from infra.ops.aws import Aws

    cfg = load_environment(args.env)
    aws = Aws(cfg.region)
    return bootstrap(cfg, Path(args.assembly), aws.client("iam"), aws.account())


def _deploy_target(args: argparse.Namespace) -> int:
    from infra.cli.operations import environment_file
    from infra.config import load_environment
    from infra.deploy.target import github_outputs

    config_dir = Path(args.config_dir)
    config_file = environment_file(args.env, config_dir)
    refuse_examples("deploy-target", load_environment(args.env, config_dir), config_file)
    print(github_outputs(args.env, config_dir), end="")
    return 0


def add_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    from infra.deploy.pipeline import EXIT_CODES, REQUIRE_APPROVAL

    codes = "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    deploy = commands.add_parser(
        "deploy",
        help="guard, cdk deploy and tag one environment (make deploy ENV=<env>)",
        description="Deploy one environment: refuse the committed example values of the config "
        "(preflight's offline check), check AWS credentials (offline, then STS: the config's "
        "account), run the guard "
        "against the deployed/<env> tag (the last deployed commit), cdk deploy the checked "
        "assembly (cdk.out/deploy-<env>), then move deployed/<env> to HEAD.",
        epilog="exit codes:\n" + codes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    deploy.add_argument("--env", required=True, help="environment name (config/<env>.yaml)")
    deploy.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="PART",
        help="deploy only this part (e.g. cicd for the one-time bootstrap); repeatable; "
        "the tag does not move",
    )
    deploy.add_argument(
        "--concurrency", type=int, default=4, help="stacks deployed side by side (default 4)"
    )
    deploy.add_argument(
        "--require-approval",
        choices=REQUIRE_APPROVAL,
        default="broadening",
        help="cdk's prompt for security-relevant changes (default broadening; CI: never, "
        "its approval is the GitHub environment's reviewers)",
    )
    deploy.add_argument(
        "--allow-destructive",
        action="append",
        default=[],
        metavar="ENV/STACK/LOGICAL_ID,...",
        help="stateful replacements allowed (also the ALLOW_DESTRUCTIVE environment variable)",
    )
    deploy.add_argument(
        "--allow-dirty",
        action="store_true",
        help="deploy uncommitted changes (the tag then does not move)",
    )
    deploy.add_argument("--report-dir", default="cdk.out", help="assembly, report and outputs")
    deploy.set_defaults(run=_deploy)
    boot = commands.add_parser(
        "bootstrap",
        help="cdk bootstrap with least-privilege execution policies and the estate's "
        "permissions boundary (make bootstrap ENV=<env>)",
        description="Create or update twenty-<env>-permissions-boundary and "
        "twenty-<env>-cfn-execution-<n> (derived from the synthesized templates' resource "
        "types), then cdk bootstrap the account and region with them.",
        epilog="exit codes: 0 bootstrapped; 1 cdk bootstrap failed; 2 bad input (missing "
        "templates, credentials of another account, no credentials)",
    )
    boot.add_argument("--env", required=True, help="environment name (config/<env>.yaml)")
    boot.add_argument(
        "--assembly", default="cdk.out", help="synthesized templates (make synth ENV=<env>)"
    )
    boot.set_defaults(run=_bootstrap)
    target = commands.add_parser(
        "deploy-target",
        help="key=value facts of an environment's deploy job, for $GITHUB_OUTPUT",
        description="Role ARN, region, URL of an environment's deploy job, derived from config. "
        "Exit codes: 0 printed; 2 bad input (config, a committed example value such as the "
        "example account, named one line each).",
    )
    target.add_argument("--env", required=True, help="environment name (config/<env>.yaml)")
    target.add_argument("--config-dir", default=str(CONFIG_DIR), help="directory of <env>.yaml")
    target.set_defaults(run=_deploy_target)
