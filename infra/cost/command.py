"""`python -m infra cost`: the monthly estimate of each environment from its synthesized stacks.

The templates come from `cdk.out` when it is newer than every input of a synth (config, code,
templates); otherwise the estate is synthesized first, exactly as `make synth` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from infra.config import ConfigError, load_environment
from infra.cost.estimate import EnvironmentCost, estimate_environment
from infra.cost.prices import PriceBook, PriceFileError, load_prices
from infra.review.assembly import regions_by_environment, stacks_by_environment

# What a synth reads; infra/cost only reads what a synth wrote.
SYNTH_INPUTS = ("config", "infra", "k8s", "cdk.json", "app.py", "requirements.lock")
NOT_SYNTH_INPUTS = ("infra/cost",)


def _files(root: Path) -> Iterable[Path]:
    for name in SYNTH_INPUTS:
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for found in path.rglob("*"):
                relative = found.relative_to(root).as_posix()
                skip = any(relative.startswith(p) for p in NOT_SYNTH_INPUTS)
                if found.is_file() and "__pycache__" not in found.parts and not skip:
                    yield found


def is_current(root: Path, assembly: Path, envs: Iterable[str]) -> bool:
    """The assembly has every stack of `envs` and is newer than every synth input."""
    manifest = assembly / "manifest.json"
    if not manifest.exists():
        return False
    present = stacks_by_environment(assembly)
    if any(env not in present for env in envs):
        return False
    built = manifest.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in _files(root))


def region_of(env: str, assembly: Path) -> str:
    """The region of `env`'s stacks (the manifest's environment, else its config file)."""
    region = regions_by_environment(assembly).get(env)
    if region:
        return region
    try:
        return load_environment(env).region
    except ConfigError as exc:
        raise PriceFileError(f"{env}: region unknown (no config/{env}.yaml)") from exc


def environment_costs(assembly: Path, envs: Iterable[str] | None = None) -> list[EnvironmentCost]:
    """The estimate of each environment of the assembly (all of them when `envs` is None)."""
    stacks = stacks_by_environment(assembly)
    books: dict[str, PriceBook] = {}
    costs = []
    for env in sorted(stacks) if envs is None else envs:
        region = region_of(env, assembly)
        if region not in books:
            books[region] = load_prices(region)
        costs.append(estimate_environment(env, stacks.get(env, {}), books[region]))
    return costs


def ensure_assembly(
    root: Path,
    outdir: Path,
    env: str | None,
    envs: list[str],
    *,
    force: bool,
    progress: Callable[[str], None],
) -> Path:
    """`outdir` holding a current synth of `envs`: reused when current, else synthesized."""
    if not force and is_current(root, outdir, envs):
        progress(f"using {outdir} (newer than config and code)")
        return outdir
    progress(f"synthesizing {env or 'every environment'} into {outdir}")
    from infra.synth import synth_estate

    synth_estate(env=env, outdir=str(outdir))
    return outdir
