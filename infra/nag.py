"""cdk-nag (3.x, a CDK validation plugin) wiring and the one way we acknowledge a finding.

Every acknowledgement goes through `acknowledge()`, which refuses vague reasons and records what
was acknowledged so that tests and the synth summary can count and audit them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

MIN_REASON_LENGTH = 20


@dataclass(frozen=True)
class NagAcknowledgement:
    """One acknowledged finding: where, which rule, and why it does not apply there."""

    path: str
    rule_id: str
    reason: str


def enable_nag(app: App) -> None:
    """Run the AwsSolutions pack on every synth; an unacknowledged finding fails it."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> NagAcknowledgement:
    """Acknowledge `rule_id` (e.g. `AwsSolutions-IAM5[Resource::*]`) on `construct` only."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"nag acknowledgement of {rule_id} needs a concrete reason: {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
    return NagAcknowledgement(path=construct.node.path, rule_id=rule_id, reason=reason)


def skip_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Record a checkov skip, with its reason, in the resource's template metadata (checkov
    reads `Metadata.checkov.skip`); docs/security.md lists every one."""
    from aws_cdk import CfnResource

    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(resource, CfnResource), f"{construct.node.path} has no CfnResource"
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"checkov skip of {check_id} needs a concrete reason: {reason!r}")
    metadata = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"].append({"id": check_id, "comment": reason})
    resource.add_metadata("checkov", metadata)
