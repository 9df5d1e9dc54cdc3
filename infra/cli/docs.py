"""`config-docs`: write (or, with --check, compare) docs/config-reference.md, generated from the
config models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.cli import _Parser


def _config_docs(args: argparse.Namespace) -> int:
    from infra.config_docs import render_config_reference

    text = render_config_reference()
    if args.check:
        current = Path(args.output).read_text() if Path(args.output).exists() else ""
        if current != text:
            print(f"{args.output}: out of date; run `make config-docs`", file=sys.stderr)
            return 1
        return 0
    Path(args.output).write_text(text)
    print(f"wrote {args.output}")
    return 0


def add_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    docs = commands.add_parser("config-docs", help="write docs/config-reference.md")
    docs.add_argument("--output", default="docs/config-reference.md")
    docs.add_argument("--check", action="store_true", help="fail if the file is out of date")
    docs.set_defaults(run=_config_docs)
