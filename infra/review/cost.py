"""The cost change and the estate picture of one environment in the reviewers' diff.

Both sides are priced with the working tree's price file, so the delta is what the change does
to the estate, never a price refresh; `python -m infra cost` has the per-resource detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.cost.estimate import EnvironmentCost, estimate_environment, money, signed
from infra.cost.prices import CURRENCY, PriceFileError, load_prices
from infra.diagram import page_path, render_diagram

Template = dict[str, Any]
DIAGRAM_DOCS = "docs/estate"


@dataclass
class CostChange:
    """Monthly estimate of one environment before and after (at desired and at max size)."""

    before: EnvironmentCost | None
    after: EnvironmentCost | None
    error: str = ""

    def _total(self, side: EnvironmentCost | None, at_max: bool = False) -> float:
        if side is None:
            return 0.0
        return side.at_max if at_max else side.desired

    def line(self) -> str:
        return f"cost change: {self.describe()}"

    def describe(self) -> str:
        if self.error:
            return f"not estimated ({self.error})"
        old, new = self._total(self.before), self._total(self.after)
        old_max, new_max = self._total(self.before, True), self._total(self.after, True)
        text = (
            f"{signed(new - old)} {CURRENCY}/month at desired"
            f" ({money(old)} → {money(new)}), {signed(new_max - old_max)} at max"
            f" ({money(old_max)} → {money(new_max)})"
        )
        unpriced = self.new_unpriced()
        if unpriced:
            text += f"; {len(unpriced)} new resource(s) not priced"
        return text

    def new_unpriced(self) -> list[str]:
        before = {u.describe() for u in self.before.unpriced} if self.before else set()
        after = [u.describe() for u in self.after.unpriced] if self.after else []
        return [u for u in after if u not in before]

    def stack_rows(self) -> list[list[str]]:
        """[stack, before → after, change at desired, change at max] of each stack that moved."""
        names = sorted({s.name for side in (self.before, self.after) if side for s in side.stacks})
        rows = []
        for name in names:
            old = self.before.stack(name) if self.before else None
            new = self.after.stack(name) if self.after else None
            values = [
                old.desired if old else 0.0,
                new.desired if new else 0.0,
                old.at_max if old else 0.0,
                new.at_max if new else 0.0,
            ]
            if abs(values[1] - values[0]) < 0.005 and abs(values[3] - values[2]) < 0.005:
                continue
            rows.append(
                [
                    name,
                    f"{money(values[0])} → {money(values[1])}",
                    signed(values[1] - values[0]),
                    signed(values[3] - values[2]),
                ]
            )
        return rows


def cost_change(
    env: str,
    region: str | None,
    before: Mapping[str, Template],
    after: Mapping[str, Template],
    price_dir: Path | None = None,
) -> CostChange:
    """Price both sides of one environment with the same (working tree's) price file."""
    if region is None:
        return CostChange(None, None, f"region of {env} unknown")
    try:
        book = load_prices(region) if price_dir is None else load_prices(region, price_dir)
    except PriceFileError as exc:
        return CostChange(None, None, str(exc))
    return CostChange(
        estimate_environment(env, before, book) if before else None,
        estimate_environment(env, after, book) if after else None,
    )


@dataclass
class Picture:
    """Where the environment's diagram lives, and the new one when the change redraws it."""

    path: str
    changed_diagram: str = ""
    notes: list[str] = field(default_factory=list)


def picture(env: str, before: Mapping[str, Template], after: Mapping[str, Template]) -> Picture:
    committed = f"{DIAGRAM_DOCS}/{page_path(env).name}"
    if not after:
        return Picture(committed)
    new = render_diagram(env, after)
    old = render_diagram(env, before) if before else ""
    return Picture(committed, new if new != old else "")
