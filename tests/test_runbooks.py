"""The runbooks name only namespaces, stacks, resources and secrets the code produces.

Names are derived from the synthesized estate: stack names, the `...Name`/`...Id` properties
of every template (topics, alarms, buckets, secrets, the cluster), and the Namespace objects of
the rendered manifests (`cdk.out/k8s/<env>/`). Placeholders in the runbooks (`$ENV`, `<env>`,
`<account>`, `<region>`) are replaced by each environment's values before the comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CONFIGS, ENVIRONMENTS, ROOT, SynthesizedEstate

RUNBOOKS = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
EXPECTED_RUNBOOKS = {
    "database.md",
    "database-failover.md",
    "failed-deploy.md",
    "kubectl-access.md",
    "region-loss.md",
    "secrets.md",
    "teardown.md",
    "twenty-release-rollback.md",
}
NAMESPACE_FLAG = re.compile(r"(?:\s-n|--namespace)[ =]([a-z0-9][a-z0-9-]*)")


def _for_env(text: str, env: str) -> str:
    cfg = CONFIGS[env]
    for placeholder, value in {
        "${ENV}": env,
        "$ENV": env,
        "<env>": env,
        "<account>": cfg.account,
        "<region>": cfg.region,
    }.items():
        text = text.replace(placeholder, value)
    return text


def _names(node: Any, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _names(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _names(v, key)
    elif isinstance(node, str) and re.search(r"(Name|Id)$", key):
        yield node


def produced(synthesized: SynthesizedEstate, env: str) -> tuple[set[str], set[str], set[str]]:
    """(namespaces, stack and resource names, secret names) of one environment."""
    stacks = {s.stack_name for s in synthesized.estates[env].stacks}
    names = set(stacks)
    secrets = set()
    for stack in stacks:
        template = synthesized.template_json(stack)
        names.update(_names(template))
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::SecretsManager::Secret":
                secrets.add(resource["Properties"]["Name"])
    manifests = Path(synthesized.assembly.directory) / "k8s" / env
    namespaces = {
        doc["metadata"]["name"]
        for path in manifests.glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "Namespace"
    }
    return namespaces, names, secrets


def unknown_names(text: str, env: str, synthesized: SynthesizedEstate) -> list[str]:
    namespaces, names, secrets = produced(synthesized, env)
    text = _for_env(text, env)
    problems = [f"namespace {ns}" for ns in NAMESPACE_FLAG.findall(text) if ns not in namespaces]
    for token in set(re.findall(rf"twenty-{env}-[a-z0-9]+(?:-[a-z0-9]+)*", text)):
        if token not in names:
            problems.append(f"name {token}")
    for secret in set(re.findall(rf"(?<![\w/])twenty/{env}/[a-z0-9/_-]*[a-z0-9]", text)):
        if secret not in secrets:
            problems.append(f"secret {secret}")
    return sorted(problems)


def test_every_runbook_exists() -> None:
    assert {p.name for p in RUNBOOKS} >= EXPECTED_RUNBOOKS


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.name)
def test_runbook_names_what_the_code_produces(
    runbook: Path, synthesized: SynthesizedEstate
) -> None:
    text = runbook.read_text()
    for env in ENVIRONMENTS:
        assert unknown_names(text, env, synthesized) == [], f"{runbook.name} ({env})"


def test_the_check_catches_wrong_names(synthesized: SynthesizedEstate) -> None:
    env = ENVIRONMENTS[0]
    wrong = (
        "kubectl -n twenty scale deploy --all\n"  # the old database runbook's namespace
        "aws cloudformation describe-stacks --stack-name twenty-$ENV-databse\n"
        "aws secretsmanager get-secret-value --secret-id twenty/$ENV/database/root\n"
        "aws elasticache describe-replication-groups --replication-group-id twenty-$ENV-redis\n"
    )
    assert unknown_names(wrong, env, synthesized) == [
        f"name twenty-{env}-databse",
        f"name twenty-{env}-redis",
        "namespace twenty",
        f"secret twenty/{env}/database/root",
    ]
    right = "kubectl -n twenty-$ENV get pods; twenty-$ENV-crm; twenty/$ENV/app-secret\n"
    assert unknown_names(right, env, synthesized) == []


# `python -m infra <command> --flag ...` as the runbooks write it (inside code spans or blocks).
INFRA_COMMAND = re.compile(r"python -m infra ([a-z][a-z-]*)((?:[ \t]+(?:\\\n)?[^\s`|;&]+)*)")


def infra_commands(text: str) -> list[tuple[str, list[str]]]:
    """Every `python -m infra` command line of `text`: the command and the flags it uses."""
    return [
        (command, re.findall(r"(?<!\S)(--[a-z][a-z-]*)", rest))
        for command, rest in INFRA_COMMAND.findall(text)
    ]


def unknown_commands(text: str) -> list[str]:
    """Commands and flags the runbook uses that `python -m infra` does not have."""
    from infra.cli import _parser

    parser = _parser()
    subparsers = next(
        a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction)
    )
    problems = []
    for command, flags in infra_commands(text):
        sub = subparsers.choices.get(command)
        if sub is None:
            problems.append(f"command {command}")
            continue
        known = {o for a in sub._actions for o in a.option_strings}
        problems.extend(f"{command} {flag}" for flag in flags if flag not in known)
    return sorted(set(problems))


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.name)
def test_runbook_commands_exist(runbook: Path) -> None:
    assert unknown_commands(runbook.read_text()) == [], runbook.name


def test_region_loss_runbook_uses_the_restore_command() -> None:
    text = (ROOT / "docs" / "runbooks" / "region-loss.md").read_text()
    commands = infra_commands(text)
    assert ("restore", ["--env", "--to", "--repo", "--dry-run"]) in commands
    assert ("recovery-config", ["--env"]) in commands
    assert any(c == "deploy" for c, _ in commands) and any(c == "verify" for c, _ in commands)


def test_the_command_check_catches_wrong_commands_and_flags() -> None:
    wrong = (
        "python -m infra restor --env prod\n"
        "`python -m infra restore --env prod --to latest --repository 2`\n"
        "python -m infra restore --env prod --to latest --repo 2\n"
    )
    assert unknown_commands(wrong) == ["command restor", "restore --repository"]
