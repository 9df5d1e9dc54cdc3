"""What every config model shares: the strict base model, errors, and common limits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    model_validator,
)
from pydantic.fields import FieldInfo

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


@dataclass(frozen=True)
class Site:
    """Where an environment's stacks are deployed, and how they are tagged."""

    environment: str
    account: str
    region: str
    availability_zones: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]


class ConfigError(Exception):
    """One or more problems in configuration files; `lines` are ready to print."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


class SubfieldError(ValueError):
    """Raised by a model validator to report several problems at sub-locations of the model.

    Each entry is (relative field path, message); the loader prefixes the model's own location.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{loc}: {msg}" for loc, msg in problems))


def _model_default(field: FieldInfo) -> BaseModel | None:
    """The field's default when it is a model instance (given directly or by a factory)."""
    if field.default_factory_takes_validated_data:
        return None
    default = field.get_default(call_default_factory=True)
    return default if isinstance(default, BaseModel) else None


def _merge(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """`given` over `defaults`, mapping by mapping: what the user wrote always wins."""
    merged = dict(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, models are immutable.

    A nested model's default may differ from its class defaults (`startup` probes default to
    `ProbeConfig(failure_threshold=60)`, the frontend target group to port 3001). When the user
    gives only part of such a mapping, the fields they left out take the field's documented
    default, not the class's: the explicitly set values of the default are merged under theirs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _partial_mappings_keep_field_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = None
        for name, field in cls.model_fields.items():
            given = data.get(name)
            if not isinstance(given, dict):
                continue
            default = _model_default(field)
            if default is None:
                continue
            defaults = default.model_dump(exclude_unset=True)
            if defaults:
                merged = merged if merged is not None else dict(data)
                merged[name] = _merge(defaults, given)
        return merged if merged is not None else data


def check_sizes(min_size: int, desired: int, max_size: int) -> list[tuple[str, str]]:
    """min <= desired <= max, reported on the field to change."""
    problems = []
    if min_size > max_size:
        problems.append(("min_size", f"{min_size} is greater than max_size {max_size}; lower it"))
    elif desired < min_size:
        problems.append(
            ("desired_size", f"{desired} is below min_size {min_size}; raise it to at least that")
        )
    elif desired > max_size:
        problems.append(
            ("desired_size", f"{desired} is above max_size {max_size}; lower it to at most that")
        )
    return problems


def check_log_retention(days: int) -> int:
    """A CloudWatch Logs retention period, or a ValueError naming the nearest valid one."""
    if days not in LOG_RETENTION_DAYS:
        nearest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - days))
        raise ValueError(f"{days} is not a CloudWatch Logs retention period; use e.g. {nearest}")
    return days
