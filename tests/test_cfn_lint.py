"""cfn-lint over every synthesized template: no errors, no warnings but the listed ones."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from infra.naming import stack_name, stack_parts
from tests.conftest import CONFIGS, SynthesizedEstate

# CDK-generated patterns cfn-lint flags although they are intended:
IGNORED = [
    # W3005: CDK adds explicit DependsOn that duplicate implicit Ref/GetAtt dependencies.
    "W3005",
    # W3010: availability zones are hard-coded on purpose; they come from config so that synth
    # needs no AWS lookup (see docs/architecture.md).
    "W3010",
]


# One test per stack, so that pytest-xdist spreads the linting over its workers.
STACKS = [stack_name(env, part) for env, cfg in CONFIGS.items() for part in stack_parts(cfg)]


@pytest.mark.parametrize("name", STACKS)
def test_no_cfn_lint_findings(synthesized: SynthesizedEstate, name: str) -> None:
    template = synthesized.template_json(name)
    region = synthesized.assembly.get_stack_by_name(name).environment.region
    matches = lint(json.dumps(template), config=ManualArgs(regions=[region], ignore_checks=IGNORED))
    assert [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches] == []
