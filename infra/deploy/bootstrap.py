"""`python -m infra bootstrap --env <env>` (`make bootstrap ENV=<env>`): the account's CDK
bootstrap with least-privilege execution policies instead of AdministratorAccess.

Steps, each said as it runs: read the resource types of the environment's synthesized templates
(`make synth ENV=<env>` first), create or update the managed policies
`twenty-<env>-permissions-boundary` and `twenty-<env>-cfn-execution-<n>`
(infra/deploy/bootstrap_policy.py), then run `cdk bootstrap aws://<account>/<region>
--cloudformation-execution-policies <those ARNs>`. Re-running after a change that adds a
resource type updates the policies in place (a new default version; the oldest non-default one
is deleted when IAM's five versions are reached).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import EnvironmentConfig
from infra.deploy.bootstrap_policy import (
    execution_policies,
    execution_policy_name,
    permissions_boundary,
    resource_types,
)
from infra.naming import partition_of, permissions_boundary_name, stack_parts
from infra.ops.report import UnusableError

Runner = Callable[[Sequence[str]], int]
MAX_POLICY_VERSIONS = 5


def _run(argv: Sequence[str]) -> int:
    return subprocess.run(list(argv), check=False).returncode


def environment_templates(cfg: EnvironmentConfig, assembly: Path) -> list[dict[str, Any]]:
    """The environment's synthesized templates; bad input if one is missing."""
    templates = []
    for part in stack_parts(cfg):
        path = assembly / f"twenty-{cfg.name}-{part}.template.json"
        if not path.is_file():
            raise UnusableError(
                f"bootstrap: {path} is missing; run `make synth ENV={cfg.name}` first"
            )
        templates.append(json.loads(path.read_text()))
    return templates


def put_policy(iam: Any, arn: str, name: str, document: dict[str, Any], description: str) -> str:
    """Create the managed policy, or make `document` its new default version."""
    text = json.dumps(document, separators=(",", ":"))
    try:
        current = iam.get_policy(PolicyArn=arn)["Policy"]
    except iam.exceptions.NoSuchEntityException:
        iam.create_policy(PolicyName=name, PolicyDocument=text, Description=description)
        return "created"
    version = iam.get_policy_version(PolicyArn=arn, VersionId=current["DefaultVersionId"])
    existing = version["PolicyVersion"]["Document"]
    if isinstance(existing, str):
        from urllib.parse import unquote

        existing = json.loads(unquote(existing))
    if existing == document:
        return "unchanged"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= MAX_POLICY_VERSIONS:
        oldest = min(
            (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
        )
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
    return "updated"


@dataclass(frozen=True)
class BootstrapPlan:
    boundary_arn: str
    execution_arns: tuple[str, ...]
    command: tuple[str, ...]


def bootstrap(
    cfg: EnvironmentConfig,
    assembly: Path,
    iam: Any,
    account: str,
    run: Runner = _run,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """Exit code: 0 bootstrapped, 1 `cdk bootstrap` failed, 2 bad input (UnusableError)."""
    if account != cfg.account:
        raise UnusableError(
            f"bootstrap: the credentials are for account {account}, config/{cfg.name}.yaml "
            f"names {cfg.account}; use credentials of {cfg.account}"
        )
    site = cfg.site
    types = resource_types(environment_templates(cfg, assembly))
    say(f"bootstrap {cfg.name}: {len(types)} resource types in the synthesized templates")
    prefix = f"arn:{partition_of(site.region)}:iam::{site.account}:policy/"
    boundary = permissions_boundary_name(cfg.name)
    outcome = put_policy(
        iam,
        prefix + boundary,
        boundary,
        permissions_boundary(site),
        f"twenty-{cfg.name}: the most any role or user of the estate may do (no IAM writes)",
    )
    say(f"bootstrap {cfg.name}: {boundary} {outcome}")
    arns = []
    for index, document in enumerate(execution_policies(types, site), start=1):
        name = execution_policy_name(cfg.name, index)
        outcome = put_policy(
            iam,
            prefix + name,
            name,
            document,
            f"twenty-{cfg.name}: CloudFormation execution, part {index} (make bootstrap)",
        )
        say(f"bootstrap {cfg.name}: {name} {outcome}")
        arns.append(prefix + name)
    command = (
        "npx", "cdk", "bootstrap", f"aws://{site.account}/{site.region}",
        "--cloudformation-execution-policies", ",".join(arns),
    )  # fmt: skip
    say(f"bootstrap {cfg.name}: {' '.join(command)}")
    return 0 if run(command) == 0 else 1
