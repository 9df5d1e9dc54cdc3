#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=<name>` builds config/<name>.yaml; no env builds all."""

import sys

from aws_cdk import App

from infra.app import build_app, cdk_context
from infra.config import ConfigError


def main() -> int:
    # cdk.json's flags also when run as plain `python app.py`; the CLI's context wins.
    app = App(context=cdk_context())
    env = app.node.try_get_context("env")
    try:
        build_app(app, env)
    except ConfigError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
