"""`preflight`, `pin-ami`, `pin-images`, `verify` and `restore`: the day-2 operations around a
deploy (infra/ops/), boto3 only, no CDK import; each prints a report of findings as a table or
JSON."""

from __future__ import annotations

import argparse
import math
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from infra.config import CONFIG_DIR, ConfigError, EnvironmentConfig, display_path, load_environment

if TYPE_CHECKING:
    from infra.cli import _Parser
    from infra.ops.failover import FailoverOptions
    from infra.ops.report import Report


def environment_file(env: str, config_dir: Path, flag: str = "--config-dir") -> Path:
    """`<config_dir>/<env>.yaml`, or one line naming the directory actually looked in."""
    config_file = config_dir / f"{env}.yaml"
    if not config_dir.is_dir():
        what = "is not a directory" if config_dir.exists() else "does not exist"
        raise ConfigError(
            [f"{flag} {display_path(config_dir)}: {what}; name the directory of <env>.yaml"]
        )
    if not config_file.is_file():
        known = ", ".join(sorted(p.stem for p in config_dir.glob("*.yaml"))) or "none"
        raise ConfigError(
            [f"{display_path(config_file)}: no such file; environments there: {known}"]
        )
    return config_file


def _environment(args: argparse.Namespace) -> tuple[EnvironmentConfig, Path]:
    config_dir = Path(args.config_dir)
    config_file = environment_file(args.env, config_dir)
    return load_environment(args.env, config_dir), config_file


def seconds(text: str) -> float:
    """argparse type: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 0 or more seconds")
    return value


def base_url(text: str) -> str:
    """argparse type: an http(s) URL with a host and no query, e.g. https://crm.example.org."""
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL with a host, e.g. https://crm.example.org"
        )
    if parsed.query or parsed.fragment:
        raise argparse.ArgumentTypeError(f"{text!r}: no query or fragment (/healthz is added)")
    try:
        parsed.port  # noqa: B018  (raises ValueError on a port outside 0-65535)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the port is not 0-65535") from None
    return text


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


def _pin_images(args: argparse.Namespace) -> int:
    from infra.ops.pin_images import run_pin_images

    cfg, config_file = _environment(args)
    return _print_report(run_pin_images(cfg, config_file).report, args.json)


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
    _operations_command(
        commands,
        "pin-images",
        "resolve each container image's tag to its digest through the registry's HTTP API "
        "and write tag@digest into config/<env>.yaml (needs the registries, not AWS)",
        _pin_images,
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
        type=seconds,
        default=300.0,
        help="bound on drift detection and on the pgBackRest Run Command, each (default 300)",
    )
    verify.add_argument(
        "--base-url", type=base_url, help="where /healthz is asked (default https://<domain>)"
    )
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
            type=seconds,
            default=900.0,
            help="bound on each step on the hosts: status, promotion, the DNS change, the "
            "clone (default 900)",
        )
    add_restore_command(commands)


def _restore(args: argparse.Namespace) -> int:
    from infra.ops.restore import RestoreRequest, run_restore

    cfg, _ = _environment(args)
    request = RestoreRequest(
        target=args.to,
        repo=args.repo,
        dry_run=args.dry_run,
        wait_seconds=args.wait_seconds,
    )
    return _print_report(run_restore(cfg, request), args.json)


def add_restore_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    restore = _operations_command(
        commands,
        "restore",
        "restore the database host in place from pgBackRest to a point in time (SSM document "
        "twenty-<env>-restore): fences Twenty's writers, restores, replays WAL, checks "
        "(not in recovery, last transaction not after the target, tables), lifts the fence",
        _restore,
    )
    restore.add_argument(
        "--to",
        required=True,
        help="latest, or an ISO 8601 time with its zone, e.g. 2026-11-30T14:05:00Z",
    )
    restore.add_argument(
        "--repo",
        type=int,
        choices=(1, 2),
        default=1,
        help="pgBackRest repository: 1 the estate's region (default), 2 the recovery region",
    )
    restore.add_argument(
        "--dry-run",
        action="store_true",
        help="find the host and the document, print what would be sent, change nothing",
    )
    restore.add_argument(
        "--wait-seconds",
        type=seconds,
        default=7800.0,
        help="bound on the wait for the host (default 7800: the document's own timeout)",
    )
