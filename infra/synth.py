"""Synthesizes the estate into a cloud assembly and summarizes it for `make synth`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from infra.app import create_app
from infra.cost.estimate import EnvironmentCost, estimate_environment, money
from infra.cost.prices import PriceFileError, load_prices
from infra.estate import Estate


def _cost(estate: Estate, templates: dict[str, dict[str, object]]) -> EnvironmentCost | str:
    """The environment's monthly estimate, or the one-line reason there is none."""
    try:
        book = load_prices(estate.config.region)
    except PriceFileError as exc:
        return str(exc)
    return estimate_environment(estate.config.name, templates, book)


def synth_estate(env: str | None = None, outdir: str = "cdk.out") -> str:
    """Synthesize (cdk-nag on) into `outdir`; return the per-environment summary text with each
    stack's monthly estimate at the node groups' desired size (`python -m infra cost` details)."""
    app, estates = create_app(env=env, outdir=outdir)
    assembly = app.synth()
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text())
    if manifest.get("missing"):
        raise RuntimeError(f"synth needed AWS lookups: {manifest['missing']}")
    lines = []
    for estate in estates:
        templates = {
            s.stack_name: assembly.get_stack_by_name(s.stack_name).template for s in estate.stacks
        }
        cost = _cost(estate, templates)
        lines.append(f"{estate.config.name}:")
        for stack in estate.stacks:
            kinds = Counter(
                r["Type"] for r in templates[stack.stack_name].get("Resources", {}).values()
            )
            stack_cost = cost.stack(stack.stack_name) if isinstance(cost, EnvironmentCost) else None
            column = (
                f"{money(stack_cost.desired):>10} USD/month"
                if stack_cost
                else f"{'?':>10} USD/month"
            )
            if stack_cost and stack_cost.unpriced:
                column += f" ({len(stack_cost.unpriced)} not priced)"
            lines.append(
                f"  {stack.stack_name:<28} {sum(kinds.values()):>4} resources"
                f"  {len(stack.acknowledgements):>3} nag acknowledgements  {column}"
            )
        if isinstance(cost, EnvironmentCost):
            lines.append(
                f"  {'total':<28} {money(cost.desired):>10} USD/month at desired,"
                f" {money(cost.at_max):>10} at max ({cost.book.region} prices of {cost.book.as_of})"
            )
        else:
            lines.append(f"  no cost estimate: {cost}")
    return "\n".join(lines)
