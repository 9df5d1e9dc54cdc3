"""`validate` and `synth`: check the config files, synthesize the estate.

infra/review/checkout.py reads this file at a git commit to tell whether that commit supports
`python -m infra synth --outdir` (a diff's base): keep the synth command here, or update
SYNTH_COMMAND_FILES there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infra.config import CONFIG_DIR, environment_files, load_all, load_environment, validate_files

if TYPE_CHECKING:
    from infra.cli import _Parser


def _validate(args: argparse.Namespace) -> int:
    # A file given alone is still checked against the other environments beside it.
    files = [Path(f) for f in args.files] or environment_files()
    configs = validate_files(files)
    for cfg in configs:
        print(f"ok: {cfg.name} ({cfg.region}, {cfg.network.vpc_cidr}, {cfg.domain_name})")
    return 0


def _synth(args: argparse.Namespace) -> int:
    # A bad config is refused in a second, before the CDK's imports (several seconds) run;
    # synth_estate loads it again through the same loader.
    config_dir = Path(args.config_dir)
    if args.env:
        load_environment(args.env, config_dir)
    else:
        load_all(environment_files(config_dir))
    from infra.cli import usable_directory
    from infra.ops import progress
    from infra.synth import synth_estate
    from infra.synth_errors import PREFIX, SynthInputError

    usable_directory("--outdir", args.outdir)
    progress.step(f"synthesizing {args.env or 'every environment'} (CDK and cdk-nag)")
    try:
        print(synth_estate(env=args.env, outdir=args.outdir, config_dir=config_dir))
    except SynthInputError as exc:
        for line in exc.lines:
            print(PREFIX + line, file=sys.stderr)
        return 2
    return 0


def add_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    validate = commands.add_parser("validate", help="validate environment config files")
    validate.add_argument("files", nargs="*", help="config files (default: config/*.yaml)")
    validate.set_defaults(run=_validate)
    synth = commands.add_parser(
        "synth",
        help="synthesize with all checks and print a summary",
        description="Synthesize every environment (or --env) with cdk-nag on. Exit codes: 0 "
        "synthesized; 2 bad input: a config error, or a value CDK, CloudFormation's validation "
        "or cdk-nag refuses (one line each, naming the config file and section; "
        "TWENTY_TRACEBACK=1 shows the traceback).",
    )
    synth.add_argument("--env", help="one environment (default: all)")
    synth.add_argument("--outdir", default="cdk.out", help="cloud assembly directory")
    synth.add_argument("--config-dir", default=str(CONFIG_DIR), help="directory of <env>.yaml")
    synth.set_defaults(run=_synth)
    add_recovery_command(commands)


def _recovery_config(args: argparse.Namespace) -> int:
    from infra.recovery_config import write_recovery_config

    path = write_recovery_config(args.env, Path(args.config_dir), args.name)
    print(f"wrote {path}: next `python -m infra pin-ami --env {path.stem}`, then preflight, deploy")
    return 0


def add_recovery_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    from infra.config import CONFIG_DIR

    command = commands.add_parser(
        "recovery-config",
        help="after a region loss: write config/<env>dr.yaml, the environment's stand-in in "
        "its recovery region (validated with every other environment)",
        description="Write the config of <env>'s stand-in in recovery.region: same config, the "
        "recovery region's zones, a free VPC range, no cicd section. Never committed ahead of "
        "a region loss (docs/runbooks/region-loss.md).",
        epilog="exit codes: 0 written; 2 bad input (no recovery section, the file exists, the "
        "result is not a valid environment)",
    )
    command.add_argument("--env", required=True, help="the environment that lost its region")
    command.add_argument("--name", help="the new environment's name (default <env>dr)")
    command.add_argument("--config-dir", default=str(CONFIG_DIR), help="directory of <env>.yaml")
    command.set_defaults(run=_recovery_config)
