"""Creates the CDK App of the estate: one environment (`-c env=<name>`) or all of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App

from infra.config import CONFIG_DIR, environment_files, load_all, load_environment
from infra.estate import Estate, build_estate
from infra.nag import enable_nag

ROOT = Path(__file__).resolve().parent.parent


def cdk_context() -> dict[str, Any]:
    """The feature flags of cdk.json, for Apps created without the CDK CLI (tests, tools)."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def build_app(app: App, env: str | None = None, config_dir: Path = CONFIG_DIR) -> list[Estate]:
    """Build the estates of `env` (or of every config file) into `app`, with cdk-nag on.

    Raises ConfigError before any construct is created if a config file is bad.
    """
    if env:
        configs = [load_environment(env, config_dir)]
    else:
        configs = load_all(environment_files(config_dir))
    enable_nag(app)
    return [build_estate(app, cfg) for cfg in configs]


def create_app(
    env: str | None = None, outdir: str | None = None, config_dir: Path = CONFIG_DIR
) -> tuple[App, list[Estate]]:
    """An App with cdk.json's context, outside the CLI, and its estates."""
    app = App(outdir=outdir, context=cdk_context())
    return app, build_app(app, env, config_dir)
