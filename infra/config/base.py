"""What every config model shares: the strict base model, errors, and common limits."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    model_validator,
)
from pydantic.fields import FieldInfo

from infra.config.aws_limits import AwsLimit, cfn_constraint

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"

# CloudWatch Logs accepts only these retention periods (days): the enum of the log group's
# registry schema (cfn-lint), 1, 3, 5, 7, 14, 30, ... 3653.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    cfn_constraint("AWS::Logs::LogGroup", "RetentionInDays").enum or ()
)


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

    # allow_inf_nan: `.nan`/`.inf` are YAML numbers, but no AWS or PostgreSQL value is one.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        """A count is a number as written: `true` is not 1 and "2" is not 2 (pydantic's lax
        mode would convert both silently). Checked for every int/float field of every model,
        inside lists and mappings too, so a new field is covered without a line of its own."""
        if not isinstance(data, dict):
            return data
        problems = [
            problem
            for name, field in cls.model_fields.items()
            if name in data
            for problem in _not_numbers(field.annotation, data[name], name, _example(field))
        ]
        if problems:
            raise SubfieldError(problems)
        return data

    @model_validator(mode="after")
    def _within_aws_limits(self) -> Any:
        """Every field annotated with the AWS property its value reaches (aws_limits.AwsLimit)
        is checked against that property's limits as AWS's own data states them."""
        problems = [
            problem
            for name, field in type(self).model_fields.items()
            for limit in field.metadata
            if isinstance(limit, AwsLimit)
            for problem in limit.problems(name, getattr(self, name))
        ]
        if problems:
            raise SubfieldError(problems)
        return self

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


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Annotated:
        return _union_members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _is_number(member: Any) -> bool:
    if typing.get_origin(member) is Literal:
        values = typing.get_args(member)
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return member is int or member is float


def _takes_text(member: Any) -> bool:
    if typing.get_origin(member) is Literal:
        return any(isinstance(v, str) for v in typing.get_args(member))
    return member not in (int, float, bool, type(None))


def _example(field: FieldInfo) -> str:
    """The field's numeric default as an example for a fix, or a neutral one."""
    default = field.default
    if isinstance(default, int | float) and not isinstance(default, bool):
        return f"a number such as {default}"
    return "a number"


def _not_numbers(
    annotation: Any, value: Any, loc: str, example: str = "a number"
) -> Iterator[tuple[str, str]]:
    """(loc, message) for each bool or text given where `annotation` wants a number."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    members = _union_members(annotation)
    origin = typing.get_origin(annotation)
    if origin is list and isinstance(value, list):
        item = typing.get_args(annotation)[0]
        for i, entry in enumerate(value):
            yield from _not_numbers(item, entry, f"{loc}[{i}]", example)
        return
    if origin is dict and isinstance(value, dict):
        item = typing.get_args(annotation)[1]
        for key, entry in value.items():
            yield from _not_numbers(item, entry, f"{loc}.{key}", example)
        return
    if not any(_is_number(m) for m in members) or bool in members:
        return
    if isinstance(value, bool):
        yield (
            loc,
            f"{str(value).lower()} is a yes/no value where a number is expected; write {example}",
        )
    elif isinstance(value, str) and not any(_takes_text(m) for m in members):
        fix = (
            f"write {value.strip()} without quotes"
            if re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value)
            else f"write {example}"
        )
        yield (loc, f"{value!r} is text where a number is expected; {fix}")


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
