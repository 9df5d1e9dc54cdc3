"""cfn-lint over every synthesized template: no errors, no warnings but the listed ones."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from tests.conftest import SynthesizedEstate

# CDK-generated patterns cfn-lint flags although they are intended:
IGNORED = [
    # W3005: CDK adds explicit DependsOn that duplicate implicit Ref/GetAtt dependencies.
    "W3005",
    # W3010: availability zones are hard-coded on purpose; they come from config so that synth
    # needs no AWS lookup (see docs/architecture.md).
    "W3010",
]


@pytest.fixture(scope="module")
def findings(synthesized: SynthesizedEstate) -> dict[str, list[str]]:
    result = {}
    for name in synthesized.stack_names:
        template = synthesized.template_json(name)
        region = synthesized.assembly.get_stack_by_name(name).environment.region
        matches = lint(
            json.dumps(template),
            config=ManualArgs(regions=[region], ignore_checks=IGNORED),
        )
        result[name] = [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches]
    return result


def test_no_cfn_lint_findings(findings: dict[str, list[str]]) -> None:
    assert {name: found for name, found in findings.items() if found} == {}
