"""Shared fixtures: the whole estate is synthesized once per test session (per xdist worker)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions, cx_api

from infra.app import create_app
from infra.config import EnvironmentConfig, environment_files, load_all
from infra.estate import Estate

ROOT = Path(__file__).resolve().parent.parent
ALL_CONFIGS = {cfg.name: cfg for cfg in load_all(environment_files())}
# TWENTY_TEST_ENVS=dev narrows a local run to some environments; CI always runs all of them.
_ONLY = [e for e in os.environ.get("TWENTY_TEST_ENVS", "").split(",") if e]
CONFIGS = {name: cfg for name, cfg in ALL_CONFIGS.items() if not _ONLY or name in _ONLY}
ENVIRONMENTS = sorted(CONFIGS)


@dataclass
class SynthesizedEstate:
    """One synth of every environment: the assembly, the estates and their templates."""

    assembly: cx_api.CloudAssembly
    estates: dict[str, Estate]
    _templates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def template_json(self, stack_name: str) -> dict[str, Any]:
        if stack_name not in self._templates:
            self._templates[stack_name] = self.assembly.get_stack_by_name(stack_name).template
        return self._templates[stack_name]

    def template(self, env: str, part: str) -> assertions.Template:
        return assertions.Template.from_json(
            self.template_json(f"twenty-{env}-{part}"),
            skip_cyclical_dependencies_check=True,
        )

    @property
    def stack_names(self) -> list[str]:
        return sorted(s.stack_name for e in self.estates.values() for s in e.stacks)

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((Path(self.assembly.directory) / "manifest.json").read_text())


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedEstate:
    outdir = tmp_path_factory.mktemp("cdk.out")
    if _ONLY:
        app, estates = create_app(env=_ONLY[0], outdir=str(outdir))
    else:
        app, estates = create_app(outdir=str(outdir))
    assembly = app.synth()
    return SynthesizedEstate(assembly=assembly, estates={e.config.name: e for e in estates})


@pytest.fixture(params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def cfg(env: str) -> EnvironmentConfig:
    return CONFIGS[env]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Real-program tests (markers `slow` and `e2e`) first, keeping the order otherwise.

    With `pytest -n 2 --maxschedchunk 1` (make test) xdist then hands them to the two workers in
    turn at the start, instead of leaving one long drill for the end of one worker's queue while
    the other idles: the suite's wall time is bounded by its busiest worker.
    """
    items.sort(
        key=lambda item: (
            0 if item.get_closest_marker("slow") or item.get_closest_marker("e2e") else 1
        )
    )
