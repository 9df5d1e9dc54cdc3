"""`preflight`, `pin-ami` and `verify`: the day-2 operations around a deploy (infra/ops/),
boto3 only, no CDK import; each prints a report of findings as a table or JSON."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from infra.config import CONFIG_DIR, EnvironmentConfig, load_environment

if TYPE_CHECKING:
    from infra.cli import _Parser
    from infra.ops.failover import FailoverOptions
    from infra.ops.report import Report


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


def _failover_options(args: argparse.Namespace) -> FailoverOptions:
    from infra.ops.failover import FailoverOptions

    return FailoverOptions(
        force=getattr(args, "force", False),
        dry_run=args.dry_run,
        wait_seconds=args.wait_seconds,
    )


def _failover(args: argparse.Namespace) -> int:
    from infra.ops.failover import run_failover

    cfg, config_file = _environment(args)
    return _print_report(run_failover(cfg, config_file, options=_failover_options(args)), args.json)


def _rebuild_standby(args: argparse.Namespace) -> int:
    from infra.ops.rebuild_standby import run_rebuild_standby

    cfg, _ = _environment(args)
    return _print_report(run_rebuild_standby(cfg, options=_failover_options(args)), args.json)


def _operations_command(
    commands: argparse._SubParsersAction[_Parser],
    name: str,
    summary: str,
    run: Callable[[argparse.Namespace], int],
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


# Exit codes of the two commands that change the database's roles: a refusal is a finding.
FAILOVER_EXIT_CODES = (
    "exit codes: 0 every step done (with --dry-run: every check passed); 1 a check refused "
    "(the standby lags, is not a standby or does not stream from a primary that answers) or a "
    "step failed, named in its line, and nothing after it was done; 2 bad input (config, "
    "arguments, no standby configured, stack not deployed) or no usable AWS credentials"
)


def add_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
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
    # --- streaming standby (issue 21)
    failover = _operations_command(
        commands,
        "failover",
        "promote the database standby: check its lag, fence the old primary (quarantine "
        "security group, stop), promote, move db.<env>.internal, rewrite "
        "database.standby.writer (docs/runbooks/database-failover.md)",
        _failover,
    )
    failover.add_argument(
        "--force",
        action="store_true",
        help="promote even when the standby lags more than database.standby."
        "failover_max_lag_bytes, does not stream from a primary that answers, or that primary "
        "did not stop (loses those writes)",
    )
    rebuild = _operations_command(
        commands,
        "rebuild-standby",
        "make the database host that is not the primary its streaming standby again (start "
        "it, wipe it, clone the primary over verified TLS, give back its security group)",
        _rebuild_standby,
    )
    for command in (failover, rebuild):
        command.epilog = (
            FAILOVER_EXIT_CODES + ". AWS credentials and endpoint come from the standard "
            "variables (AWS_PROFILE, AWS_REGION is the config's, AWS_ENDPOINT_URL)."
        )
        command.add_argument(
            "--dry-run", action="store_true", help="run the checks, change nothing"
        )
        command.add_argument(
            "--wait-seconds",
            type=float,
            default=900.0,
            help="bound on each step on the hosts: status, promotion, the DNS change, the "
            "clone (default 900)",
        )
