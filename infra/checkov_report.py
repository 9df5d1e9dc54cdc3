"""Judges checkov's CloudFormation results (`make checkov`): only CDK's own provider Lambdas may
fail, each for the reason below; anything else is a finding to fix or skip with a reason in the
resource's metadata (`infra.nag.skip_checkov`, listed in docs/security.md).

checkov takes a minute per environment on the project's machines, so it runs as its own make
target rather than in `make test`; the suite checks the skips' reasons and this judge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Logical-id prefixes of the functions (and their log groups) CDK synthesizes for its own
# providers; we do not write them and cannot configure them through the L2 constructs.
CDK_INTERNAL = {
    "ControlPlaneClusterKubectlProvider": (
        "aws_eks_v2's kubectl provider (handler and provider framework): runs only during "
        "deploys, invoked by CloudFormation, retried by CloudFormation rather than a DLQ; its "
        "environment holds no secret; its log groups are CDK's"
    ),
    "CustomVpcRestrictDefaultSGCustomResourceProvider": (
        "CDK's provider that strips the default security group's rules at deploy time: "
        "calls EC2's API only, needs no VPC, runs once per deploy"
    ),
}


@dataclass(frozen=True)
class Failure:
    check_id: str
    file: str
    resource: str
    name: str

    def line(self) -> str:
        return f"{self.file}: {self.resource}: {self.check_id} {self.name}"


def failures(results: Any) -> list[Failure]:
    """The failed checks of checkov's JSON output (one report or a list of them)."""
    reports = results if isinstance(results, list) else [results]
    return [
        Failure(f["check_id"], Path(f["file_path"]).name, f["resource"], f["check_name"])
        for report in reports
        for f in report.get("results", {}).get("failed_checks", [])
    ]


def cdk_internal_reason(failure: Failure) -> str | None:
    logical_id = failure.resource.split(".", 1)[-1]
    return next((r for p, r in CDK_INTERNAL.items() if logical_id.startswith(p)), None)


def unexpected(results: Any) -> list[Failure]:
    return [f for f in failures(results) if cdk_internal_reason(f) is None]


def judge(path: Path) -> tuple[int, list[str]]:
    """Exit code (0 only CDK-internal failures, 1 others, 2 unreadable) and the lines to print."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return 2, [f"checkov-report: {path}: not checkov JSON output ({exc})"]
    lines = [f"allowed (CDK internal): {f.line()}" for f in failures(results)
             if cdk_internal_reason(f) is not None]  # fmt: skip
    bad = unexpected(results)
    lines += [f"FINDING: {f.line()}" for f in bad]
    return (1 if bad else 0), lines
