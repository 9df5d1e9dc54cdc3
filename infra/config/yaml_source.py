"""Reads one config file into plain Python data, refusing anything a config file never needs.

A config file is a few kilobytes of UTF-8 mappings, lists and scalars. Everything else is a
mistake or an attack, and each gets one line naming the file, the line and the fix:

- more than `MAX_BYTES` bytes, or not a regular file (a FIFO would hang the reader);
- bytes that are not UTF-8 (line and byte offset of the first bad byte);
- anchors, aliases and non-core tags: refused by the composer at the event that brings them,
  before that node is built, so a "billion laughs" file costs no more than its own size;
- nesting deeper than `MAX_DEPTH` (ruamel's own `max_depth`: the composer recurses per level);
- a key given twice in one mapping (both lines), keys that are not plain scalars, merge keys;
- anything the YAML parser or the safe constructor rejects (its description and line).

ruamel.yaml parses (YAML 1.2 core schema: `yes`/`no`/`on` are strings, not booleans), because
its stages are separate and pluggable: our composer subclass refuses anchors while composing, the
node tree is checked for duplicates, and only then does its safe constructor build Python data.
`Document.scalars` keeps each scalar's source text and line by its key path, so messages can
quote what the user wrote (`1.30`, not the float `1.3`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, Event
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from infra.config.base import ConfigError

MAX_BYTES = 32 * 1024  # ours are 6-7 KiB; parsing 32 KiB in pure Python takes under a second
MAX_DEPTH = 16
_MERGE_TAG = "tag:yaml.org,2002:merge"
# The YAML 1.2 core schema's tags: `!!str 1.30` is a legitimate way to write a string.
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
# Digits of the longest number any config field takes is far below this.
_MAX_NUMBER_DIGITS = 64

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Scalar:
    """Where a scalar value stands in the file and how it was written."""

    line: int
    text: str
    plain: bool


@dataclass
class Document:
    """A parsed config file: its data and, by key path, the source of every scalar."""

    data: Any
    scalars: dict[Path_, Scalar] = field(default_factory=dict)


def _fail(label: str, where: str, message: str) -> ConfigError:
    return ConfigError([f"{label}: {where}: {message}"])


def _read_bytes(path: Path, label: str) -> bytes:
    try:
        if not path.is_file():
            what = "does not exist" if not path.exists() else "is not a regular file"
            raise _fail(label, "(file)", f"{what}; give the path of a config/<env>.yaml file")
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _fail(label, "(file)", f"cannot read the file ({exc.strerror}); check it") from None
    if len(data) > MAX_BYTES:
        raise _fail(
            label,
            "(file)",
            f"is larger than {MAX_BYTES // 1024} KiB, the limit for a config file (ours are a "
            "few KiB); check that this is the right file",
        )
    return data


def _decode(data: bytes, label: str) -> str:
    bom = b"\xef\xbb\xbf"
    skip = len(bom) if data.startswith(bom) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        line = data[:offset].count(b"\n") + 1
        raise _fail(
            label,
            f"line {line}",
            f"byte 0x{data[offset]:02x} at byte offset {offset} is not UTF-8; save the file "
            "as UTF-8 (or replace the character)",
        ) from None


def _line(event_or_node: Event | Node) -> int:
    mark = event_or_node.start_mark
    return int(mark.line) + 1 if mark is not None else 0


class _RefusedError(Exception):
    """Something a config file never needs, found while composing: (line, message)."""

    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message
        super().__init__(message)


class _RefusingComposer(Composer):
    """ruamel's composer, refusing anchors, aliases and tags at the event that brings them.

    Nodes are composed one event at a time, so the first anchor or alias stops the file before
    its node exists; nothing is ever expanded.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            raise _RefusedError(
                _line(event),
                f"alias *{event.anchor}: config files take no anchors or aliases; write the "
                "value out in full",
            )
        if event.anchor is not None:
            raise _RefusedError(
                _line(event),
                f"anchor &{event.anchor}: config files take no anchors or aliases; remove it "
                "and write values out in full",
            )
        tag = event.tag
        if tag is not None and tag not in _CORE_TAGS:
            raise _RefusedError(
                _line(event),
                f"tag {tag.replace('tag:yaml.org,2002:', '!!')}: config files take no tags; "
                "write the plain value",
            )
        return super().compose_node(parent, index)


def _walk(node: Node, path: Path_, label: str, scalars: dict[Path_, Scalar]) -> None:
    """Refuse duplicate, non-scalar and merge keys; record every scalar's line and text."""
    if isinstance(node, ScalarNode):
        text = str(node.value)
        if str(node.tag).endswith(("int", "float")) and len(text) > _MAX_NUMBER_DIGITS:
            raise _fail(
                label,
                f"line {_line(node)}",
                f"a number of {len(text)} digits; no config value has that many, shorten it",
            )
        scalars[path] = Scalar(line=_line(node), text=text, plain=node.style is None)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), label, scalars)
    elif isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                raise _fail(
                    label,
                    f"line {_line(key)}",
                    "merge key <<: config files take none; write the keys out in full",
                )
            if not isinstance(key, ScalarNode):
                raise _fail(
                    label,
                    f"line {_line(key)}",
                    "a key is a list or mapping; keys are plain names such as nat_gateways",
                )
            name = str(key.value)
            if name in seen:
                where = ".".join(str(p) for p in (*path, name))
                raise _fail(
                    label,
                    f"line {_line(key)}",
                    f"{where} is given twice (lines {seen[name]} and {_line(key)}); keep one",
                )
            seen[name] = _line(key)
            _walk(value, (*path, name), label, scalars)


def _yaml_error(label: str, exc: YAMLError, text: str) -> ConfigError:
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        parts = [p for p in (exc.context, exc.problem) if p]
        problem = ", ".join(parts) or "cannot be parsed"
    elif isinstance(exc, ReaderError):
        where = f"line {text[: exc.position].count(chr(10)) + 1}"
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        problem = f"control character U+{code:04X} is not allowed; remove it"
        return _fail(label, where, f"is not valid YAML: {problem}")
    else:
        where, problem = "(file)", str(exc).splitlines()[0] if str(exc) else "cannot be parsed"
    return _fail(label, where, f"is not valid YAML: {problem}; fix the syntax there")


def read_yaml(path: Path, label: str) -> Document:
    """The file's data and scalar positions, or ConfigError with one line saying what is wrong."""
    text = _decode(_read_bytes(path, label), label)
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _RefusingComposer
    yaml.max_depth = MAX_DEPTH
    try:
        node = yaml.compose(text)
        scalars: dict[Path_, Scalar] = {}
        if node is not None:
            _walk(node, (), label, scalars)
        data = yaml.constructor.construct_document(node) if node is not None else None
    except _RefusedError as exc:
        raise _fail(label, f"line {exc.line}", exc.message) from None
    except MaxDepthExceededError as exc:
        where = f"line {exc.problem_mark.line + 1}" if exc.problem_mark else "(file)"
        raise _fail(
            label,
            where,
            f"nested more than {MAX_DEPTH} levels deep; no config key is, check the "
            "indentation and brackets",
        ) from None
    except YAMLError as exc:
        raise _yaml_error(label, exc, text) from None
    except (ValueError, RecursionError) as exc:
        # e.g. an integer of more digits than Python converts; not reachable through YAML's syntax.
        raise _fail(label, "(file)", f"cannot be read ({exc}); fix the value it names") from None
    return Document(data=data, scalars=scalars)
