"""Markdown report of a diff, for the terminal, `cdk.out/diff-<env>.md` and a PR comment."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from infra.review.cost import CostChange, Picture
from infra.review.guard import Finding
from infra.review.replacement import Effect
from infra.review.templates import TemplateDiff

INTERRUPTED = Effect.INTERRUPT.kind

COLUMNS = ("Change", "Logical ID", "Type", "Cause", "Stateful")


def cell(text: str) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or " "


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


@dataclass
class StackReport:
    name: str
    status: str  # added, removed, changed or unchanged
    diff: TemplateDiff
    sections: list[str] = field(default_factory=list)


@dataclass
class EnvironmentReport:
    env: str
    stacks: list[StackReport]
    manifest_diff: str = ""
    manifests_present: bool = False
    findings: list[Finding] = field(default_factory=list)
    cost: CostChange | None = None
    picture: Picture | None = None

    @property
    def counts(self) -> Counter[str]:
        kinds: Counter[str] = Counter()
        for stack in self.stacks:
            kinds.update(change.kind for change in stack.diff.resources)
        return kinds

    @property
    def chains(self) -> list[str]:
        """Reference chains that cross a stack boundary and end in a replacement, a stop/start
        or a stateful resource (what a reviewer must not miss); plain updates are in the tables."""
        found: list[str] = []
        for stack in self.stacks:
            for change in stack.diff.resources:
                if not (change.loses_resource or change.kind == INTERRUPTED or change.stateful):
                    continue
                for chain in change.chains:
                    crosses = not chain.startswith(f"{stack.name}/")
                    if crosses and chain not in found:
                        found.append(chain)
        return found

    @property
    def blocked(self) -> list[Finding]:
        return [f for f in self.findings if not f.allowed]

    def summary(self) -> str:
        kinds = self.counts
        changed = [s for s in self.stacks if s.status != "unchanged"]
        interrupted = kinds[INTERRUPTED]
        updated = f"{kinds['updated'] + interrupted} updated" + (
            f" ({interrupted} with interruption)" if interrupted else ""
        )
        parts = [
            f"{len(changed)} of {len(self.stacks)} stacks changed",
            f"{kinds['added'] + kinds['imported']} added",
            updated,
            f"{kinds['replaced'] + kinds['may be replaced']} replaced",
            f"{kinds['destroyed']} destroyed",
            f"{kinds['orphaned']} orphaned",
        ]
        if kinds[Effect.FAIL.kind]:
            parts.append(f"{kinds[Effect.FAIL.kind]} update(s) will fail")
        if not self.manifests_present:
            manifests = "no rendered manifests"
        else:
            manifests = "manifests changed" if self.manifest_diff else "manifests unchanged"
        if self.blocked:
            guard = f"guard: BLOCKED, {len(self.blocked)} resource(s)"
        elif self.findings:
            guard = f"guard: {len(self.findings)} resource(s) allowed"
        else:
            guard = "guard: clear"
        cost = f"; {self.cost.line()}" if self.cost else ""
        return f"- **{self.env}**: " + ", ".join(parts) + f"; {manifests}; {guard}{cost}"


def _stateful_cell(stack: str, logical_id: str, findings: list[Finding]) -> str:
    for finding in findings:
        if finding.stack == stack and finding.change.logical_id == logical_id:
            return "allowed" if finding.allowed else "**BLOCKED**"
    return ""


def _stack_section(env: EnvironmentReport, stack: StackReport) -> list[str]:
    lines = [f"### {stack.name} ({stack.status})", ""]
    rows = []
    for change in stack.diff.resources:
        verdict = _stateful_cell(stack.name, change.logical_id, env.findings)
        kind = f"**{change.kind}**" if change.loses_resource or change.fails else change.kind
        if change.stateful and not verdict:
            verdict = "yes"
        rows.append([kind, change.logical_id, change.resource_type, change.cause, verdict])
    if rows:
        lines += [*table(COLUMNS, rows), ""]
    outputs = Counter(o.kind for o in stack.diff.outputs)
    if outputs:
        described = ", ".join(f"{n} {kind}" for kind, n in sorted(outputs.items()))
        lines += [f"Outputs: {described}.", ""]
    if stack.status == "changed" and stack.sections:
        lines += ["Other template sections changed: " + ", ".join(stack.sections) + ".", ""]
    return lines


def _environment_section(env: EnvironmentReport) -> list[str]:
    lines = [f"## {env.env}", ""]
    lines += _cost_lines(env)
    unchanged = [s.name for s in env.stacks if s.status == "unchanged"]
    if not env.stacks:
        lines += ["No stacks on either side.", ""]
    for stack in env.stacks:
        if stack.status != "unchanged":
            lines += _stack_section(env, stack)
    if unchanged:
        lines += ["Unchanged stacks: " + ", ".join(f"`{n}`" for n in unchanged) + ".", ""]
    chains = env.chains
    if chains:
        lines += [
            "### Reference chains",
            "",
            "Changes that reach another stack through `Fn::GetStackOutput` or an import, whose"
            " template text is the same (each step names the property that reads the one before):",
            "",
            *(f"- {chain}" for chain in chains),
            "",
        ]
    lines += [f"### Kubernetes manifests (k8s/{env.env}/)", ""]
    if not env.manifests_present:
        lines += ["No rendered manifests on either side.", ""]
    elif not env.manifest_diff:
        lines += ["Unchanged.", ""]
    else:
        lines += ["```diff", env.manifest_diff.rstrip("\n"), "```", ""]
    lines += _picture_lines(env)
    return lines


COST_COLUMNS = ("Stack", "At desired, before → after", "Change at desired", "Change at max")


def _cost_lines(env: EnvironmentReport) -> list[str]:
    """The environment's cost change line, the stacks whose estimate moved, the new unpriced."""
    if env.cost is None:
        return []
    lines = [f"**Cost change:** {env.cost.describe()} (`python -m infra cost`: the detail).", ""]
    rows = env.cost.stack_rows()
    if rows:
        lines += [*table(COST_COLUMNS, rows), ""]
    for unpriced in env.cost.new_unpriced():
        lines.append(f"- not priced: {unpriced}")
    if env.cost.new_unpriced():
        lines.append("")
    return lines


def _picture_lines(env: EnvironmentReport) -> list[str]:
    if env.picture is None:
        return []
    lines = [f"### Estate diagram ([{env.picture.path}]({env.picture.path}))", ""]
    if env.picture.changed_diagram:
        lines += [
            "This change redraws the estate (regenerate the page with `python -m infra diagram`):",
            "",
            "```mermaid",
            env.picture.changed_diagram.rstrip("\n"),
            "```",
            "",
        ]
    else:
        lines += ["Unchanged by this change.", ""]
    return lines


def guard_lines(envs: Sequence[EnvironmentReport]) -> list[str]:
    blocked = [f for env in envs for f in env.blocked]
    allowed = [f for env in envs for f in env.findings if f.allowed]
    lines = []
    failing = [f for f in blocked if f.change.fails]
    destructive = [f for f in blocked if not f.change.fails]
    if failing:
        lines += [
            f"**Guard: BLOCKED.** {len(failing)} update(s) AWS rejects: the deploy would stop "
            "and roll back. Revert each change (ALLOW_DESTRUCTIVE cannot allow these):",
            "",
            *(f"- {f.describe()}" for f in failing),
            "",
        ]
    if destructive:
        lines += [
            f"**Guard: BLOCKED.** {len(destructive)} stateful resource(s) would be replaced, "
            "destroyed, orphaned or lose their retain policy:",
            "",
            *(f"- {f.describe()}" for f in destructive),
            "",
            "If that is intended, name each in ALLOW_DESTRUCTIVE:",
            "",
            "```",
            "ALLOW_DESTRUCTIVE=" + ",".join(f.address for f in destructive),
            "```",
            "",
        ]
    if allowed:
        lines += ["Allowed by ALLOW_DESTRUCTIVE: " + ", ".join(f.describe() for f in allowed)]
        lines += [""]
    return lines


def render(title: str, envs: Sequence[EnvironmentReport]) -> str:
    """The whole report: summary lines first, then the guard verdict, then per environment."""
    lines = [f"# {title}", ""]
    lines += [env.summary() for env in envs] + [""]
    lines += guard_lines(envs)
    for env in envs:
        lines += _environment_section(env)
    return "\n".join(lines).rstrip("\n") + "\n"
