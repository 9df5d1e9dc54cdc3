"""What a GitHub Actions deploy job needs to know about its environment, derived from config.

The workflow holds no account id, role ARN, region or domain of its own: its deploy job asks
`python -m infra deploy-target --env <env> >> "$GITHUB_OUTPUT"` and uses these outputs.
"""

from __future__ import annotations

from pathlib import Path

from infra.config import CONFIG_DIR, ConfigError, load_environment
from infra.naming import deploy_role_arn

# Twenty's liveness route, served by the server on port 3000 behind the ALB (docs/architecture.md).
HEALTH_PATH = "/healthz"


def github_outputs(env: str, config_dir: Path = CONFIG_DIR) -> str:
    """`key=value` lines for $GITHUB_OUTPUT; ConfigError if the environment has no cicd.
    The CLI refuses committed example values first (`deploy-target`)."""
    cfg = load_environment(env, config_dir)
    if cfg.cicd is None or cfg.github_environment is None:
        raise ConfigError(
            [
                f"config/{env}.yaml: cicd: absent; add a cicd section to deploy it from GitHub "
                f"Actions (docs/config-reference.md), or deploy from a workstation"
            ]
        )
    values = {
        "role-arn": deploy_role_arn(cfg.site),
        "region": cfg.region,
        "github-environment": cfg.github_environment,
        "approval-required": "true" if cfg.cicd.approval_required else "false",
        "url": f"https://{cfg.domain_name}",
        "health-url": f"https://{cfg.domain_name}{HEALTH_PATH}",
    }
    return "".join(f"{key}={value}\n" for key, value in values.items())
