"""cdk-nag runs on every synth and every acknowledgement is specific and explained."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from infra.app import cdk_context
from infra.nag import MIN_REASON_LENGTH, acknowledge, enable_nag
from tests.conftest import SynthesizedEstate


def test_nag_fails_synth_on_a_finding(tmp_path) -> None:
    """The plugin is really wired: an unencrypted, unlogged bucket stops synth."""
    app = App(outdir=str(tmp_path))
    s3.Bucket(Stack(app, "Probe"), "Bucket")
    enable_nag(app)
    with pytest.raises(Exception, match="AwsSolutions-S1"):
        app.synth()


def test_every_app_gets_nag(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_app (used by cdk synth, make synth and the test session) enables the pack."""
    import infra.app

    enabled: list[App] = []
    monkeypatch.setattr(infra.app, "enable_nag", enabled.append)
    app = App(context=cdk_context())
    infra.app.build_app(app, "dev")
    assert enabled == [app]


def test_acknowledgement_reasons_are_concrete(synthesized: SynthesizedEstate) -> None:
    for estate in synthesized.estates.values():
        for stack in estate.stacks:
            for ack in stack.acknowledgements:
                assert len(ack.reason) >= MIN_REASON_LENGTH, ack


def test_no_stack_wide_iam5_acknowledgement(synthesized: SynthesizedEstate) -> None:
    for estate in synthesized.estates.values():
        for stack in estate.stacks:
            for ack in stack.acknowledgements:
                stack_wide = ack.path == stack.node.path
                assert not (stack_wide and "IAM5" in ack.rule_id), ack
                assert not (ack.rule_id.endswith("IAM5")), f"IAM5 needs a finding id: {ack}"


def test_short_reason_refused() -> None:
    stack = Stack(App(), "Probe")
    with pytest.raises(ValueError, match="concrete reason"):
        acknowledge(stack, "AwsSolutions-S1", "not needed")
