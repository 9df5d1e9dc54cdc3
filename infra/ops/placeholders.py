"""The example values committed in config/*.yaml, which must never reach a deploy.

This table is the one place they are listed. `preflight` refuses each one found in an
environment's file, by name and with its fix, before it makes any AWS call: a fake AMI would
otherwise fail only in the second deploy wave, with the EKS cluster already being created.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Placeholder:
    """A committed example value: what it stands for and how to replace it."""

    value: str
    what: str
    fix: str

    @property
    def pattern(self) -> re.Pattern[str]:
        # A whole word: the value alone, inside an ARN (`::111111111111:`), after `@`.
        return re.compile(rf"(?<![\w.]){re.escape(self.value)}(?![\w-])")


PLACEHOLDERS: tuple[Placeholder, ...] = (
    Placeholder(
        "111111111111", "the example dev account id", "put the environment's real account id"
    ),
    Placeholder(
        "222222222222", "the example qa account id", "put the environment's real account id"
    ),
    Placeholder(
        "333333333333", "the example prod account id", "put the environment's real account id"
    ),
    Placeholder(
        "ami-00000000000000000",
        "the example AMI id",
        "run `python -m infra pin-ami --env <env>` to pin Canonical's current AMI",
    ),
    Placeholder(
        "203.0.113.0/24",
        "the documentation range TEST-NET-3 (RFC 5737)",
        "put your office/VPN egress CIDRs",
    ),
    Placeholder(
        "example.com",
        "the reserved example domain (RFC 2606)",
        "put your team's real alert addresses",
    ),
)


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{path}[{i}]")
    elif node is not None:
        yield path, str(node)


def placeholder_problems(path: Path, label: str) -> list[str]:
    """One line per committed example value in the file: where, what it is, the fix.

    The file has already been validated (`load_environment`), so it parses.
    """
    raw = yaml.safe_load(path.read_text())
    lines = []
    for field, value in _leaves(raw):
        for placeholder in PLACEHOLDERS:
            if placeholder.pattern.search(value):
                fix = placeholder.fix.replace("<env>", path.stem)
                lines.append(
                    f"{label}: {field}: {value!r} contains {placeholder.value}, "
                    f"{placeholder.what}; {fix}"
                )
    return lines
