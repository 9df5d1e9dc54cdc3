"""`make diff ENV=prod BASE_ENV=qa`: what promoting qa's code and shape to prod changes.

Two environments of the same working tree always differ in names, CIDRs, sizes, counts, domain,
account and tag values: that is what the config files are for. Those are masked, in the config
and in the templates, so the report shows only what differs in kind: a feature on in one and off
in the other, a pinned version, a resource that exists in only one of them.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra.config import EnvironmentConfig, load_environment
from infra.review.assembly import part_of, stacks_by_environment
from infra.review.checkout import Progress, SynthJob, quiet, synthesize
from infra.review.command import Outcome, UsageError
from infra.review.report import table
from infra.review.templates import Template, diff_templates

# Name tokens (snake_case or CamelCase words) of values that differ between environments by design.
BY_DESIGN_TOKENS = frozenset({
    "name", "names", "account", "domain", "cidr", "cidrs", "size", "sizes", "count", "min", "max",
    "desired", "instance", "instances", "retention", "days", "gb", "gib", "storage", "replicas",
    "nat", "subnets", "cpu", "memory", "iops", "throughput", "environment",
})  # fmt: skip
MASK = "<by design>"
_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")


def _tokens(key: str) -> set[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)
    return {t for t in spaced.lower().split("_") if t}


def by_design(path: str) -> bool:
    """True if a dotted config path (or a template property key) names a by-design value."""
    segments = path.split(".")
    return segments[0] == "tags" or any(_tokens(s) & BY_DESIGN_TOKENS for s in segments)


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}.{index}")
    else:
        yield prefix, value


def config_differences(
    base: EnvironmentConfig, head: EnvironmentConfig
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(fields differing in kind with both values, fields differing by design)."""
    old = dict(_flatten(base.model_dump(mode="json")))
    new = dict(_flatten(head.model_dump(mode="json")))
    reported, masked = [], []
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        if by_design(path):
            masked.append(path)
        else:
            reported.append(
                (path, repr(old.get(path, "(absent)")), repr(new.get(path, "(absent)")))
            )
    return reported, masked


def _identity(cfg: EnvironmentConfig) -> list[tuple[re.Pattern[str], str]]:
    words = [(cfg.account, "<account>"), (cfg.domain_name, "<domain>"), (cfg.name, "<env>")]
    return [(re.compile(rf"(?<![A-Za-z0-9]){re.escape(w)}(?![A-Za-z0-9])"), m) for w, m in words]


def normalize(value: Any, identity: list[tuple[re.Pattern[str], str]], key: str = "") -> Any:
    """The template with environment identity and by-design property values masked."""
    if key == "Tags":
        if isinstance(value, list):
            return [{**t, "Value": MASK} if isinstance(t, dict) else t for t in value]
        if isinstance(value, dict):
            return dict.fromkeys(value, MASK)
    if key and _tokens(key) & BY_DESIGN_TOKENS:
        return MASK
    if isinstance(value, dict):
        return {k: normalize(v, identity, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v, identity) for v in value]
    if isinstance(value, str):
        for pattern, mask in identity:
            value = pattern.sub(mask, value)
    return value


def _normalized(template: Template, cfg: EnvironmentConfig) -> Template:
    masked: Template = normalize(template, _identity(cfg))
    masked.pop("Description", None)
    return masked


def _count_key(logical_id: str, resource_type: str) -> str:
    return resource_type + ":" + re.sub(r"\d", "", _HASH_SUFFIX.sub("", logical_id))


def diff_environments(
    *,
    root: Path,
    env: str,
    base_env: str,
    progress: Progress = quiet,
    report_dir: Path | None = None,
) -> Outcome:
    """Compare environment `base_env` with `env`, both from the working tree at `root`; a
    failing synth's validation report is kept in `report_dir`."""
    config_dir = root / "config"
    for name in (env, base_env):
        if name == "all" or not (config_dir / f"{name}.yaml").exists():
            raise UsageError(f"--env/--base-env {name}: need an environment name from config/")
    if env == base_env:
        raise UsageError(f"--base-env {base_env}: same as --env; pick another environment")
    base_cfg, head_cfg = load_environment(base_env, config_dir), load_environment(env, config_dir)
    with tempfile.TemporaryDirectory(prefix="twenty-promote-") as tmp:
        outs = {name: Path(tmp) / name for name in (base_env, env)}
        jobs = [SynthJob(f"environment {n}", root, out, n) for n, out in outs.items()]
        synthesize(jobs, progress, keep_dir=report_dir)
        old = stacks_by_environment(outs[base_env]).get(base_env, {})
        new = stacks_by_environment(outs[env]).get(env, {})
    old_parts = {part_of(n): _normalized(t, base_cfg) for n, t in old.items()}
    new_parts = {part_of(n): _normalized(t, head_cfg) for n, t in new.items()}
    parts = sorted(set(old_parts) | set(new_parts))
    progress("comparing the two environments' templates")
    diffs = diff_templates({p: (old_parts.get(p), new_parts.get(p)) for p in parts})
    reported, masked = config_differences(base_cfg, head_cfg)
    lines: list[str] = []
    rows: list[list[str]] = []
    counted: list[str] = []
    for part in parts:
        kinds = {
            side: _count_keys(parts_of.get(part))
            for side, parts_of in ((base_env, old_parts), (env, new_parts))
        }
        for change in diffs[part].resources:
            address = f"{part}/{change.logical_id}"
            if change.kind in ("added", "destroyed", "orphaned"):
                only, other = (env, base_env) if change.kind == "added" else (base_env, env)
                if _count_key(change.logical_id, change.resource_type) in kinds[other]:
                    counted.append(address)  # one more or one fewer of a kind both have
                else:
                    rows.append([f"only in {only}", address, change.resource_type, ""])
            else:
                props = ", ".join([p.name for p in change.properties] + list(change.other))
                rows.append(["differs", address, change.resource_type, props])
    summary = (
        f"- **{base_env} → {env}**: {len(reported)} config field(s) and {len(rows)} resource(s)"
        f" differ beyond names, CIDRs, sizes, counts, domain, account and tag values"
    )
    lines += [f"# Environment comparison: {base_env} → {env}", "", summary, ""]
    lines += ["## Config", ""]
    if reported:
        lines += [*table(("Field", base_env, env), [list(r) for r in reported]), ""]
    else:
        lines += ["No config differences beyond the by-design ones.", ""]
    if masked:
        lines += [f"Differ by design (not compared): {', '.join(masked)}.", ""]
    lines += ["## Templates", ""]
    if rows:
        lines += [*table(("Difference", "Stack part / logical ID", "Type", "Properties"), rows)]
        lines += [""]
    else:
        lines += ["The templates differ only in by-design values.", ""]
    if counted:
        lines += [f"Differ only in count (not compared): {', '.join(counted)}.", ""]
    text = "\n".join(lines).rstrip("\n") + "\n"
    return Outcome(report=text, per_environment={env: text}, blocked=[])


def _count_keys(template: Template | None) -> set[str]:
    resources = (template or {}).get("Resources", {})
    return {_count_key(logical_id, r.get("Type", "")) for logical_id, r in resources.items()}
