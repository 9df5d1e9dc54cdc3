"""The generated config reference is current."""

from __future__ import annotations

from infra.config_docs import render_config_reference
from tests.conftest import ROOT


def test_config_reference_is_current() -> None:
    current = (ROOT / "docs" / "config-reference.md").read_text()
    assert current == render_config_reference(), "run `make config-docs`"
