"""Reading config/<name>.yaml into an EnvironmentConfig; every problem becomes one line.

The single path from a file to a config: `python -m infra validate`, `python -m infra synth`
and `cdk synth` (app.py) all call `load_environment`/`load_all`, so a bad file gives the same
line everywhere, before any construct exists. Reading is `yaml_source` (hostile files), wording
is `messages` (pydantic errors), the checks themselves live on the models.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import (
    ValidationError,
)

from infra.config.base import CONFIG_DIR, ConfigError
from infra.config.environment import EnvironmentConfig
from infra.config.messages import error_lines
from infra.config.yaml_source import read_yaml


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_config(path: Path) -> EnvironmentConfig:
    """Parse and validate one environment file; raise ConfigError with one line per problem."""
    label = display_path(path)
    document = read_yaml(path, label)
    if not isinstance(document.data, dict):
        raise ConfigError(
            [f"{label}: (file): must be a mapping of keys to values (name: ..., region: ...)"]
        )
    name = document.data.get("name")
    if isinstance(name, str) and name != path.stem:
        # First: every other check (tags, VPC ranges) would blame the wrong value.
        raise ConfigError(
            [f"{label}: name: {name!r} must equal the file name {path.stem!r}; rename one"]
        )
    try:
        cfg = EnvironmentConfig.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(
            error_lines(label, exc, EnvironmentConfig, document.data, document.scalars)
        ) from None
    return cfg


def environment_files(config_dir: Path = CONFIG_DIR) -> list[Path]:
    """Every `<name>.yaml` in the config directory is an environment."""
    return sorted(config_dir.glob("*.yaml"))


def load_all(paths: Iterable[Path]) -> list[EnvironmentConfig]:
    """Load several environments and check what must hold across them (VPC ranges apart)."""
    return validate_files(paths, with_siblings=False)


def validate_files(paths: Iterable[Path], *, with_siblings: bool = True) -> list[EnvironmentConfig]:
    """Load `paths` and check them against each other and, `with_siblings`, against every
    other environment file of their directories: a file validated alone still meets the
    cross-environment checks (ranges, domains, promotion order, OIDC providers). A sibling's
    own problems are its own: they are reported when it is validated, and a check that needs
    an unreadable sibling is skipped rather than blamed on the file asked about."""
    given = list(dict.fromkeys(paths))
    siblings = [
        sibling
        for directory in dict.fromkeys(p.parent for p in given)
        for sibling in environment_files(directory)
        if with_siblings and not any(sibling.resolve() == p.resolve() for p in given)
    ]
    lines: list[str] = []
    loaded: list[tuple[Path, EnvironmentConfig]] = []
    unreadable: set[str] = set()
    for path in [*given, *siblings]:
        try:
            loaded.append((path, load_config(path)))
        except ConfigError as exc:
            unreadable.add(path.stem)
            if path in given:
                lines.extend(exc.lines)
    loaded.sort(key=lambda item: (item[0].parent, item[0].name))
    asked = {p.resolve() for p in given}
    for involved, line in _cross_problems(loaded, unreadable):
        if asked & {p.resolve() for p in involved}:
            lines.append(line)
    if lines:
        raise ConfigError(lines)
    return [cfg for path, cfg in loaded if path.resolve() in asked]


Problem = tuple[tuple[Path, ...], str]


def _cross_problems(
    loaded: list[tuple[Path, EnvironmentConfig]], unreadable: set[str]
) -> Iterator[Problem]:
    """What must hold across environments, each with the files it involves."""
    for i, (path, cfg) in enumerate(loaded):
        for other_path, other in loaded[:i]:
            if cfg.network.vpc_cidr.overlaps(other.network.vpc_cidr):
                yield (
                    (path, other_path),
                    f"{display_path(path)}: network.vpc_cidr: {cfg.network.vpc_cidr} overlaps "
                    f"{other.network.vpc_cidr} of {display_path(other_path)}; give every "
                    "environment its own range",
                )
            # a recovery stand-in takes over its origin's domain (region-loss runbook)
            stands_in = other.name == cfg.recovery_of or cfg.name == other.recovery_of
            if cfg.domain_name == other.domain_name and not stands_in:
                yield (
                    (path, other_path),
                    f"{display_path(path)}: domain_name: {cfg.domain_name} is also the domain "
                    f"of {display_path(other_path)}; each environment needs its own (its hosted "
                    "zone, certificate and SES identity), e.g. a subdomain",
                )
    names = {cfg.name for _, cfg in loaded}
    for path, cfg in loaded:
        if cfg.recovery_of is not None and cfg.recovery_of not in names | unreadable:
            yield (
                (path,),
                f"{display_path(path)}: recovery_of: {cfg.recovery_of!r} is not another "
                "environment of this directory; name the environment this one replaces",
            )
    yield from _cicd_problems(loaded, unreadable)


def _cicd_problems(
    loaded: list[tuple[Path, EnvironmentConfig]], unreadable: set[str]
) -> Iterator[Problem]:
    """One repository deploys the estate; promotion order and OIDC providers are consistent."""
    with_cicd = [(path, cfg, cfg.cicd) for path, cfg in loaded if cfg.cicd is not None]
    names = {cfg.name for _, cfg in loaded}
    if with_cicd:
        first_path, _, first = with_cicd[0]
        for path, _, cicd in with_cicd[1:]:
            if cicd.repository != first.repository:
                yield (
                    (path, first_path),
                    f"{display_path(path)}: cicd.repository: differs from "
                    f"{display_path(first_path)}; one repository deploys every environment",
                )
    environments: dict[str, Path] = {}
    creators: dict[str, Path] = {}
    for path, cfg, cicd in with_cicd:
        label = display_path(path)
        github_env = cfg.github_environment or cfg.name
        if github_env in environments:
            yield (
                (path, environments[github_env]),
                f"{label}: cicd.github_environment: {github_env!r} is also used by "
                f"{display_path(environments[github_env])}; give each environment its own",
            )
        environments[github_env] = path
        after = cicd.deploy_after
        deployable = {c.name for _, c, _ in with_cicd} - {cfg.name}
        if after is not None and after not in deployable and after not in unreadable:
            why = "has no cicd section" if after in names else "is not another environment"
            fix = f"use one of {', '.join(sorted(deployable))}" if deployable else "remove it"
            yield (path,), f"{label}: cicd.deploy_after: {after!r} {why}; {fix}"
        if cicd.oidc_provider == "create":
            if cfg.account in creators:
                yield (
                    (path, creators[cfg.account]),
                    f"{label}: cicd.oidc_provider: account {cfg.account} already creates its "
                    f"GitHub OIDC provider in {display_path(creators[cfg.account])}; an account "
                    "has one per issuer: say existing here",
                )
            creators.setdefault(cfg.account, path)
    by_name = {cfg.name: (path, cicd) for path, cfg, cicd in with_cicd}
    for name, (path, _) in by_name.items():
        seen = [name]
        current = by_name[name][1].deploy_after
        while current is not None and current in by_name and current not in seen:
            seen.append(current)
            current = by_name[current][1].deploy_after
        if current == name and name == min(seen):  # reported once, on its first member
            yield (
                tuple(by_name[n][0] for n in seen),
                f"{display_path(path)}: cicd.deploy_after: forms a cycle "
                f"({' after '.join([*seen, name])}); one environment must come first",
            )


def load_environment(name: str, config_dir: Path = CONFIG_DIR) -> EnvironmentConfig:
    """The named environment, validated together with all others (ranges must not collide)."""
    files = environment_files(config_dir)
    if not any(f.stem == name for f in files):
        known = ", ".join(f.stem for f in files) or "none"
        raise ConfigError(
            [f"-c env={name}: no config/{name}.yaml; choose one of: {known}, or add the file"]
        )
    return next(cfg for cfg in load_all(files) if cfg.name == name)
