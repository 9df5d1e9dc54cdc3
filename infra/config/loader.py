"""Reading config/<name>.yaml into an EnvironmentConfig; every problem becomes one line."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml
from pydantic import (
    ValidationError,
)

from infra.config.base import CONFIG_DIR, ConfigError, SubfieldError
from infra.config.environment import EnvironmentConfig


def _format_loc(loc: Iterable[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _join(base: str, sub: str) -> str:
    if not sub:
        return base
    if not base:
        return sub
    return base + sub if sub.startswith("[") else f"{base}.{sub}"


_FIXES = {
    "extra_forbidden": "unknown key; remove it or correct its spelling (docs/config-reference.md)",
    "missing": "is required; add it (docs/config-reference.md)",
}


def _error_lines(label: str, exc: ValidationError) -> Iterator[str]:
    for error in exc.errors(include_url=False):
        loc = _format_loc(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SubfieldError):
            for sub, message in cause.problems:
                yield f"{label}: {_join(loc, sub)}: {message}"
            continue
        fix = _FIXES.get(error["type"])
        if fix is not None:
            message = fix
        else:
            message = error["msg"].removeprefix("Value error, ")
            if "input" in error and error["type"] not in ("value_error",):
                message = f"{error['input']!r}: {message}"
        yield f"{label}: {loc or '(file)'}: {message}"


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_config(path: Path) -> EnvironmentConfig:
    """Parse and validate one environment file; raise ConfigError with one line per problem."""
    label = display_path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(
            [f"{label}: cannot read the file ({exc.strerror}); check the path"]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise ConfigError(
            [f"{label}: (file): is not valid YAML at {where}; fix the syntax"]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{label}: (file): must be a mapping of keys to values"])
    try:
        cfg = EnvironmentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_error_lines(label, exc)) from None
    if cfg.name != path.stem:
        raise ConfigError(
            [f"{label}: name: {cfg.name!r} must equal the file name {path.stem!r}; rename one"]
        )
    return cfg


def environment_files(config_dir: Path = CONFIG_DIR) -> list[Path]:
    """Every `<name>.yaml` in the config directory is an environment."""
    return sorted(config_dir.glob("*.yaml"))


def load_all(paths: Iterable[Path]) -> list[EnvironmentConfig]:
    """Load several environments and check what must hold across them (VPC ranges apart)."""
    lines: list[str] = []
    loaded: list[tuple[Path, EnvironmentConfig]] = []
    for path in paths:
        try:
            loaded.append((path, load_config(path)))
        except ConfigError as exc:
            lines.extend(exc.lines)
    for i, (path, cfg) in enumerate(loaded):
        for other_path, other in loaded[:i]:
            if cfg.network.vpc_cidr.overlaps(other.network.vpc_cidr):
                lines.append(
                    f"{display_path(path)}: network.vpc_cidr: {cfg.network.vpc_cidr} overlaps "
                    f"{other.network.vpc_cidr} of {display_path(other_path)}; give every "
                    "environment its own range"
                )
    lines.extend(_cicd_problems(loaded))
    if lines:
        raise ConfigError(lines)
    return [cfg for _, cfg in loaded]


def _cicd_problems(loaded: list[tuple[Path, EnvironmentConfig]]) -> Iterator[str]:
    """One repository deploys the estate; promotion order and OIDC providers are consistent."""
    with_cicd = [(path, cfg, cfg.cicd) for path, cfg in loaded if cfg.cicd is not None]
    names = {cfg.name for _, cfg in loaded}
    if with_cicd:
        first_path, _, first = with_cicd[0]
        for path, _, cicd in with_cicd[1:]:
            if cicd.repository != first.repository:
                yield (
                    f"{display_path(path)}: cicd.repository: differs from "
                    f"{display_path(first_path)}; one repository deploys every environment"
                )
    environments: dict[str, Path] = {}
    creators: dict[str, Path] = {}
    for path, cfg, cicd in with_cicd:
        label = display_path(path)
        github_env = cfg.github_environment or cfg.name
        if github_env in environments:
            yield (
                f"{label}: cicd.github_environment: {github_env!r} is also used by "
                f"{display_path(environments[github_env])}; give each environment its own"
            )
        environments[github_env] = path
        after = cicd.deploy_after
        deployable = {c.name for _, c, _ in with_cicd} - {cfg.name}
        if after is not None and after not in deployable:
            why = "has no cicd section" if after in names else "is not another environment"
            fix = f"use one of {', '.join(sorted(deployable))}" if deployable else "remove it"
            yield f"{label}: cicd.deploy_after: {after!r} {why}; {fix}"
        if cicd.oidc_provider == "create":
            if cfg.account in creators:
                yield (
                    f"{label}: cicd.oidc_provider: account {cfg.account} already creates its "
                    f"GitHub OIDC provider in {display_path(creators[cfg.account])}; an account "
                    "has one per issuer: say existing here"
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
                f"{display_path(path)}: cicd.deploy_after: forms a cycle "
                f"({' after '.join([*seen, name])}); one environment must come first"
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
