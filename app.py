#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=<name>` builds config/<name>.yaml; no env builds all."""

import sys
from pathlib import Path

from aws_cdk import App

from infra.app import build_app, cdk_context
from infra.config import ConfigError
from infra.synth_errors import PREFIX, SynthInputError, translated_failures


def main() -> int:
    # cdk.json's flags also when run as plain `python app.py`; the CLI's context wins.
    app = App(context=cdk_context())
    env = app.node.try_get_context("env")
    try:
        with translated_failures(env, Path(app.outdir)):
            build_app(app, env)
            app.synth()
    except ConfigError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 2
    except SynthInputError as exc:  # CDK, CloudFormation validation, cdk-nag: one line each
        for line in exc.lines:
            print(PREFIX + line, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
