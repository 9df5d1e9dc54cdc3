"""A JSON snapshot of every stack of every environment; asset hashes are masked.

`make snapshot-update` regenerates them after a deliberate change.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import CONFIGS, SynthesizedEstate

ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def mask_asset_hashes(data: Any, path: Any) -> Any:
    """syrupy matcher: asset hashes change with any dependency bump, not with our intent."""
    if isinstance(data, str):
        return ASSET_HASH.sub("<asset-hash>", data)
    return data


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


def _stack_names() -> list[str]:
    from infra.estate import stack_parts

    return [f"twenty-{env}-{part}" for env in sorted(CONFIGS) for part in stack_parts(CONFIGS[env])]


@pytest.mark.parametrize("stack_name", _stack_names())
def test_stack_snapshot(
    synthesized: SynthesizedEstate, snapshot_json: SnapshotAssertion, stack_name: str
) -> None:
    template = synthesized.template_json(stack_name)
    assert template == snapshot_json(matcher=mask_asset_hashes)
