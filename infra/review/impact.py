"""Judge what a deploy does to every resource of one environment, across its stacks.

The diff engine (`@aws-cdk/cloudformation-diff`) says which resources and properties changed in
the template text. This module decides, per changed property, what that does to the resource
(`replacement.property_effect`, from AWS's resource schemas and the estate's known context),
then follows references: a resource that is replaced gets a new id, so every property that reads
it changes too, in its own stack (`Ref`, `Fn::GetAtt`, `Fn::Sub`) and in other stacks through
`Fn::GetStackOutput` or `Fn::ImportValue`, although their text is the same. Those properties are
judged by the same rules, to a fixpoint, and each change made that way keeps the chain of
resources that led to it, for the report:

    twenty-dev-network/VpcPrivateSubnet1Subnet… replaced
      → twenty-dev-cluster/ControlPlaneCluster… (SubnetIds) replaced
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.review.references import ImportRef, OutputRef, Reference, exports
from infra.review.references import references as find_references
from infra.review.replacement import (
    VPC_TYPE,
    Effect,
    Path,
    changed_paths,
    custom_name_rule,
    is_vpc_bound,
    keeps_custom_name,
    names,
    property_effect,
)
from infra.review.templates import (
    IMPACT_OF_EFFECT,
    PropertyChange,
    ResourceChange,
    Template,
    TemplateDiff,
    order,
)

# Attributes that change when their resource is updated in place (not only when replaced).
CHANGES_ON_UPDATE: frozenset[tuple[str, str]] = frozenset(
    {
        ("AWS::EC2::LaunchTemplate", "LatestVersionNumber"),
        ("AWS::EC2::LaunchTemplate", "DefaultVersionNumber"),
    }
)
# Engine impacts that are not a change of an existing resource: kept as the engine says.
_FIXED = frozenset({"WILL_CREATE", "WILL_DESTROY", "WILL_ORPHAN", "WILL_IMPORT"})
_ENGINE_EFFECT = {
    "WILL_REPLACE": Effect.REPLACE,
    "MAY_REPLACE": Effect.MAY_REPLACE,
}
_MAX_ROUNDS = 100
_REPLACING = frozenset({IMPACT_OF_EFFECT[Effect.REPLACE], IMPACT_OF_EFFECT[Effect.MAY_REPLACE]})


@dataclass(frozen=True)
class Link:
    """One step of a reference chain: a resource (or an output) and how it changes."""

    stack: str
    name: str  # logical id, or "output <name>"
    leaf: str = ""  # the property that read the previous step's value


@dataclass(frozen=True)
class Source:
    """A value that changes on deploy: the chain that changes it, and whether a replaced VPC
    is behind it (then VPC-bound consumers cannot follow it in place)."""

    chain: tuple[Link, ...]
    vpc_moved: bool


@dataclass
class _Resource:
    stack: str
    logical_id: str
    resource_type: str
    row: ResourceChange | None  # the engine's row, if the text changed
    text: dict[str, Effect] = field(default_factory=dict)  # top-level property -> effect
    other: Effect | None = None  # Metadata, DependsOn, policies: an update
    via: dict[tuple[Path, Link], tuple[Effect, Source]] = field(default_factory=dict)
    named: bool = False  # keeps an explicit name its type cannot be replaced under

    @property
    def effect(self) -> Effect | None:
        effects = [*self.text.values(), *(e for e, _ in self.via.values())]
        if self.other is not None:
            effects.append(self.other)
        strongest = max(effects) if effects else None
        if strongest is not None and strongest.replaces and self.named:
            return Effect.FAIL  # CloudFormation cannot replace a custom-named resource
        return strongest

    @property
    def replaced(self) -> bool:
        effect = self.effect
        # A change that fails replaces nothing: the stack rolls back, readers keep their value.
        return effect is not None and effect.replaces

    def source(self) -> Source:
        """This resource's change as seen by whoever reads it."""
        own = Link(self.stack, self.logical_id)
        text = max([*self.text.values(), Effect.UPDATE]) if self.text else None
        strongest = max((e for e, _ in self.via.values()), default=None)
        vpc_moved = (self.resource_type == VPC_TYPE and self.replaced) or any(
            source.vpc_moved for _, source in self.via.values()
        )
        if strongest is None or (text is not None and text >= strongest):
            return Source((own,), vpc_moved)
        _, (_, source) = min(
            ((k, v) for k, v in self.via.items() if v[0] == strongest), key=lambda kv: kv[0][0]
        )
        return Source(source.chain, vpc_moved)


def _leaf(path: Path) -> str:
    plain = names(path)
    return plain[-1] if plain else ""


class _Environment:
    """The resources of one environment's stacks, judged together."""

    def __init__(
        self,
        pairs: Mapping[str, tuple[Template | None, Template | None]],
        diffs: Mapping[str, TemplateDiff],
    ) -> None:
        self.pairs = pairs
        self.diffs = diffs
        self.resources: dict[tuple[str, str], _Resource] = {}
        self.exports = {
            name: (stack, output)
            for stack, (_, new) in pairs.items()
            for name, output in exports(new or {}).items()
        }
        for stack, diff in diffs.items():
            for row in diff.resources:
                if row.impact not in _FIXED and row.old_type == row.new_type:
                    self._judge_text(stack, row)

    def _props(self, stack: str, logical_id: str, side: int) -> dict[str, Any]:
        template = self.pairs[stack][side] or {}
        resource = (template.get("Resources") or {}).get(logical_id) or {}
        props: dict[str, Any] = resource.get("Properties") or {}
        return props

    def _judge_text(self, stack: str, row: ResourceChange) -> None:
        old, new = self._props(stack, row.logical_id, 0), self._props(stack, row.logical_id, 1)
        named = keeps_custom_name(row.resource_type, old, new)
        judged = _Resource(stack, row.logical_id, row.resource_type, row, named=named)
        for prop in row.properties:
            paths = changed_paths(old.get(prop.name), new.get(prop.name), (prop.name,))
            if not paths:
                continue  # same text: the engine saw a reference to a replaced resource (below)
            effects = []
            for path in paths:
                ruled = property_effect(row.resource_type, path)
                fallback = _ENGINE_EFFECT.get(prop.impact, Effect.UPDATE)
                effects.append(ruled[0] if ruled else fallback)
            judged.text[prop.name] = max(effects)
        if row.other or not row.properties:
            judged.other = Effect.UPDATE
        self.resources[(stack, row.logical_id)] = judged

    def _resource(self, stack: str, logical_id: str) -> _Resource | None:
        if (stack, logical_id) in self.resources:
            return self.resources[(stack, logical_id)]
        old, new = self.pairs.get(stack, (None, None))
        before = ((old or {}).get("Resources") or {}).get(logical_id)
        after = ((new or {}).get("Resources") or {}).get(logical_id)
        if not before or not after or before.get("Type") != after.get("Type"):
            return None
        resource_type = after.get("Type", "")
        named = keeps_custom_name(
            resource_type, before.get("Properties") or {}, after.get("Properties") or {}
        )
        judged = _Resource(stack, logical_id, resource_type, None, named=named)
        self.resources[(stack, logical_id)] = judged
        return judged

    def _resolve(self, stack: str, reference: Reference) -> Source | None:
        """How the value behind a reference changes on deploy; None if it does not."""
        if isinstance(reference, ImportRef):
            found = self.exports.get(reference.export)
            return self._resolve(found[0], OutputRef(*found)) if found else None
        if isinstance(reference, OutputRef):
            return self._output(reference.stack, reference.output)
        target = self._resource(stack, reference.logical_id)
        if target is None or target.effect is None:
            return None
        attribute_moves = (
            reference.attribute is not None
            and (target.resource_type, reference.attribute) in CHANGES_ON_UPDATE
        )
        return target.source() if target.replaced or attribute_moves else None

    def _output(self, stack: str, output: str) -> Source | None:
        old, new = self.pairs.get(stack, (None, None))
        before = ((old or {}).get("Outputs") or {}).get(output)
        after = ((new or {}).get("Outputs") or {}).get(output)
        if not before or not after:
            return None  # a new or removed output: the consumer's deploy fails loudly
        if before.get("Value") != after.get("Value"):
            return Source((Link(stack, f"output {output}"),), vpc_moved=False)
        for _, reference in find_references(after.get("Value")):
            source = self._resolve(stack, reference)
            if source is not None:
                return source
        return None

    def _state(self) -> dict[tuple[str, str], tuple[Effect | None, Source | None]]:
        return {
            key: (r.effect, r.source() if r.effect else None) for key, r in self.resources.items()
        }

    def follow(self) -> None:
        """Re-judge every property that reads a changing value, until nothing more changes."""
        for _ in range(_MAX_ROUNDS):
            before = self._state()
            for stack, (old, new) in self.pairs.items():
                if old is None or new is None:
                    continue
                for logical_id in new.get("Resources") or {}:
                    self._follow_resource(stack, logical_id)
            if self._state() == before:
                return
        raise RuntimeError("reference chains did not settle; a cycle between stacks?")

    def _follow_resource(self, stack: str, logical_id: str) -> None:
        props = self._props(stack, logical_id, 1)
        found = [(p, self._resolve(stack, r)) for p, r in find_references(props)]
        changing = [(path, source) for path, source in found if source is not None]
        if not changing:
            return
        judged = self._resource(stack, logical_id)
        if judged is None:
            return
        for path, source in changing:
            ruled = property_effect(judged.resource_type, path)
            effect = ruled[0] if ruled else Effect.UPDATE
            if (
                effect < Effect.REPLACE
                and source.vpc_moved
                and is_vpc_bound(judged.resource_type, names(path))
            ):
                effect = Effect.REPLACE
            link = Link(stack, logical_id, _leaf(path))
            last = source.chain[-1]
            judged.via[(path, last)] = (effect, Source((*source.chain, link), source.vpc_moved))

    def changes(self, stack: str) -> TemplateDiff:
        """The stack's rows: the engine's, re-judged, plus those changed through references."""
        diff = self.diffs.get(stack, TemplateDiff((), ()))
        rows = [r for r in diff.resources if r.impact in _FIXED or r.old_type != r.new_type]
        for (owner, _), judged in sorted(self.resources.items()):
            if owner == stack and judged.effect is not None:
                rows.append(self._row(judged))
        return TemplateDiff(resources=order(rows), outputs=diff.outputs)

    def _kind(self, link: Link) -> str:
        judged = self.resources.get((link.stack, link.name))
        return judged.effect.kind if judged and judged.effect else "changed"

    def render(self, chain: tuple[Link, ...]) -> str:
        """`stack/A replaced → stack/B (SubnetIds) replaced`."""
        parts = []
        for link in chain:
            leaf = f" ({link.leaf})" if link.leaf else ""
            parts.append(f"{link.stack}/{link.name}{leaf} {self._kind(link)}")
        return " → ".join(parts)

    def _row(self, judged: _Resource) -> ResourceChange:
        effect = judged.effect
        assert effect is not None
        props = [
            PropertyChange(name, IMPACT_OF_EFFECT[e]) for name, e in sorted(judged.text.items())
        ]
        chains: list[str] = []
        for (path, _), (e, source) in sorted(judged.via.items(), key=lambda kv: kv[0][0]):
            previous = source.chain[-2]
            via = f"{previous.stack}/{previous.name} {self._kind(previous)}"
            if previous.stack == judged.stack:
                via = f"{previous.name} {self._kind(previous)}"
            props.append(PropertyChange(".".join(names(path)), IMPACT_OF_EFFECT[e], via))
            text = self.render(source.chain)
            if text not in chains:
                chains.append(text)
        if effect is Effect.FAIL and judged.named:
            rule = custom_name_rule(judged.resource_type)
            if rule is not None:
                replacing = ", ".join(p.describe() for p in props if p.impact in _REPLACING)
                props.append(
                    PropertyChange(rule.path[0], IMPACT_OF_EFFECT[effect], f"replaced: {replacing}")
                )
        base = judged.row
        return ResourceChange(
            logical_id=judged.logical_id,
            resource_type=judged.resource_type,
            impact=IMPACT_OF_EFFECT[effect],
            old_type=base.old_type if base else judged.resource_type,
            new_type=base.new_type if base else judged.resource_type,
            deletion_policy=base.deletion_policy if base else None,
            properties=tuple(props),
            other=base.other if base else (),
            chains=tuple(chains),
        )


def judge(
    pairs: Mapping[str, tuple[Template | None, Template | None]],
    diffs: Mapping[str, TemplateDiff],
) -> dict[str, TemplateDiff]:
    """{stack: judged diff} for the stacks of ONE environment (references stay inside it)."""
    environment = _Environment(pairs, diffs)
    environment.follow()
    return {stack: environment.changes(stack) for stack in pairs}
