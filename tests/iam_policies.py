"""Every identity-policy statement of a synthesized template, for least-privilege tests.

A statement is found wherever CloudFormation can carry one: `AWS::IAM::Policy`,
`AWS::IAM::ManagedPolicy` and a role's inline `Policies`. Actions are matched the way IAM matches
them (case-insensitive, `*` and `?` wildcards), so `ssm:Send*` or `s3:DeleteObject*` count as
allowing `ssm:SendCommand` or `s3:DeleteObjectVersion`.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Statement:
    stack: str
    logical_id: str  # the policy (or role) resource carrying it
    principals: str  # the Roles/Users/Groups it is attached to, as JSON (tokens unresolved)
    body: dict[str, Any]

    @property
    def actions(self) -> list[str]:
        return _as_list(self.body.get("Action", []))

    @property
    def resources(self) -> list[Any]:
        return _as_list(self.body.get("Resource", []))

    @property
    def allows(self) -> bool:
        return bool(self.body.get("Effect") == "Allow")

    def allows_action(self, action: str) -> bool:
        """True if this Allow statement grants `action` (NotAction counts as granting)."""
        if not self.allows:
            return False
        if "NotAction" in self.body:
            return not any(_matches(p, action) for p in _as_list(self.body["NotAction"]))
        return any(_matches(pattern, action) for pattern in self.actions)

    def where(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.body.get('Sid', 'no Sid')})"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def statements(stack: str, template: dict[str, Any]) -> Iterator[Statement]:
    """Every identity-policy statement of `template`."""
    for logical_id, resource in template.get("Resources", {}).items():
        kind, props = resource["Type"], resource.get("Properties", {})
        documents: list[tuple[dict[str, Any], str]] = []
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            attached = {k: props.get(k) for k in ("Roles", "Users", "Groups") if k in props}
            documents.append((props["PolicyDocument"], json.dumps(attached, sort_keys=True)))
        elif kind == "AWS::IAM::Role":
            for inline in props.get("Policies", []):
                documents.append((inline["PolicyDocument"], json.dumps({"Roles": [logical_id]})))
        for document, principals in documents:
            for body in _as_list(document.get("Statement", [])):
                yield Statement(stack, logical_id, principals, body)


def estate_statements(templates: dict[str, dict[str, Any]]) -> list[Statement]:
    """The statements of every template, by stack name."""
    return [s for name, template in templates.items() for s in statements(name, template)]
