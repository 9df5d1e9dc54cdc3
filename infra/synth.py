"""Synthesizes the estate into a cloud assembly and summarizes it for `make synth`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.app import create_app
from infra.config import CONFIG_DIR
from infra.cost.estimate import EnvironmentCost, estimate_environment, money
from infra.cost.prices import PriceFileError, load_prices
from infra.estate import Estate
from infra.synth_errors import translated_failures


def _cost(estate: Estate, templates: dict[str, dict[str, Any]]) -> EnvironmentCost | str:
    """The environment's monthly estimate, or the one-line reason there is none."""
    try:
        book = load_prices(estate.config.region)
    except PriceFileError as exc:
        return str(exc)
    return estimate_environment(estate.config.name, templates, book)


def synth_estate(
    env: str | None = None, outdir: str = "cdk.out", config_dir: Path = CONFIG_DIR
) -> str:
    """Synthesize (cdk-nag on) into `outdir`; return the per-environment summary text.

    A failure caused by the input is `SynthInputError` (one line per problem)."""
    with translated_failures(env, Path(outdir), config_dir):
        app, estates = create_app(env=env, outdir=outdir, config_dir=config_dir)
        assembly = app.synth()
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text())
    if manifest.get("missing"):
        raise RuntimeError(f"synth needed AWS lookups: {manifest['missing']}")
    return summary(estates, lambda name: assembly.get_stack_by_name(name).template)


def summary(estates: list[Estate], template_of: Callable[[str], dict[str, Any]]) -> str:
    """Per stack: resources, nag acknowledgements and the monthly estimate at the node groups'
    desired size; per environment the total at desired and at max (`python -m infra cost`)."""
    lines = []
    for estate in estates:
        templates = {s.stack_name: template_of(s.stack_name) for s in estate.stacks}
        cost = _cost(estate, templates)
        lines.append(f"{estate.config.name}:")
        for stack in estate.stacks:
            resources = templates[stack.stack_name].get("Resources", {})
            stack_cost = cost.stack(stack.stack_name) if isinstance(cost, EnvironmentCost) else None
            column = f"{money(stack_cost.desired) if stack_cost else '?':>10} USD/month"
            if stack_cost and stack_cost.unpriced:
                column += f" ({len(stack_cost.unpriced)} not priced)"
            lines.append(
                f"  {stack.stack_name:<28} {len(resources):>4} resources"
                f"  {len(stack.acknowledgements):>3} nag acknowledgements  {column}"
            )
        if isinstance(cost, EnvironmentCost):
            lines.append(
                f"  {'total':<28} {money(cost.desired):>10} USD/month at desired,"
                f" {money(cost.at_max)} at max ({cost.book.region} prices of {cost.book.as_of})"
            )
        else:
            lines.append(f"  no cost estimate: {cost}")
    return "\n".join(lines)
