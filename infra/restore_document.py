"""The SSM Command document `twenty-<env>-restore`: the database host's restore, fixed steps.

`python -m infra restore` sends this document by name, never `AWS-RunShellScript`: what runs
on the host is the rendered `restore.sh.j2` carried in the document itself (so a stack update
delivers a new version without touching the host's user data), and the only inputs are the two
parameters below, each admitted by a strict pattern. SSM substitutes `{{ target }}` and
`{{ repo }}` in the command text; the patterns make that substitution unable to carry shell
syntax, and the script checks both values again.
"""

from __future__ import annotations

import re
from typing import Any

from infra.naming import ssm_document_name

# `latest`, or an ISO 8601 time with seconds and an explicit zone (PostgreSQL timestamptz input).
TARGET_PATTERN = (
    r"^(latest|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2}))$"
)
REPO_PATTERN = r"^[12]$"
# The host-side bound on WAL replay plus a margin: SSM stops the step after this.
EXECUTION_TIMEOUT_SECONDS = 7200 + 600
_HEREDOC = "TWENTY_RESTORE_SCRIPT"


def restore_document_name(environment: str) -> str:
    """`twenty-<env>-restore`, named like every SSM document of the estate."""
    return ssm_document_name(environment, "restore")


def valid_target(value: str) -> bool:
    return re.fullmatch(TARGET_PATTERN, value) is not None


def restore_document(script: str, *, repositories: int) -> dict[str, Any]:
    """The document's content (schema 2.2). `repositories`: 1, or 2 with a recovery region."""
    if "{{" in script or _HEREDOC in script:
        raise ValueError("the restore script must not contain SSM parameter syntax or the marker")
    # The agent runs the lines with /bin/sh: the wrapper is POSIX sh, the script itself bash.
    commands = [
        "set -eu",
        "script=$(mktemp)",
        "trap 'rm -f \"$script\"' EXIT",
        f"cat >\"$script\" <<'{_HEREDOC}'",
        *script.splitlines(),
        _HEREDOC,
        "TWENTY_RESTORE_TARGET='{{ target }}' TWENTY_RESTORE_REPO='{{ repo }}' bash \"$script\"",
    ]
    return {
        "schemaVersion": "2.2",
        "description": "Restore the Twenty database host in place from pgBackRest to a point in "
        "time (twenty-estate: python -m infra restore). Fences the CRM's writers, restores, "
        "replays WAL, checks, lifts the fence.",
        "parameters": {
            "target": {
                "type": "String",
                "description": "latest, or an ISO 8601 time with its zone, e.g. "
                "2026-11-30T14:05:00Z",
                "allowedPattern": TARGET_PATTERN,
            },
            "repo": {
                "type": "String",
                "description": "pgBackRest repository: 1 (the estate's region)"
                + (" or 2 (the recovery region)" if repositories == 2 else ""),
                "default": "1",
                "allowedValues": [str(n) for n in range(1, repositories + 1)],
            },
        },
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": "restore",
                "inputs": {
                    "timeoutSeconds": str(EXECUTION_TIMEOUT_SECONDS),
                    "runCommand": commands,
                },
            }
        ],
    }


def substitute(document: dict[str, Any], parameters: dict[str, str]) -> str:
    """The shell text the agent runs for `parameters`, as SSM substitutes them (for tests and
    --dry-run); refuses values the document's patterns refuse, as SSM does."""
    spec = document["parameters"]
    for name, value in parameters.items():
        rule = spec[name]
        if "allowedPattern" in rule and not re.fullmatch(rule["allowedPattern"], value):
            raise ValueError(f"{name}={value!r} does not match {rule['allowedPattern']}")
        if "allowedValues" in rule and value not in rule["allowedValues"]:
            raise ValueError(f"{name}={value!r} is not one of {rule['allowedValues']}")
    [step] = document["mainSteps"]
    text = "\n".join(step["inputs"]["runCommand"]) + "\n"
    for name, value in parameters.items():
        text = text.replace("{{ " + name + " }}", value)
    return text
