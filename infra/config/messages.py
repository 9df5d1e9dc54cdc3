"""Turns pydantic's validation errors into lines a person can act on.

Each line is `<file>: <field>: <what is wrong>; <the fix>`. pydantic's own wording names model
classes and internals ("a valid dictionary or instance of NetworkConfig"); here the field path
is the user's key path, an unknown key names the nearest known one, a CIDR error says what a
valid block looks like, and a number where text is expected says to quote what was written.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import typing
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from infra.config.base import SubfieldError
from infra.config.yaml_source import Path_, Scalar

REFERENCE = "docs/config-reference.md"
# Loc entries pydantic adds for union members and validator wrappers, not keys of the file.
_PYDANTIC_TAG = re.compile(r"^(int|str|float|bool|none|[a-z-]+\[.*\]|[A-Z]\w*)$")


def format_loc(loc: Iterable[str | int]) -> str:
    """('network', 'public_subnets', 1) -> network.public_subnets[1]."""
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


def _user_loc(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """The loc without pydantic's union/validator tags (parts that are no key of the file)."""
    kept: list[str | int] = []
    node = data
    for part in loc:
        present = isinstance(node, Mapping) and part in node
        if isinstance(part, str) and not present and _PYDANTIC_TAG.match(part):
            continue
        kept.append(part)
        if present or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
        else:
            node = None
    return tuple(kept)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def model_at(root: type[BaseModel], loc: Iterable[str | int]) -> type[BaseModel] | None:
    """The model that reads the mapping at `loc` (dict values and list items included)."""
    annotation: Any = root
    for part in loc:
        if typing.get_origin(annotation) in (dict, list):
            annotation = typing.get_args(annotation)[-1]
            continue
        model = _model_of(annotation)
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
    if typing.get_origin(annotation) in (dict, list):
        return None
    return _model_of(annotation)


def _nearest_key(root: type[BaseModel], loc: tuple[str | int, ...]) -> str | None:
    model = model_at(root, loc[:-1])
    if model is None or not isinstance(loc[-1], str):
        return None
    matches = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _cidr_message(value: Any) -> str:
    example = "a valid one looks like 10.0.0.0/16 (network address, slash, prefix length)"
    text = str(value)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        _, slash, prefix = text.partition("/")
        if slash and (not prefix.isdigit() or int(prefix) > 32):
            return f"{text!r}: an IPv4 prefix length is /0 to /32, e.g. 10.0.0.0/16"
        return f"{text!r} is not an IPv4 CIDR block; {example}"
    if network.version != 4:
        return f"{text!r} is an IPv6 block; give an IPv4 one, {example}"
    return f"{text!r} has host bits set; use its network address {network}"


def _number_as_text(value: Any, scalar: Scalar | None) -> str:
    written = scalar.text if scalar is not None else str(value)
    if scalar is not None and scalar.text != str(value):
        return (
            f"{written} is read by YAML as the number {value}; quote it to keep it as "
            f'written: "{written}"'
        )
    return f'{written} is read by YAML as a number; quote it: "{written}"'


def _message(error: ErrorDetails, scalar: Scalar | None) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return f"is required; add it ({REFERENCE})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping of keys to values, not {value!r}; see {REFERENCE}"
    if kind == "list_type":
        return f"must be a list, [x, y] or one `- x` line per item, not {value!r}"
    if kind.startswith("ip_v4"):
        return _cidr_message(value)
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return _number_as_text(value, scalar)
    if kind == "finite_number":
        written = scalar.text if scalar is not None else str(value)
        return f"{written} is not a finite number; give an ordinary number"
    message = error["msg"].removeprefix("Value error, ")
    if "input" in error and kind != "value_error":
        message = f"{value!r}: {message}"
    return message


def error_lines(
    label: str,
    exc: ValidationError,
    root: type[BaseModel],
    data: Any,
    scalars: Mapping[Path_, Scalar],
) -> Iterator[str]:
    """One line per problem in `exc`, raised validating `data` (read from `label`) as `root`."""
    errors = [(_user_loc(tuple(e["loc"]), data), e) for e in exc.errors(include_url=False)]
    renamed: set[tuple[str | int, ...]] = set()
    for loc, error in errors:
        if error["type"] == "extra_forbidden" and loc:
            nearest = _nearest_key(root, loc)
            if nearest is not None:
                renamed.add((*loc[:-1], nearest))
    for loc, error in errors:
        where = format_loc(loc)
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SubfieldError):
            for sub, message in cause.problems:
                yield f"{label}: {_join(where, sub)}: {message}"
        elif error["type"] == "extra_forbidden":
            nearest = _nearest_key(root, loc) if loc else None
            fix = f"did you mean {nearest}?" if nearest else "remove it or correct its spelling"
            yield f"{label}: {where or '(file)'}: unknown key; {fix} ({REFERENCE})"
        elif error["type"] == "missing" and loc in renamed:
            continue  # the unknown key's line above says to rename it to this one
        else:
            yield f"{label}: {where or '(file)'}: {_message(error, scalars.get(loc))}"
