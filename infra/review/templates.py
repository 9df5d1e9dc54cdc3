"""Resource-level differences between two templates, from `@aws-cdk/cloudformation-diff`.

The npm package is the engine of `cdk diff`: it knows from the AWS resource specification which
property changes replace a resource, works offline, and runs once for all stacks of a diff.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.review.replacement import Effect
from infra.review.stateful import is_stateful

SCRIPT = Path(__file__).with_name("template_diff.js")
NPM_PACKAGE = "@aws-cdk/cloudformation-diff"

Template = dict[str, Any]

# Impacts of @aws-cdk/cloudformation-diff's ResourceImpact that lose the physical resource.
REPLACING = frozenset({"WILL_REPLACE", "MAY_REPLACE"})
LOSING = REPLACING | {"WILL_DESTROY", "WILL_ORPHAN"}
# Ours, not the engine's: an in-place update that stops and starts the resource, and a change
# AWS rejects (the stack update fails and rolls back; replacement.UPDATE_FAILS).
INTERRUPTING = "WILL_INTERRUPT"
FAILING = "WILL_FAIL"
IMPACT_OF_EFFECT = {
    Effect.UPDATE: "WILL_UPDATE",
    Effect.INTERRUPT: INTERRUPTING,
    Effect.MAY_REPLACE: "MAY_REPLACE",
    Effect.REPLACE: "WILL_REPLACE",
    Effect.FAIL: FAILING,
}
_KIND = {
    "WILL_CREATE": "added",
    "WILL_UPDATE": "updated",
    INTERRUPTING: Effect.INTERRUPT.kind,
    FAILING: Effect.FAIL.kind,
    "WILL_REPLACE": "replaced",
    "MAY_REPLACE": "may be replaced",
    "WILL_DESTROY": "destroyed",
    "WILL_ORPHAN": "orphaned",
    "WILL_IMPORT": "imported",
    "NO_CHANGE": "updated",  # metadata-only changes
}
# Report order: what loses a physical resource first.
SEVERITY = (
    Effect.FAIL.kind,
    "destroyed",
    "orphaned",
    "replaced",
    "may be replaced",
    Effect.INTERRUPT.kind,
    "added",
    "imported",
    "updated",
)


class DiffToolError(RuntimeError):
    """The Node diff engine is missing or failed; the message is one line."""


@dataclass(frozen=True)
class PropertyChange:
    """A changed property; `via` names the changed resource it reads, when its text is the same."""

    name: str
    impact: str
    via: str = ""

    def describe(self) -> str:
        return f"{self.name} ← {self.via}" if self.via else self.name


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    resource_type: str
    impact: str
    old_type: str | None
    new_type: str | None
    deletion_policy: str | None
    properties: tuple[PropertyChange, ...]
    other: tuple[str, ...]
    chains: tuple[str, ...] = ()  # reference chains that change it (impact.py)

    @property
    def kind(self) -> str:
        return _KIND.get(self.impact, "updated")

    @property
    def loses_resource(self) -> bool:
        return self.impact in LOSING

    @property
    def fails(self) -> bool:
        """AWS rejects this change: the deploy would stop and roll back."""
        return self.impact == FAILING

    @property
    def stateful(self) -> bool:
        return is_stateful(self.old_type) or is_stateful(self.new_type)

    @property
    def cause(self) -> str:
        """Why the resource changes as it does, by property name."""
        if self.impact in ("WILL_DESTROY", "WILL_ORPHAN"):
            policy = self.deletion_policy or "Delete"
            return f"removed from template (DeletionPolicy {policy})"
        if self.old_type and self.new_type and self.old_type != self.new_type:
            return f"Type {self.old_type} -> {self.new_type}"
        if self.impact == "WILL_CREATE":
            return ""
        main = [p for p in self.properties if p.impact == self.impact]
        if main and self.impact != "WILL_UPDATE":
            rest = [p.describe() for p in self.properties if p not in main] + list(self.other)
            also = f" (also: {', '.join(_unique(rest))})" if rest else ""
            return ", ".join(_unique(p.describe() for p in main)) + also
        return ", ".join(_unique([p.describe() for p in self.properties] + list(self.other)))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def order(rows: Iterable[ResourceChange]) -> tuple[ResourceChange, ...]:
    """Report order: what loses a physical resource first, then by logical id."""
    return tuple(sorted(rows, key=lambda r: (SEVERITY.index(r.kind), r.logical_id)))


@dataclass(frozen=True)
class OutputChange:
    name: str
    kind: str


@dataclass(frozen=True)
class TemplateDiff:
    resources: tuple[ResourceChange, ...]
    outputs: tuple[OutputChange, ...]

    @property
    def empty(self) -> bool:
        return not self.resources and not self.outputs


def _node() -> str:
    """Node 24 installed next to the running interpreter (.venv/bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "node"
    found = str(beside) if beside.exists() else shutil.which("node")
    if not found:
        raise DiffToolError("node not found; run `make deps` (it installs Node 24 into .venv)")
    return found


def _resource(raw: dict[str, Any]) -> ResourceChange:
    return ResourceChange(
        logical_id=raw["logicalId"],
        resource_type=raw["type"] or "",
        impact=raw["impact"],
        old_type=raw["oldType"],
        new_type=raw["newType"],
        deletion_policy=raw["deletionPolicy"],
        properties=tuple(PropertyChange(p["name"], p["impact"]) for p in raw["properties"]),
        other=tuple(raw["other"]),
    )


def diff_templates(
    pairs: dict[str, tuple[Template | None, Template | None]],
) -> dict[str, TemplateDiff]:
    """Diff every (old, new) pair by key in one Node process; None is an absent stack."""
    result: dict[str, TemplateDiff] = {
        key: TemplateDiff((), ()) for key, (old, new) in pairs.items() if old == new
    }
    payload = [
        {"key": key, "old": old, "new": new} for key, (old, new) in pairs.items() if old != new
    ]
    if not payload:
        return result
    env = {**os.environ, "NODE_OPTIONS": "--max-old-space-size=2048"}
    proc = subprocess.run(
        [_node(), str(SCRIPT)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        if "Cannot find module" in proc.stderr and NPM_PACKAGE in proc.stderr:
            raise DiffToolError(
                f"npm package {NPM_PACKAGE} is not installed; run `make deps` (npm ci)"
            )
        last = [line for line in proc.stderr.splitlines() if line.strip()][-1:] or ["no output"]
        raise DiffToolError(f"template diff failed: {last[0]}")
    for entry in json.loads(proc.stdout):
        resources = tuple(_resource(r) for r in entry["resources"])
        ordered = order(resources)
        outputs = tuple(OutputChange(o["name"], o["kind"]) for o in entry["outputs"])
        result[entry["key"]] = TemplateDiff(resources=ordered, outputs=outputs)
    return result
