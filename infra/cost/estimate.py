"""Adds the charges of every resource up per stack and per environment, and prints them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.cost.assumptions import ASSUMPTIONS, Assumptions
from infra.cost.prices import CURRENCY, PriceBook
from infra.cost.rules import Charge, NotPricedError, Resource, free_reason, price

Template = dict[str, Any]


@dataclass(frozen=True)
class LineItem:
    """One priced charge of one resource."""

    stack: str
    logical_id: str
    resource_type: str
    charge: Charge


@dataclass(frozen=True)
class Unpriced:
    """A resource the estimate leaves out, and why: never counted as zero."""

    stack: str
    logical_id: str
    resource_type: str
    reason: str

    def describe(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.resource_type}): {self.reason}"


@dataclass
class StackCost:
    name: str
    items: list[LineItem] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    free: int = 0

    @property
    def desired(self) -> float:
        return sum(i.charge.desired for i in self.items)

    @property
    def at_max(self) -> float:
        return sum(i.charge.at_max for i in self.items)


@dataclass
class EnvironmentCost:
    env: str
    book: PriceBook
    stacks: list[StackCost]

    @property
    def desired(self) -> float:
        return sum(s.desired for s in self.stacks)

    @property
    def at_max(self) -> float:
        return sum(s.at_max for s in self.stacks)

    @property
    def unpriced(self) -> list[Unpriced]:
        return [u for s in self.stacks for u in s.unpriced]

    def stack(self, name: str) -> StackCost | None:
        return next((s for s in self.stacks if s.name == name), None)


def estimate_stack(
    name: str, template: Template, book: PriceBook, assumptions: Assumptions = ASSUMPTIONS
) -> StackCost:
    """Every resource of one template priced, deliberately free, or listed as not priced."""
    cost = StackCost(name)
    for logical_id, raw in sorted(template.get("Resources", {}).items()):
        kind = str(raw.get("Type", ""))
        if free_reason(kind) is not None:
            cost.free += 1
            continue
        resource = Resource(logical_id, kind, dict(raw.get("Properties") or {}), template)
        try:
            charges = price(resource, book, assumptions)
        except NotPricedError as exc:
            cost.unpriced.append(Unpriced(name, logical_id, kind, str(exc)))
            continue
        cost.items += [LineItem(name, logical_id, kind, c) for c in charges]
    return cost


def estimate_environment(
    env: str,
    stacks: Mapping[str, Template],
    book: PriceBook,
    assumptions: Assumptions = ASSUMPTIONS,
) -> EnvironmentCost:
    return EnvironmentCost(
        env, book, [estimate_stack(n, stacks[n], book, assumptions) for n in sorted(stacks)]
    )


def money(amount: float) -> str:
    return f"{amount:,.2f}"


def signed(amount: float) -> str:
    return ("+" if amount >= 0.005 else "-" if amount <= -0.005 else "±") + money(abs(amount))


def render(
    costs: Sequence[EnvironmentCost],
    *,
    resources: bool = False,
    assumptions: Assumptions = ASSUMPTIONS,
) -> str:
    """The `python -m infra cost` report: per environment, a line per stack and the total."""
    lines: list[str] = []
    books = {c.book.path: c.book for c in costs}
    for book in books.values():
        lines.append(f"Monthly estimate in {book.describe()}")
        if book.caveat:
            lines.append(f"  caveat: {book.caveat}")
    lines.append("")
    width = max([len(s.name) for c in costs for s in c.stacks] + [24])
    for cost in costs:
        lines.append(
            f"{cost.env}:{'':<{width - len(cost.env) + 1}}{'at desired':>12}{'at max':>12}"
        )
        for stack in cost.stacks:
            marker = f"  ({len(stack.unpriced)} not priced)" if stack.unpriced else ""
            lines.append(
                f"  {stack.name:<{width}}{money(stack.desired):>12}{money(stack.at_max):>12}"
                + marker
            )
            if resources:
                for item in stack.items:
                    lines.append(
                        f"      {item.logical_id} ({item.resource_type}): {item.charge.what}"
                        f"  {money(item.charge.desired)}"
                        + (
                            f" / {money(item.charge.at_max)}"
                            if item.charge.at_max != item.charge.desired
                            else ""
                        )
                    )
        total = f"total {CURRENCY}/month"
        lines.append(f"  {total:<{width}}{money(cost.desired):>12}{money(cost.at_max):>12}")
        for unpriced in cost.unpriced:
            lines.append(f"  not priced: {unpriced.describe()}")
        lines.append("")
    lines.append("Assumptions (infra/cost/assumptions.py):")
    lines += [f"  {line}" for line in assumptions.lines()]
    return "\n".join(lines)
