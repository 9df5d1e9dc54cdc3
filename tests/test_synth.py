"""The app as a whole: names, no AWS lookups, any config file is an environment."""

from __future__ import annotations

import shutil
from pathlib import Path

from aws_cdk import App

from infra.app import build_app, cdk_context
from tests.conftest import ALL_CONFIGS, ENVIRONMENTS, ROOT, SynthesizedEstate


def test_stack_names(synthesized: SynthesizedEstate) -> None:
    for env in ENVIRONMENTS:
        assert f"twenty-{env}-network" in synthesized.stack_names
    assert all(name.startswith("twenty-") for name in synthesized.stack_names)


def test_no_lookups_needed(synthesized: SynthesizedEstate) -> None:
    assert "missing" not in synthesized.manifest


def test_stacks_pinned_to_configured_account_and_region(synthesized: SynthesizedEstate) -> None:
    for estate in synthesized.estates.values():
        for stack in estate.stacks:
            artifact = synthesized.assembly.get_stack_by_name(stack.stack_name)
            # The recovery stack is placed in the recovery region (and account).
            site = estate.config.recovery_site if stack.part == "recovery" else None
            site = site or estate.config.site
            assert artifact.environment.account == site.account
            assert artifact.environment.region == site.region


def test_one_environment_selected_by_context() -> None:
    app = App(context={**cdk_context(), "env": "qa"})
    estates = build_app(app, "qa")
    assert [e.config.name for e in estates] == ["qa"]
    assert all(s.stack_name.startswith("twenty-qa-") for s in estates[0].stacks)


def test_new_config_file_is_a_new_environment(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)
    staging = (config_dir / "qa.yaml").read_text()
    staging = staging.replace("name: qa", "name: staging").replace(
        "Environment: qa", "Environment: staging"
    )
    staging = staging.replace("10.1.", "10.3.").replace("mgenialqa", "mgenialstaging")
    # qa's account already has its GitHub OIDC provider (qa creates it)
    staging = staging.replace("oidc_provider: create", "oidc_provider: existing")
    (config_dir / "staging.yaml").write_text(staging)
    estates = build_app(App(context=cdk_context()), None, config_dir)
    assert sorted(e.config.name for e in estates) == sorted([*ALL_CONFIGS, "staging"])
    staging_estate = next(e for e in estates if e.config.name == "staging")
    assert staging_estate.network.stack_name == "twenty-staging-network"


def _waves(synthesized: SynthesizedEstate, env: str) -> dict[str, int]:
    """Deploy wave of each stack: 1 + the latest wave among the stacks it depends on."""
    artifacts = {
        s.stack_name: synthesized.assembly.get_stack_by_name(s.stack_name)
        for s in synthesized.estates[env].stacks
    }
    waves: dict[str, int] = {}

    def wave(name: str) -> int:
        if name not in waves:
            deps = [d.id for d in artifacts[name].dependencies if d.id in artifacts]
            waves[name] = 1 + max((wave(d) for d in deps), default=0)
        return waves[name]

    for name in artifacts:
        wave(name)
    return waves


def test_environment_deploys_in_at_most_four_waves(synthesized: SynthesizedEstate, env: str):
    waves = _waves(synthesized, env)
    assert max(waves.values()) <= 4, waves
    # the database and the cluster need only the network: they deploy side by side
    assert waves[f"twenty-{env}-database"] == waves[f"twenty-{env}-cluster"] == 2
    assert waves[f"twenty-{env}-network"] == waves[f"twenty-{env}-dns"] == 1
    # the OIDC deploy role depends on nothing: it adds no wave
    assert waves.get(f"twenty-{env}-cicd", 1) == 1
