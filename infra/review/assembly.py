"""Reads what a synth produced: each environment's stack templates and rendered manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.review.templates import Template

STACK_ARTIFACT = "aws:cloudformation:stack"
NESTED_ASSEMBLY = "cdk:cloud-assembly"


class AssemblyError(ValueError):
    """A cloud assembly that cannot be read (truncated, hand-edited, half-written); one line."""


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AssemblyError(
            f"{path}: not a readable cloud assembly file ({reason}); synthesize again "
            "(`python -m infra synth`, or pass --synth)"
        ) from None


def _artifacts(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    manifest = _json(directory / "manifest.json")
    artifacts = manifest.get("artifacts", {}) if isinstance(manifest, dict) else None
    if not isinstance(artifacts, dict) or not all(isinstance(a, dict) for a in artifacts.values()):
        raise AssemblyError(
            f"{directory / 'manifest.json'}: not a cloud assembly manifest (no artifacts "
            "object); synthesize again (`python -m infra synth`, or pass --synth)"
        )
    return [(str(k), v) for k, v in artifacts.items()]


def _stacks(directory: Path) -> dict[str, Template]:
    stacks: dict[str, Template] = {}
    for artifact_id, artifact in _artifacts(directory):
        props = artifact.get("properties") or {}
        if artifact.get("type") == STACK_ARTIFACT:
            name = props.get("stackName", artifact_id)
            template = _json(directory / str(props.get("templateFile", f"{name}.template.json")))
            if not isinstance(template, dict):
                raise AssemblyError(f"{directory}: the template of {name} is not an object")
            stacks[name] = template
        elif artifact.get("type") == NESTED_ASSEMBLY:
            stacks.update(_stacks(directory / str(props.get("directoryName", ""))))
    return stacks


def regions_by_environment(assembly: Path | None) -> dict[str, str]:
    """{env: region} from the stacks' `aws://<account>/<region>` environments; {} if unknown."""
    if assembly is None or not (assembly / "manifest.json").exists():
        return {}
    return _regions(assembly)


def _regions(directory: Path) -> dict[str, str]:
    regions: dict[str, str] = {}
    for artifact_id, artifact in _artifacts(directory):
        props = artifact.get("properties") or {}
        if artifact.get("type") == STACK_ARTIFACT:
            name = props.get("stackName", artifact_id)
            env = environment_of(name)
            region = str(artifact.get("environment", "")).rsplit("/", 1)[-1]
            # The recovery stack lives in the recovery region, not the environment's.
            recovery = env is not None and part_of(name) == "recovery"
            if env is not None and region and not region.startswith("unknown") and not recovery:
                regions[env] = region
        elif artifact.get("type") == NESTED_ASSEMBLY:
            regions.update(_regions(directory / str(props.get("directoryName", ""))))
    return regions


def environment_of(stack_name: str) -> str | None:
    """`twenty-<env>-<part>` -> env (environment names have no hyphen)."""
    parts = stack_name.split("-", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "twenty" else None


def part_of(stack_name: str) -> str:
    return stack_name.split("-", 2)[-1]


def stacks_by_environment(assembly: Path | None) -> dict[str, dict[str, Template]]:
    """{env: {stack name: template}} of a cloud assembly directory; {} if there is none."""
    if assembly is None or not (assembly / "manifest.json").exists():
        return {}
    result: dict[str, dict[str, Template]] = {}
    for name, template in _stacks(assembly).items():
        env = environment_of(name)
        if env is not None:
            result.setdefault(env, {})[name] = template
    return result


def manifests(assembly: Path | None, env: str) -> dict[str, str]:
    """Rendered Kubernetes manifests of `env` ({relative path: text}); {} before the CRM stack."""
    if assembly is None:
        return {}
    root = assembly / "k8s" / env
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
