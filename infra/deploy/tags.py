"""The `deployed/<env>` tag: the commit whose templates an environment runs.

The guard compares the working tree with this commit, so a deploy is judged against what is
deployed, not against main. Only a complete deploy from a clean working tree moves it; in CI the
workflow then pushes it (the `gh api` step of .github/workflows/deploy-environment.yml).
"""

from __future__ import annotations

import subprocess
from pathlib import Path


class TagError(RuntimeError):
    """Git cannot answer or cannot move the tag; the message is one line."""


def tag_name(env: str) -> str:
    return f"deployed/{env}"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )


def deployed_commit(root: Path, env: str) -> str | None:
    """The commit `deployed/<env>` names, or None before the first deploy."""
    if _git(root, "rev-parse", "--git-dir").returncode != 0:
        raise TagError(f"{root} is not a git repository; deploy needs one for {tag_name(env)}")
    found = _git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag_name(env)}^{{commit}}")
    return found.stdout.strip() if found.returncode == 0 else None


def head_commit(root: Path) -> str:
    found = _git(root, "rev-parse", "--verify", "HEAD^{commit}")
    if found.returncode != 0:
        raise TagError(f"{root} has no commit yet; commit before deploying")
    return found.stdout.strip()


def uncommitted(root: Path) -> list[str]:
    """Paths that differ from HEAD (modified, staged or untracked; ignored files excluded)."""
    status = _git(root, "status", "--porcelain", "--no-renames")
    return [line[3:] for line in status.stdout.splitlines() if line.strip()]


def move_tag_command(root: Path, env: str, commit: str) -> list[str]:
    """The git command that points `deployed/<env>` at `commit` (run by the deploy's runner)."""
    return ["git", "-C", str(root), "tag", "--force", tag_name(env), commit]
