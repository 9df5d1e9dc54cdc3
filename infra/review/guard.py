"""The guard: a stateful resource is never replaced, destroyed or orphaned by accident.

Each such change must be named in ALLOW_DESTRUCTIVE (`<env>/<stack>/<logical id>,...`), so the
approval is explicit, per resource and per environment, and visible in the command line of the
pull request's pipeline run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infra.review.templates import ResourceChange

EXIT_BLOCKED = 3


class AllowListError(ValueError):
    """A malformed ALLOW_DESTRUCTIVE entry; the message is one line."""


@dataclass(frozen=True)
class Finding:
    """A stateful resource that this change would replace, destroy or orphan."""

    env: str
    stack: str
    change: ResourceChange
    allowed: bool

    @property
    def address(self) -> str:
        return f"{self.env}/{self.stack}/{self.change.logical_id}"

    def describe(self) -> str:
        return (
            f"{self.address} ({self.change.resource_type} {self.change.kind}: {self.change.cause})"
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
    env: str, stack: str, changes: Iterable[ResourceChange], allowed: frozenset[str]
) -> list[Finding]:
    """The changes of one stack that the guard stops unless allowed."""
    result = []
    for change in changes:
        if change.stateful and change.loses_resource:
            address = f"{env}/{stack}/{change.logical_id}"
            result.append(Finding(env, stack, change, allowed=address in allowed))
    return result
