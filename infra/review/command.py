"""`python -m infra diff`: synthesize BASE and the working tree, compare, judge, report."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.review.assembly import manifests, regions_by_environment, stacks_by_environment
from infra.review.checkout import (
    Progress,
    SynthJob,
    check_synth_command,
    default_base,
    environments_at,
    export,
    quiet,
    resolve,
    synthesize,
)
from infra.review.cost import cost_change, picture
from infra.review.guard import EXIT_BLOCKED, Finding, findings
from infra.review.impact import judge
from infra.review.manifests import unified_diff
from infra.review.report import EnvironmentReport, StackReport, render
from infra.review.templates import Template, TemplateDiff, diff_templates


class UsageError(ValueError):
    """Bad arguments (unknown environment, ...); the message is one line."""


@dataclass
class Outcome:
    """A finished diff: the whole report, one report per environment, and the exit code."""

    report: str
    per_environment: dict[str, str]
    blocked: list[Finding]

    @property
    def exit_code(self) -> int:
        return EXIT_BLOCKED if self.blocked else 0


def _status(old: Template | None, new: Template | None, judged: TemplateDiff) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    if old != new:
        return "changed"
    return "changed through references" if judged.resources else "unchanged"


def _sections(old: Template | None, new: Template | None) -> list[str]:
    """Changed template sections besides Resources and Outputs (Parameters, Rules, ...)."""
    before, after = old or {}, new or {}
    keys = sorted((set(before) | set(after)) - {"Resources", "Outputs"})
    return [k for k in keys if before.get(k) != after.get(k)]


def compare(
    envs: Sequence[str],
    old_assembly: Path | None,
    new_assembly: Path | None,
    allowed: frozenset[str],
) -> list[EnvironmentReport]:
    """Per environment: every stack of either assembly diffed, judged by the guard."""
    old, new = stacks_by_environment(old_assembly), stacks_by_environment(new_assembly)
    pairs: dict[str, tuple[Template | None, Template | None]] = {}
    for env in envs:
        before, after = old.get(env, {}), new.get(env, {})
        for name in sorted(set(before) | set(after)):
            pairs[name] = (before.get(name), after.get(name))
    diffs = diff_templates(pairs)
    regions = {**regions_by_environment(old_assembly), **regions_by_environment(new_assembly)}
    reports = []
    for env in envs:
        names = sorted(set(old.get(env, {})) | set(new.get(env, {})))
        report = environment_report(
            env,
            {n: pairs[n] for n in names},
            {n: diffs[n] for n in names},
            allowed,
            manifests(old_assembly, env),
            manifests(new_assembly, env),
        )
        before, after = old.get(env, {}), new.get(env, {})
        report.cost = cost_change(env, regions.get(env) or _config_region(env), before, after)
        report.picture = picture(env, before, after)
        reports.append(report)
    return reports


def _config_region(env: str) -> str | None:
    """The region of `env` from its config file, for assemblies whose manifest lacks it."""
    from infra.config import ConfigError, load_environment

    try:
        return load_environment(env).region
    except ConfigError:
        return None


def environment_report(
    env: str,
    pairs: dict[str, tuple[Template | None, Template | None]],
    diffs: dict[str, TemplateDiff],
    allowed: frozenset[str],
    old_k8s: dict[str, str] | None = None,
    new_k8s: dict[str, str] | None = None,
) -> EnvironmentReport:
    """One environment's stacks (their template pairs and engine diffs) judged together:
    replacement per property, references followed across its stacks, then the guard."""
    judged = judge(pairs, diffs)
    stacks = [
        StackReport(
            name, _status(*pairs[name], judged[name]), judged[name], _sections(*pairs[name])
        )
        for name in sorted(pairs)
    ]
    found = [
        f for s in stacks for f in findings(env, s.name, s.diff.resources, allowed, pairs[s.name])
    ]
    old_k8s, new_k8s = old_k8s or {}, new_k8s or {}
    return EnvironmentReport(
        env=env,
        stacks=stacks,
        manifest_diff=unified_diff(old_k8s, new_k8s),
        manifests_present=bool(old_k8s or new_k8s),
        findings=found,
    )


def outcome(title: str, reports: list[EnvironmentReport]) -> Outcome:
    return Outcome(
        report=render(title, reports),
        per_environment={r.env: render(title, [r]) for r in reports},
        blocked=[f for r in reports for f in r.blocked],
    )


def diff_against_ref(
    *,
    root: Path,
    env: str,
    base: str | None,
    allowed: frozenset[str],
    progress: Progress = quiet,
    report_dir: Path | None = None,
) -> Outcome:
    """Diff the working tree at `root` against git ref `base` (default origin/main or main);
    `progress` hears one line per step (the CLI prints them on stderr); a failing synth's
    validation report is kept in `report_dir`."""
    ref = base or default_base(root)
    commit = resolve(root, ref)
    return _diff(
        root=root,
        env=env,
        ref=ref,
        commit=commit,
        allowed=allowed,
        head_out=None,
        progress=progress,
        report_dir=report_dir,
    )


def diff_for_deploy(
    *,
    root: Path,
    env: str,
    ref: str,
    commit: str | None,
    allowed: frozenset[str],
    head_out: Path,
    progress: Progress = quiet,
    report_dir: Path | None = None,
) -> Outcome:
    """What deploying the working tree of one environment does to what is deployed.

    `commit` is the last deployed commit (None: nothing deployed yet, every stack is new). The
    working tree's assembly is kept in `head_out`, so exactly the checked assembly is deployed.
    """
    return _diff(
        root=root,
        env=env,
        ref=ref,
        commit=commit,
        allowed=allowed,
        head_out=head_out,
        progress=progress,
        report_dir=report_dir,
    )


def _diff(
    *,
    root: Path,
    env: str,
    ref: str,
    commit: str | None,
    allowed: frozenset[str],
    head_out: Path | None,
    progress: Progress,
    report_dir: Path | None = None,
) -> Outcome:
    if commit is not None:
        check_synth_command(root, commit, ref)
    head_envs = sorted(p.stem for p in (root / "config").glob("*.yaml"))
    base_envs = environments_at(root, commit) if commit is not None else []
    known = sorted(set(head_envs) | set(base_envs))
    if env != "all" and env not in known:
        raise UsageError(f"--env {env}: unknown environment; known: {', '.join(known)} or all")
    envs = known if env == "all" else [env]
    one = None if env == "all" else env
    with tempfile.TemporaryDirectory(prefix="twenty-diff-") as tmp:
        work = Path(tmp)
        base_out = work / "base.out"
        head = head_out or work / "head.out"
        jobs = []
        if commit is not None and (one is None or one in base_envs):
            progress(f"exporting base {ref} ({commit[:12]}) with git archive")
            source = export(root, commit, work / "base")
            jobs.append(SynthJob(f"base {ref}", source, base_out, one))
        if one is None or one in head_envs:
            jobs.append(SynthJob("working tree", root, head, one))
        synthesize(jobs, progress, keep_dir=report_dir)
        progress("comparing templates, judging replacements, following references")
        reports = compare(envs, base_out if commit is not None else None, head, allowed)
    if commit is None:
        return outcome(
            f"Infrastructure diff: nothing deployed ({ref} absent) → working tree", reports
        )
    return outcome(f"Infrastructure diff: {ref} ({commit[:12]}) → working tree", reports)


def write_reports(result: Outcome, report_dir: Path, suffix: str = "") -> list[Path]:
    """cdk.out/diff-<env>.md per environment."""
    report_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for env, text in result.per_environment.items():
        path = report_dir / f"diff-{env}{suffix}.md"
        path.write_text(text)
        written.append(path)
    return written
