"""Where a template reads values it does not write: references to its own resources (`Ref`,
`Fn::GetAtt`, `Fn::Sub`) and to other stacks (`Fn::GetStackOutput`, `Fn::ImportValue`).

The text of a reference does not change when the value behind it does (a weak cross-stack
reference still names the same output after the producer's subnet is replaced), so the diff
follows these to find what a deploy would really change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from infra.review.replacement import Path

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class ResourceRef:
    """`Ref` (attribute None) or `Fn::GetAtt` of a resource of the same template."""

    logical_id: str
    attribute: str | None


@dataclass(frozen=True)
class OutputRef:
    """`Fn::GetStackOutput` of another stack's output."""

    stack: str
    output: str


@dataclass(frozen=True)
class ImportRef:
    """`Fn::ImportValue` of an export name."""

    export: str


Reference = ResourceRef | OutputRef | ImportRef


def _sub_references(text: str, variables: dict[str, Any]) -> Iterator[ResourceRef]:
    for name in _SUB_VARIABLE.findall(text):
        if name in variables or name.startswith("AWS::"):
            continue
        logical_id, _, attribute = name.partition(".")
        yield ResourceRef(logical_id, attribute or None)


def _intrinsic(value: dict[str, Any]) -> Iterator[Reference]:
    if "Ref" in value and isinstance(value["Ref"], str) and not value["Ref"].startswith("AWS::"):
        yield ResourceRef(value["Ref"], None)
    getatt = value.get("Fn::GetAtt")
    if isinstance(getatt, list) and getatt and isinstance(getatt[0], str):
        attribute = getatt[1] if len(getatt) > 1 and isinstance(getatt[1], str) else None
        yield ResourceRef(getatt[0], attribute)
    elif isinstance(getatt, str):
        logical_id, _, attribute = getatt.partition(".")
        yield ResourceRef(logical_id, attribute or None)
    output = value.get("Fn::GetStackOutput")
    if isinstance(output, dict):
        stack, name = output.get("StackName"), output.get("OutputName")
        if isinstance(stack, str) and isinstance(name, str):
            yield OutputRef(stack, name)
    imported = value.get("Fn::ImportValue")
    if isinstance(imported, str):
        yield ImportRef(imported)
    sub = value.get("Fn::Sub")
    if isinstance(sub, str):
        yield from _sub_references(sub, {})
    elif isinstance(sub, list) and sub and isinstance(sub[0], str):
        variables = sub[1] if len(sub) > 1 and isinstance(sub[1], dict) else {}
        yield from _sub_references(sub[0], variables)


def references(value: Any, path: Path = ()) -> Iterator[tuple[Path, Reference]]:
    """Every reference inside `value`, with the path of the value that holds it; the path
    stops at the outermost intrinsic function (the property that changes with it)."""
    if isinstance(value, dict):
        found = list(_intrinsic(value))
        for reference in found:
            yield path, reference
        for key, inner in value.items():
            inner_path = path if key.startswith("Fn::") or key == "Ref" else (*path, key)
            yield from references(inner, inner_path)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from references(inner, (*path, str(index)))


def exports(template: dict[str, Any]) -> dict[str, str]:
    """{export name: output name} of a template's literal export names."""
    found = {}
    for name, output in (template.get("Outputs") or {}).items():
        export = (output.get("Export") or {}).get("Name")
        if isinstance(export, str):
            found[export] = name
    return found
