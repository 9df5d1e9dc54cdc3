"""Synthesizes the estate into a cloud assembly and summarizes it for `make synth`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from infra.app import create_app


def synth_estate(env: str | None = None, outdir: str = "cdk.out") -> str:
    """Synthesize (cdk-nag on) into `outdir`; return the per-environment summary text."""
    app, estates = create_app(env=env, outdir=outdir)
    assembly = app.synth()
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text())
    if manifest.get("missing"):
        raise RuntimeError(f"synth needed AWS lookups: {manifest['missing']}")
    lines = []
    for estate in estates:
        lines.append(f"{estate.config.name}:")
        for stack in estate.stacks:
            template = assembly.get_stack_by_name(stack.stack_name).template
            kinds = Counter(r["Type"] for r in template.get("Resources", {}).values())
            lines.append(
                f"  {stack.stack_name:<28} {sum(kinds.values()):>4} resources"
                f"  {len(stack.acknowledgements):>3} nag acknowledgements"
            )
    return "\n".join(lines)
