"""`smtp-credentials`: create (or rotate) an environment's SES SMTP credential and store it in
Secrets Manager as twenty/<env>/smtp (boto3 only, no CDK import)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli import EXIT_BAD_INPUT
from infra.config import CONFIG_DIR

if TYPE_CHECKING:
    from infra.cli import _Parser


def _smtp_credentials(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.cli.operations import environment_file
    from infra.config import load_environment
    from infra.ops.aws import Aws, describe, unusable_line
    from infra.smtp_credentials import SmtpCredentialsError, issue

    config_dir = Path(args.config_dir)
    environment_file(args.env, config_dir)
    cfg = load_environment(args.env, config_dir)
    print(f"smtp-credentials: {cfg.name}: creating the SES SMTP credential in {cfg.region}")
    aws = Aws(cfg.region)
    try:
        issued = issue(
            environment=cfg.name,
            region=cfg.region,
            iam=aws.client("iam"),
            secretsmanager=aws.client("secretsmanager"),
            rotate=args.rotate,
        )
    except SmtpCredentialsError as exc:
        print(f"smtp-credentials: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (BotoCoreError, ClientError) as exc:
        # no or refused credentials, an unreachable endpoint: exit 2 like every command
        unusable = unusable_line(exc)
        if unusable:
            print(f"smtp-credentials: {unusable}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"smtp-credentials: AWS refused: {describe(exc)}", file=sys.stderr)
        return 1
    print(f"wrote {issued.secret} (access key {issued.access_key_id} of {issued.user})")
    for key in issued.deleted_key_ids:
        print(f"deleted the old access key {key}; restart the CRM's pods (README)")
    return 0


def add_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    smtp = commands.add_parser(
        "smtp-credentials",
        help="create the SES SMTP credential of an environment and store it in Secrets Manager",
        description="Creates an access key for the IAM user twenty-<env>-smtp, converts it to an "
        "SES SMTP password and writes {username, password} to the secret twenty/<env>/smtp. "
        "Needs AWS credentials of the environment's account. Exit codes: 0 written; 2 bad input, "
        "a refusal (stack not deployed, a key exists without --rotate), no usable AWS "
        "credentials or an unreachable endpoint; 1 any other AWS error.",
    )
    smtp.add_argument("--env", required=True, help="environment name (config/<env>.yaml)")
    smtp.add_argument("--config-dir", default=str(CONFIG_DIR), help="directory of <env>.yaml")
    smtp.add_argument(
        "--rotate", action="store_true", help="replace the existing access key (rotation)"
    )
    smtp.set_defaults(run=_smtp_credentials)
