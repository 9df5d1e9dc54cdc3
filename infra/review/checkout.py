"""The two sides of a diff: the BASE git ref, exported to a temporary directory, and the
working tree, each synthesized by its own `python -m infra synth` with the current interpreter.

The base is exported with `git archive` rather than `git worktree add`: the same files at that
commit, without registering a worktree in the repository that a killed run would leave behind.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class CheckoutError(RuntimeError):
    """The base cannot be resolved, exported or synthesized; the message is one line."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)


def default_base(root: Path) -> str:
    """origin/main if the repository has it, else main."""
    found = _git(root, "rev-parse", "--verify", "--quiet", "origin/main^{commit}")
    return "origin/main" if found.returncode == 0 else "main"


def resolve(root: Path, ref: str) -> str:
    """The commit id of `ref`, or CheckoutError naming the ref."""
    if _git(root, "rev-parse", "--git-dir").returncode != 0:
        raise CheckoutError(f"{root} is not a git repository; --base needs one")
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0 or ref.startswith("-"):
        raise CheckoutError(
            f"--base {ref}: not a commit in this repository; give a branch, tag or sha"
        )
    return found.stdout.decode().strip()


def environments_at(root: Path, commit: str) -> list[str]:
    """Environment names (config/*.yaml) at `commit`."""
    listed = _git(root, "ls-tree", "--name-only", f"{commit}:config")
    names = listed.stdout.decode().split() if listed.returncode == 0 else []
    return sorted(Path(n).stem for n in names if n.endswith(".yaml"))


SYNTH_COMMAND_FILES = ("infra/cli/estate.py", "infra/cli.py")
"""Where a commit defines `python -m infra synth`: the command package's module (today), or
the single module the commands lived in before it was split (older bases)."""


def check_synth_command(root: Path, commit: str, ref: str) -> None:
    """Fail with one line if the base predates `python -m infra synth --outdir`."""
    for path in SYNTH_COMMAND_FILES:
        cli = _git(root, "show", f"{commit}:{path}")
        if cli.returncode == 0 and b'"synth"' in cli.stdout and b"--outdir" in cli.stdout:
            return
    raise CheckoutError(
        f"--base {ref}: predates `python -m infra synth --outdir`; pick a newer base"
    )


def export(root: Path, commit: str, target: Path) -> Path:
    """Write the tree of `commit` into `target` (like a checkout, without .git)."""
    archive = _git(root, "archive", "--format=tar", commit)
    if archive.returncode != 0:
        raise CheckoutError(f"git archive {commit[:12]} failed: {archive.stderr.decode().strip()}")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target


@dataclass
class SynthJob:
    """One `python -m infra synth` of a source tree into an output directory."""

    label: str
    source: Path
    outdir: Path
    env: str | None

    def start(self) -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "infra", "synth", "--outdir", str(self.outdir)]
        if self.env:
            args += ["--env", self.env]
        environ = dict(os.environ)
        environ.pop("PYTHONPATH", None)  # the source tree's own `infra` package, nothing else
        environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
        environ["JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"] = "1"
        return subprocess.Popen(
            args,
            cwd=self.source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )


Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """A progress callback that says nothing."""


SYNTH_LINE = "synth: "  # infra/synth_errors.py PREFIX: the synth's own one-line reasons
REPORT_FILE = "validation-report.json"  # CDK's validation report, in the synth's outdir


def _kept_report(job: SynthJob, line: str, keep_dir: Path | None) -> str:
    """`line` with a report path inside the job's (temporary) outdir pointing at a copy in
    `keep_dir` instead, so the path the message names still exists after the diff."""
    if keep_dir is None:
        return line
    report = job.outdir / REPORT_FILE
    shown = {str(report), os.path.relpath(report)}
    if not report.is_file() or not any(path in line for path in shown):
        return line
    keep_dir.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "-" for c in job.label).strip("-")
    kept = keep_dir / f"{REPORT_FILE.removesuffix('.json')}-{slug}.json"
    shutil.copyfile(report, kept)
    for path in sorted(shown, key=len, reverse=True):
        line = line.replace(path, str(kept))
    return line


def failure_lines(job: SynthJob, err: str, keep_dir: Path | None) -> list[str]:
    """The synth's own reasons (`synth: ...` lines), else its last three lines."""
    lines = [line for line in err.splitlines() if line.strip()]
    own = [line.removeprefix(SYNTH_LINE) for line in lines if line.startswith(SYNTH_LINE)]
    chosen = own or lines[-3:]
    return [_kept_report(job, line, keep_dir) for line in chosen]


def synthesize(
    jobs: list[SynthJob], progress: Progress = quiet, keep_dir: Path | None = None
) -> None:
    """Run the synths in parallel, saying when each starts and ends; CheckoutError with the
    failures' reasons. A validation report a failure names is copied into `keep_dir` (the
    diff's report directory): the synths' own directories may be temporary."""
    for job in jobs:
        progress(f"synthesizing {job.label} ({job.env or 'every environment'})")
    started = time.monotonic()
    running = [(job, job.start()) for job in jobs]
    failures = []
    for job, proc in running:
        _, err = proc.communicate()
        elapsed = time.monotonic() - started
        outcome = "done" if proc.returncode == 0 else "FAILED"
        progress(f"synth of {job.label} {outcome} after {elapsed:.0f} s")
        if proc.returncode != 0:
            lines = failure_lines(job, err, keep_dir)
            failures.append(
                f"synth of {job.label} failed (exit {proc.returncode}): "
                + (" | ".join(lines) if lines else "no output")
            )
    if failures:
        raise CheckoutError("; ".join(failures))
