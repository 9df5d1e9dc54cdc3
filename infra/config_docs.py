"""Generates docs/config-reference.md, the user's manual of config/*.yaml, from the models."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from infra.config import EnvironmentConfig

HEADER = """# Configuration reference

Generated from the pydantic models in `infra/config/` by `make config-docs`; a test fails
when it is out of date. One file `config/<name>.yaml` per environment; every key below.

| key | type | default | description |
| --- | --- | --- | --- |
"""


def _type_name(annotation: typing.Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    if typing.get_origin(annotation) is not None:
        text = str(annotation)
    text = text.replace("typing.", "").replace("ipaddress.", "")
    # a union (`str | None`) must not split the Markdown table's cell
    return re.sub(r"infra\.config\.(\w+\.)?", "", text).replace("|", "\\|")


def _model_of(annotation: typing.Any) -> type[BaseModel] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _rows(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _model_of(field.annotation)
        if field.default is PydanticUndefined and field.default_factory is None:
            default = "required"
        else:
            default = f"`{field.get_default(call_default_factory=True)!r}`"
        description = (field.description or "").replace("|", "\\|")
        kind = nested.__name__ if nested else _type_name(field.annotation)
        yield f"| `{path}` | {kind} | {default} | {description} |\n"
        if nested is not None:
            suffix = ".<name>." if typing.get_origin(field.annotation) is dict else "."
            yield from _rows(nested, path + suffix)


def render_config_reference() -> str:
    """The Markdown reference of every config key."""
    return HEADER + "".join(_rows(EnvironmentConfig))
