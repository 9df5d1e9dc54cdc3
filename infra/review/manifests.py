"""Unified diff of the rendered Kubernetes manifests (`<assembly>/k8s/<env>/`)."""

from __future__ import annotations

import difflib


def unified_diff(old: dict[str, str], new: dict[str, str]) -> str:
    """One unified diff over every manifest file of either side; '' if nothing changed."""
    chunks: list[str] = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        chunks.extend(
            difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                (after or "").splitlines(keepends=True),
                fromfile=f"a/{path}" if before is not None else "/dev/null",
                tofile=f"b/{path}" if after is not None else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)
