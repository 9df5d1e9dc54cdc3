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
