"""The guard: a stateful resource is never replaced, destroyed or orphaned by accident, never
loses its retain policy, and no change goes out that AWS will reject.

Three kinds of finding block a diff (exit 3) and a deploy:
- a stateful resource replaced, destroyed or orphaned;
- a stateful resource whose `DeletionPolicy` or `UpdateReplacePolicy` goes from Retain (or
  Snapshot) to something weaker: the next stack deletion or replacement destroys its data;
- a change whose update fails (`replacement.UPDATE_FAILS`, e.g. a KMS key's `MultiRegion`):
  the deploy would stop half-way and roll back, whatever the resource.
The first two must be named in ALLOW_DESTRUCTIVE (`<env>/<stack>/<logical id>,...`), so the
approval is explicit, per resource and per environment, and visible in the command line of the
pull request's pipeline run. A failing update cannot be allowed: AWS refuses it anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.review.replacement import custom_name_rule, fail_rule
from infra.review.stateful import is_stateful
from infra.review.templates import ResourceChange, Template

EXIT_BLOCKED = 3


class AllowListError(ValueError):
    """A malformed ALLOW_DESTRUCTIVE entry; the message is one line."""


@dataclass(frozen=True)
class Finding:
    """A change the guard stops: a stateful resource replaced, destroyed, orphaned or losing
    its retain policy, or an update AWS rejects. `reason` overrides the row's kind and cause."""

    env: str
    stack: str
    change: ResourceChange
    allowed: bool
    reason: str = ""

    @property
    def address(self) -> str:
        return f"{self.env}/{self.stack}/{self.change.logical_id}"

    def describe(self) -> str:
        why = self.reason or f"{self.change.kind}: {self.change.cause}"
        return f"{self.address} ({self.change.resource_type} {why})"


# How much of a resource a deletion policy keeps: Retain keeps it, Snapshot keeps its data
# (volumes, caches, databases), Delete (the default when absent) keeps nothing.
_KEEPS = {"Retain": 2, "RetainExceptOnCreate": 2, "Snapshot": 1, "Delete": 0}
POLICIES = ("DeletionPolicy", "UpdateReplacePolicy")


def _keeps(policy: Any) -> int:
    # Absent is Delete; an intrinsic (Fn::If) cannot be judged offline, so it counts as Delete.
    return _KEEPS.get(policy, 0) if isinstance(policy, str) else 0


def retain_lost(old: Template | None, new: Template | None) -> dict[str, str]:
    """{logical id: what it loses} for stateful resources in both templates whose deletion or
    update-replace policy keeps less than before (e.g. `DeletionPolicy Retain -> Delete`)."""
    before: Mapping[str, Any] = (old or {}).get("Resources") or {}
    after: Mapping[str, Any] = (new or {}).get("Resources") or {}
    lost: dict[str, str] = {}
    for logical_id, resource in after.items():
        previous = before.get(logical_id)
        if not previous or not is_stateful(resource.get("Type")):
            continue
        weaker = [
            f"{policy} {previous.get(policy)} -> {resource.get(policy) or 'Delete (absent)'}"
            for policy in POLICIES
            if _keeps(previous.get(policy)) > _keeps(resource.get(policy))
        ]
        if weaker:
            lost[logical_id] = ", ".join(weaker)
    return lost


def _fail_reason(change: ResourceChange) -> str:
    """`update will fail: MultiRegion (<the schema's sentence>); <the fix>`."""
    failing = [p for p in change.properties if p.impact == change.impact]
    sources = []
    for prop in failing:
        rule = fail_rule(change.resource_type, tuple(prop.name.split(".")))
        named = custom_name_rule(change.resource_type)
        if rule is None and named is not None and (prop.name,) == named.path:
            rule = named
            sources.append(f"{prop.name} kept while {prop.via} ({rule.source})")
            continue
        sources.append(f"{prop.name} ({rule.source if rule else 'rejected by AWS'})")
    return (
        f"{change.kind}: {'; '.join(sources) or change.cause}; revert the change, or give the "
        "resource a new logical id to create a new one"
    )


def parse_allow_list(values: Iterable[str | None]) -> frozenset[str]:
    """Entries of every comma-separated value; each must be `<env>/<stack>/<logical id>`."""
    entries: set[str] = set()
    for value in values:
        for raw in (value or "").split(","):
            entry = raw.strip()
            if not entry:
                continue
            parts = entry.split("/")
            if len(parts) != 3 or not all(parts):
                raise AllowListError(
                    f"ALLOW_DESTRUCTIVE entry {entry!r}: expected <env>/<stack>/<logical id>,"
                    " e.g. prod/twenty-prod-database/DatabaseInstance"
                )
            entries.add(entry)
    return frozenset(entries)


def findings(
    env: str,
    stack: str,
    changes: Iterable[ResourceChange],
    allowed: frozenset[str],
    templates: tuple[Template | None, Template | None] = (None, None),
) -> list[Finding]:
    """The changes of one stack that the guard stops unless allowed; `templates`, the stack's
    (old, new) pair, shows the retain policies that are lost."""
    lost = retain_lost(*templates)
    result = []
    for change in changes:
        address = f"{env}/{stack}/{change.logical_id}"
        if change.fails:
            result.append(Finding(env, stack, change, allowed=False, reason=_fail_reason(change)))
        elif change.stateful and change.loses_resource:
            result.append(Finding(env, stack, change, allowed=address in allowed))
        elif change.logical_id in lost:
            reason = (
                f"loses its retain policy: {lost[change.logical_id]}; deleting the stack or "
                "replacing the resource would then destroy its data"
            )
            result.append(Finding(env, stack, change, address in allowed, reason))
    return result
