"""Config mutations judged by the reviewers' diff, synthesized in-process and cheaply.

Each scenario edits one environment's config (as the YAML data a person would edit), builds
only the stack parts the edit touches (with the stacks they read from) in one in-process App,
and pairs their templates with the unchanged estate's; every stack not rebuilt keeps its base
template. All scenarios' template pairs go through ONE run of the diff engine.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import App

from infra.app import cdk_context
from infra.config import EnvironmentConfig
from infra.estate import EstateParts
from infra.review.command import Outcome, environment_report, outcome
from infra.review.templates import Template, diff_templates

Edit = Callable[[dict[str, Any]], None]
Hook = Callable[[EstateParts], None]


@dataclass(frozen=True)
class Scenario:
    """A change to one environment, the parts it rebuilds, and what the diff must say."""

    name: str
    edit: Edit
    parts: tuple[str, ...]
    exit_code: int
    rows: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (part, id) -> kind
    blocked: frozenset[tuple[str, str]] = frozenset()
    chains: tuple[str, ...] = ()  # substrings of the report's reference chains
    after_build: Hook | None = None  # a code change (e.g. a construct rename) on the built stacks


def mutated(cfg: EnvironmentConfig, edit: Edit) -> EnvironmentConfig:
    """`cfg` after `edit` on its data, validated again like a config file."""
    data = cfg.model_dump(mode="json")
    edit(data)
    return EnvironmentConfig.model_validate(data)


def synthesize(
    cfg: EnvironmentConfig, parts: Iterable[str], outdir: Path, after_build: Hook | None = None
) -> dict[str, Template]:
    """Templates of `parts` of `cfg`, synthesized in-process with the stacks they read from
    (whose templates are not returned: built without their other consumers, they lack the
    subnet tags and published outputs those add)."""
    app = App(outdir=str(outdir), context=cdk_context())
    estate = EstateParts(app, cfg)
    for part in parts:
        estate.get(part)
    if after_build is not None:
        after_build(estate)
    assembly = app.synth()
    built = [estate.get(part) for part in parts]
    return {s.stack_name: assembly.get_stack_by_name(s.stack_name).template for s in built}


def with_base_outputs(rebuilt: Template, base: Template | None) -> Template:
    """`rebuilt` plus the outputs of `base` it lacks: a weak reference publishes an output in
    the producer only when its consumer is built, and a scenario builds the consumers of the
    parts it changes only when it lists them. Outputs both have keep the rebuilt value."""
    outputs = {**(base or {}).get("Outputs", {}), **rebuilt.get("Outputs", {})}
    return {**rebuilt, "Outputs": outputs} if outputs else rebuilt


def run(
    scenarios: Iterable[Scenario],
    cfg: EnvironmentConfig,
    base: Mapping[str, Template],
    workdir: Path,
) -> dict[str, Outcome]:
    """Every scenario's outcome against `base` ({stack name: template} of cfg's environment)."""
    pairs: dict[str, tuple[Template | None, Template | None]] = {}
    stacks: dict[str, list[str]] = {}
    for scenario in scenarios:
        new = dict(base)
        changed = mutated(cfg, scenario.edit)
        rebuilt = synthesize(changed, scenario.parts, workdir / scenario.name, scenario.after_build)
        new.update({n: with_base_outputs(t, base.get(n)) for n, t in rebuilt.items()})
        stacks[scenario.name] = sorted(new)
        for name in new:
            pairs[f"{scenario.name}|{name}"] = (base.get(name), new[name])
    diffs = diff_templates(pairs)
    results = {}
    for name, names in stacks.items():
        report = environment_report(
            cfg.name,
            {n: pairs[f"{name}|{n}"] for n in names},
            {n: diffs[f"{name}|{n}"] for n in names},
            frozenset(),
        )
        results[name] = outcome(f"scenario {name}", [report])
    return results


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """data["a"]["b"] = value for "a.b"."""
    *outer, last = dotted.split(".")
    target = data
    for key in outer:
        target = target[key]
    target[last] = copy.deepcopy(value)
