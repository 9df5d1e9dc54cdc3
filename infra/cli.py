"""`python -m infra <command>`: the estate's tools (validate, synth, diff, deploy, config-docs,
cost, diagram, prices, and the day-2 operations preflight, pin-ami, verify, smtp-credentials).

Bad input never produces a traceback: one line naming the file, the field and the fix, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from infra.config import (
    CONFIG_DIR,
    ConfigError,
    EnvironmentConfig,
    environment_files,
    load_all,
    load_environment,
)

if TYPE_CHECKING:
    from infra.ops.report import Report

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}; see --help\n")


def _validate(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files] or environment_files()
    configs = load_all(files)
    for cfg in configs:
        print(f"ok: {cfg.name} ({cfg.region}, {cfg.network.vpc_cidr}, {cfg.domain_name})")
    return 0


def _synth(args: argparse.Namespace) -> int:
    # A bad config is refused in a second, before the CDK's imports (several seconds) run;
    # synth_estate loads it again through the same loader.
    if args.env:
        load_environment(args.env)
    else:
        load_all(environment_files())
    from infra.synth import synth_estate

    print(synth_estate(env=args.env, outdir=args.outdir))
    return 0


def _progress(line: str) -> None:
    """One line per step of a long command, on stderr (stdout carries the report)."""
    print(f"diff: {line}", file=sys.stderr, flush=True)


DIFF_EXIT_CODES = """exit codes:
  0  clean: nothing stateful is replaced, destroyed or orphaned (or each one is allowed);
     updates, stop/start updates and replacements of stateless resources exit 0
  2  bad input: unknown environment, bad git ref, a base that predates
     `python -m infra synth --outdir`, a malformed allowance, a synth that fails
  3  blocked by the guard: a stateful resource would be replaced (directly or through a
     reference chain), destroyed or orphaned; name each in ALLOW_DESTRUCTIVE if intended

The report goes to stdout and cdk.out/diff-<env>.md; progress, one line per step, to stderr.
See docs/reviewing.md."""


def _diff(args: argparse.Namespace) -> int:
    from infra.app import ROOT
    from infra.review.checkout import CheckoutError
    from infra.review.command import UsageError, diff_against_ref, write_reports
    from infra.review.guard import AllowListError, parse_allow_list
    from infra.review.promotion import diff_environments
    from infra.review.templates import DiffToolError

    try:
        allowed = parse_allow_list([os.environ.get("ALLOW_DESTRUCTIVE"), *args.allow_destructive])
        if args.base_env:
            result = diff_environments(
                root=ROOT, env=args.env, base_env=args.base_env, progress=_progress
            )
            suffix = f"-from-{args.base_env}"
        else:
            result = diff_against_ref(
                root=ROOT, env=args.env, base=args.base, allowed=allowed, progress=_progress
            )
            suffix = ""
    except (UsageError, AllowListError, CheckoutError, DiffToolError) as exc:
        print(f"diff: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(result.report, end="")
    for path in write_reports(result, Path(args.report_dir), suffix):
        print(f"wrote {path}", file=sys.stderr)
    if args.comment_file:
        from infra.review.comment import pr_comment

        comment = Path(args.comment_file)
        comment.parent.mkdir(parents=True, exist_ok=True)
        comment.write_text(pr_comment(result.report))
        print(f"wrote {comment}", file=sys.stderr)
    if result.blocked:
        listed = ", ".join(f.describe() for f in result.blocked)
        print(
            f"diff: BLOCKED, stateful resources replaced/destroyed/orphaned: {listed}; "
            "name each in ALLOW_DESTRUCTIVE=<env>/<stack>/<logical id>,... if intended",
            file=sys.stderr,
        )
    return result.exit_code


def _deploy(args: argparse.Namespace) -> int:
    # no CDK import here: the deploy synthesizes in a subprocess, and a missing credential
    # should be reported in a second
    from infra.config import load_environment
    from infra.deploy.pipeline import DeployRequest, deploy
    from infra.naming import stack_name, stack_parts
    from infra.review.guard import AllowListError, parse_allow_list

    cfg = load_environment(args.env)
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
    chosen = [p for p in parts if p in args.stack] if args.stack else list(parts)
    request = DeployRequest(
        root=Path(__file__).resolve().parent.parent,
        env=cfg.name,
        stack_names=tuple(stack_name(cfg.name, p) for p in chosen),
        partial=bool(args.stack),
        allowed=allowed,
        concurrency=args.concurrency,
        require_approval=args.require_approval,
        allow_dirty=args.allow_dirty,
        report_dir=Path(args.report_dir),
    )
    return deploy(request)


def _deploy_target(args: argparse.Namespace) -> int:
    from infra.deploy.target import github_outputs

    print(github_outputs(args.env), end="")
    return 0


COST_EXIT_CODES = """exit codes:
  0  estimate printed (with --strict: and every resource priced or deliberately free)
  1  --strict and some resource is "not priced" (listed in the report)
  2  bad input: unknown environment, a missing or malformed price file, a bad config

Templates come from --outdir (default cdk.out) when it is newer than config and code, else the
estate is synthesized first. Prices: infra/cost/prices/<region>.json (`make prices`)."""


def _environments(env: str | None) -> list[str]:
    return [load_environment(env).name] if env else [c.name for c in load_all(environment_files())]


def _estate_assembly(args: argparse.Namespace, tool: str) -> tuple[list[str], Path]:
    from infra.app import ROOT
    from infra.cost.command import ensure_assembly

    envs = _environments(args.env)
    assembly = ensure_assembly(
        ROOT,
        Path(args.outdir),
        args.env,
        envs,
        force=args.synth,
        progress=lambda line: print(f"{tool}: {line}", file=sys.stderr, flush=True),
    )
    return envs, assembly


def _cost(args: argparse.Namespace) -> int:
    from infra.cost.command import environment_costs
    from infra.cost.estimate import render
    from infra.cost.prices import PriceFileError

    envs, assembly = _estate_assembly(args, "cost")
    try:
        costs = environment_costs(assembly, envs)
    except PriceFileError as exc:
        print(f"cost: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(render(costs, resources=args.resources))
    return 1 if args.strict and any(c.unpriced for c in costs) else 0


def _diagram(args: argparse.Namespace) -> int:
    from infra.diagram import page_path, render_page
    from infra.review.assembly import stacks_by_environment

    envs, assembly = _estate_assembly(args, "diagram")
    stacks = stacks_by_environment(assembly)
    directory = Path(args.docs_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for env in envs:
        path = page_path(env, directory)
        path.write_text(render_page(env, stacks.get(env, {})))
        print(f"wrote {path}")
    return 0


PRICES_EXIT_CODES = """exit codes:
  0  every price refreshed and written
  1  written, but some keys matched no product or several prices: they keep their previous
     value and are listed under not_refreshed (fix their Query in infra/cost/refresh.py)
  2  bad input (unknown environment or region, malformed price file); no AWS credentials

Needs AWS credentials (any account: the Price List API is read-only and free)."""


def _prices(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from infra.cost.prices import (
        PRICE_DIR,
        PriceBook,
        PriceFileError,
        dump_prices,
        load_prices,
        price_file,
    )
    from infra.cost.refresh import PRICING_REGION, refresh

    configs = [load_environment(args.env)] if args.env else load_all(environment_files())
    directory = Path(args.price_dir) if args.price_dir else PRICE_DIR
    status = 0
    for region in sorted({c.region for c in configs}):
        try:
            previous = load_prices(region, directory)
        except PriceFileError:
            previous = PriceBook(region, "", "", price_file(region, directory))
        in_region = [c for c in configs if c.region == region]
        instance_types = {c.database.instance_type for c in in_region}
        for c in in_region:
            groups = c.cluster.node_groups
            for tier in type(groups).model_fields:
                instance_types.update(getattr(groups, tier).instance_types)
        cache_nodes = {(c.redis.engine, c.redis.node_type) for c in in_region}
        print(f"prices: asking the Price List API for {region} prices", file=sys.stderr)
        client = boto3.client("pricing", region_name=PRICING_REGION)
        try:
            result = refresh(client, previous, instance_types, cache_nodes)
        except NoCredentialsError:
            print(
                "prices: no AWS credentials; set AWS_PROFILE or run aws sso login", file=sys.stderr
            )
            return EXIT_BAD_INPUT
        except (BotoCoreError, ClientError) as exc:
            print(f"prices: AWS refused: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        for line in result.failed:
            print(f"prices: not refreshed: {line}", file=sys.stderr)
        extra = (
            {"not_refreshed": [f.split(":", 1)[0] for f in result.failed]} if result.failed else {}
        )
        path = price_file(region, directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_prices(result.book, **extra))
        print(f"wrote {path}")
        status = max(status, 1 if result.failed else 0)
    return status


def _config_docs(args: argparse.Namespace) -> int:
    from infra.config_docs import render_config_reference

    text = render_config_reference()
    if args.check:
        current = Path(args.output).read_text() if Path(args.output).exists() else ""
        if current != text:
            print(f"{args.output}: out of date; run `make config-docs`", file=sys.stderr)
            return 1
        return 0
    Path(args.output).write_text(text)
    print(f"wrote {args.output}")
    return 0


def _smtp_credentials(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.config import load_environment
    from infra.smtp_credentials import SmtpCredentialsError, issue

    cfg = load_environment(args.env)
    print(f"smtp-credentials: {cfg.name}: creating the SES SMTP credential in {cfg.region}")
    session = boto3.Session(region_name=cfg.region)
    try:
        issued = issue(
            environment=cfg.name,
            region=cfg.region,
            iam=session.client("iam"),
            secretsmanager=session.client("secretsmanager"),
            rotate=args.rotate,
        )
    except SmtpCredentialsError as exc:
        print(f"smtp-credentials: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (BotoCoreError, ClientError) as exc:
        print(f"smtp-credentials: AWS refused: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {issued.secret} (access key {issued.access_key_id} of {issued.user})")
    for key in issued.deleted_key_ids:
        print(f"deleted the old access key {key}; restart the CRM's pods (README)")
    return 0


def _environment(args: argparse.Namespace) -> tuple[EnvironmentConfig, Path]:
    config_dir = Path(args.config_dir)
    return load_environment(args.env, config_dir), config_dir / f"{args.env}.yaml"


def _print_report(report: Report, as_json: bool) -> int:
    print(report.as_json() if as_json else report.as_table())
    return report.exit_code


def _preflight(args: argparse.Namespace) -> int:
    from infra.ops.preflight import run_preflight

    cfg, config_file = _environment(args)
    return _print_report(run_preflight(cfg, config_file, Path(args.assembly)), args.json)


def _pin_ami(args: argparse.Namespace) -> int:
    from infra.ops.pin_ami import run_pin_ami

    cfg, config_file = _environment(args)
    return _print_report(run_pin_ami(cfg, config_file).report, args.json)


def _verify(args: argparse.Namespace) -> int:
    from infra.ops.verify import VerifyOptions, run_verify

    cfg, _ = _environment(args)
    options = VerifyOptions(wait_seconds=args.wait_seconds, base_url=args.base_url)
    return _print_report(run_verify(cfg, options=options), args.json)


def _operations_command(
    commands: Any, name: str, summary: str, run: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    from infra.ops.report import EXIT_CODES_HELP

    command: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=EXIT_CODES_HELP + ". AWS credentials and endpoint come from the standard "
        "variables (AWS_PROFILE, AWS_REGION is the config's, AWS_ENDPOINT_URL).",
    )
    command.add_argument("--env", required=True, help="environment name (config/<env>.yaml)")
    command.add_argument("--config-dir", default=str(CONFIG_DIR), help="directory of <env>.yaml")
    command.add_argument("--json", action="store_true", help="JSON instead of a table (CI)")
    command.set_defaults(run=run)
    return command


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m infra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    validate = commands.add_parser("validate", help="validate environment config files")
    validate.add_argument("files", nargs="*", help="config files (default: config/*.yaml)")
    validate.set_defaults(run=_validate)
    synth = commands.add_parser("synth", help="synthesize with all checks and print a summary")
    synth.add_argument("--env", help="one environment (default: all)")
    synth.add_argument("--outdir", default="cdk.out", help="cloud assembly directory")
    synth.set_defaults(run=_synth)
    diff = commands.add_parser(
        "diff",
        help="compare templates and manifests with a git ref or another environment",
        description="Synthesize BASE and the working tree, compare every stack, judge each "
        "change (update, stop/start, replacement) and follow references across stacks.",
        epilog=DIFF_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("--env", default="all", help="environment name or all (default: all)")
    against = diff.add_mutually_exclusive_group()
    against.add_argument("--base", help="git ref to compare with (default: origin/main or main)")
    against.add_argument(
        "--base-env", help="compare --env with this environment of the working tree (promotion)"
    )
    diff.add_argument(
        "--allow-destructive",
        action="append",
        default=[],
        metavar="ENV/STACK/LOGICAL_ID,...",
        help="stateful replacements allowed (also the ALLOW_DESTRUCTIVE environment variable)",
    )
    diff.add_argument("--report-dir", default="cdk.out", help="where diff-<env>.md is written")
    diff.add_argument(
        "--comment-file",
        metavar="PATH",
        help="also write the whole report as a pull-request comment body (CI)",
    )
    diff.set_defaults(run=_diff)
    smtp = commands.add_parser(
        "smtp-credentials",
        help="create the SES SMTP credential of an environment and store it in Secrets Manager",
        description="Creates an access key for the IAM user twenty-<env>-smtp, converts it to an "
        "SES SMTP password and writes {username, password} to the secret twenty/<env>/smtp. "
        "Needs AWS credentials of the environment's account. Exit codes: 0 written; 2 bad input "
        "or a refusal (stack not deployed, a key exists without --rotate); 1 an AWS error.",
    )
    smtp.add_argument("--env", required=True, help="environment name (config/<env>.yaml)")
    smtp.add_argument(
        "--rotate", action="store_true", help="replace the existing access key (rotation)"
    )
    smtp.set_defaults(run=_smtp_credentials)
    _add_deploy(commands)
    _add_cost_commands(commands)
    docs = commands.add_parser("config-docs", help="write docs/config-reference.md")
    docs.add_argument("--output", default="docs/config-reference.md")
    docs.add_argument("--check", action="store_true", help="fail if the file is out of date")
    docs.set_defaults(run=_config_docs)
    preflight = _operations_command(
        commands,
        "preflight",
        "before a deploy: refuse example values, then check account, region, CDK bootstrap, "
        "AMI, EC2 quotas and DNS delegation",
        _preflight,
    )
    preflight.add_argument(
        "--assembly",
        default="cdk.out",
        help="synthesized cloud assembly: the bootstrap version the stacks need (default cdk.out)",
    )
    _operations_command(
        commands,
        "pin-ami",
        "write Canonical's current Ubuntu AMI of the region into config/<env>.yaml (refused "
        "once the database stack is deployed)",
        _pin_ami,
    )
    verify = _operations_command(
        commands,
        "verify",
        "after a deploy: stacks complete and not drifted, targets healthy, certificate issued, "
        "delegation, backups within the RPO, no alarm firing, /healthz 200",
        _verify,
    )
    verify.add_argument(
        "--wait-seconds",
        type=float,
        default=300.0,
        help="bound on drift detection and on the pgBackRest Run Command, each (default 300)",
    )
    verify.add_argument("--base-url", help="where /healthz is asked (default https://<domain>)")
    return parser


def _add_cost_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    cost = commands.add_parser(
        "cost",
        help="monthly estimate per environment and per stack from the synthesized templates",
        description="Price every resource of the synthesized stacks: node groups at desired and"
        " at max size, the database host and volumes, NAT, ALB, EKS, Redis, logs, alarms,"
        " secrets, keys, zones, WAF, backups. Usage a template cannot state is a printed"
        " assumption; a resource without a rule or a price is listed as not priced.",
        epilog=COST_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diagram = commands.add_parser(
        "diagram",
        help="write docs/estate/<env>.md, a Mermaid diagram of each environment",
        description="Draw each environment from its synthesized templates (zone, certificate,"
        " ALB, VPC with subnets per AZ and NAT, node groups, database host, Redis, buckets,"
        " monitoring) into docs/estate/<env>.md. Exit codes: 0 written; 2 bad input.",
    )
    for command in (cost, diagram):
        command.add_argument("--env", help="one environment (default: all)")
        command.add_argument("--outdir", default="cdk.out", help="cloud assembly to read")
        command.add_argument(
            "--synth", action="store_true", help="synthesize even if --outdir is current"
        )
    cost.add_argument("--resources", action="store_true", help="list every resource's charges")
    cost.add_argument(
        "--strict", action="store_true", help="exit 1 if any resource is not priced (CI)"
    )
    cost.set_defaults(run=_cost)
    diagram.add_argument("--docs-dir", default="docs/estate", help="where <env>.md is written")
    diagram.set_defaults(run=_diagram)
    prices = commands.add_parser(
        "prices",
        help="refresh infra/cost/prices/<region>.json from the AWS Price List API (make prices)",
        description="Ask the AWS Price List API (boto3 pricing get_products) for every rate"
        " of infra/cost/prices.py and every instance and cache node type the file or the"
        " config files name, in each configured region, and rewrite the price file.",
        epilog=PRICES_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prices.add_argument("--env", help="only this environment's region (default: all)")
    prices.add_argument(
        "--price-dir", help="directory of <region>.json (default: infra/cost/prices)"
    )
    prices.set_defaults(run=_prices)


def _add_deploy(commands: argparse._SubParsersAction[_Parser]) -> None:
    from infra.deploy.pipeline import EXIT_CODES, REQUIRE_APPROVAL

    codes = "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    deploy = commands.add_parser(
        "deploy",
        help="guard, cdk deploy and tag one environment (make deploy ENV=<env>)",
        description="Deploy one environment: check AWS credentials (offline), run the guard "
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
    target = commands.add_parser(
        "deploy-target",
        help="key=value facts of an environment's deploy job, for $GITHUB_OUTPUT",
    )
    target.add_argument("--env", required=True, help="environment name (config/<env>.yaml)")
    target.set_defaults(run=_deploy_target)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.ops.aws import describe, unusable_line
    from infra.ops.report import EXIT_FINDINGS, UnusableError

    try:
        return run(args)
    except ConfigError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    except UnusableError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except (BotoCoreError, ClientError) as exc:
        unusable = unusable_line(exc)
        print(f"{args.command}: {unusable or describe(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT if unusable else EXIT_FINDINGS
