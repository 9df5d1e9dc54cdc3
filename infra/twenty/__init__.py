"""Facts about the Twenty release we pin, kept as data in `contract.yaml` (with source paths).

`contract()` loads the contract; `upgrade_problem()` applies Twenty's upgrade rule (which
versions may be skipped); both are used by the config validation and by the tests.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml

CONTRACT_PATH = Path(__file__).resolve().parent / "contract.yaml"
_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


@functools.cache
def contract() -> dict[str, Any]:
    """The pinned release's contract (env vars, commands, routes, runtime), as loaded."""
    data: dict[str, Any] = yaml.safe_load(CONTRACT_PATH.read_text())
    return data


def parse_version(tag: str) -> tuple[int, int, int] | None:
    """'v2.33.0' -> (2, 33, 0); None for anything that is not a release tag."""
    match = _VERSION.match(tag)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def upgrade_problem(deployed: str, target: str) -> str | None:
    """Why Twenty refuses to go from `deployed` to `target` (release tags), or None.

    Twenty's rule (upgrade guide and `upgrade-sequence-reader.service.ts`, see the contract):
    from `cross_upgrade_from` on, any newer release may be deployed directly; below it, one
    minor at a time. Going back is never an upgrade: roll back by restoring the backup taken
    before the upgrade (docs/runbooks/upgrade.md).
    """
    rule = contract()["upgrade"]
    old, new = parse_version(deployed), parse_version(target)
    if old is None or new is None:
        return f"{deployed!r} -> {target!r}: both must be release tags such as v2.33.0"
    if new < old:
        return (
            f"{target} is older than the deployed {deployed}; Twenty has no downgrade, restore "
            "the pre-upgrade backup instead (docs/runbooks/upgrade.md)"
        )
    threshold = parse_version(rule["cross_upgrade_from"])
    assert threshold is not None
    if old < threshold and new > old and (new[0], new[1]) != _next_minor(old):
        return (
            f"{deployed} is below {rule['cross_upgrade_from']}: Twenty upgrades it one minor at a "
            f"time; deploy v{'.'.join(map(str, _next_minor(old)))}.0 first"
        )
    return None


def region_problem(region: str) -> str | None:
    """Why Twenty refuses `region` as its bucket region (STORAGE_S3_REGION), or None.

    Twenty validates the variable with @IsAWSRegion, a pattern (contract `env`) that some real
    AWS regions fail (us-gov-west-1, eusc-de-east-1, ...): its config validation would then stop
    the server at boot, so `validate` refuses such a region first.
    """
    spec = next(e for e in contract()["env"] if e["name"] == "STORAGE_S3_REGION")
    pattern = spec["accepts"]["pattern"]
    if re.search(pattern, region):
        return None
    return (
        f"{region!r}: Twenty {contract()['version']} refuses it as STORAGE_S3_REGION (@IsAWSRegion "
        f"{pattern}) and would not start; choose a region such as sa-east-1"
    )


def _next_minor(version: tuple[int, int, int]) -> tuple[int, int]:
    return (version[0], version[1] + 1)
