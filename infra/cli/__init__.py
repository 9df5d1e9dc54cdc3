"""`python -m infra <command>`: the estate's tools (validate, synth, diff, deploy, bootstrap,
config-docs, cost, diagram, prices, lock-hashes, checkov-report, and the day-2 operations
preflight, pin-ami, pin-images, verify, smtp-credentials).

Bad input never produces a traceback: one line naming the file, the field and the fix, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from infra.config import ConfigError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}; see --help\n")


def _parser() -> argparse.ArgumentParser:
    # The command modules import EXIT_BAD_INPUT and _Parser from this package, so they are
    # imported once it is complete; the order below is the order `--help` lists the commands.
    from infra.cli import cost, deploy, docs, estate, operations, review, smtp, supply_chain

    parser = _Parser(prog="python -m infra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in (estate, review, smtp, deploy, cost, docs, operations, supply_chain):
        module.add_commands(commands)
    return parser


def usable_directory(flag: str, value: str) -> Path:
    """`value` as a directory a command may create and write: one line (exit 2) if a part of
    it is a file or it cannot be written, before any work is done."""
    from infra.ops.report import UnusableError

    path = Path(value)
    for ancestor in (path, *path.absolute().parents):
        if not ancestor.exists():
            continue
        if not ancestor.is_dir():
            raise UnusableError(f"{flag} {value}: {ancestor} is not a directory; name a directory")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise UnusableError(f"{flag} {value}: {ancestor} is not writable; name another one")
        break
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.ops.aws import describe, unusable_line
    from infra.ops.progress import watching
    from infra.ops.report import EXIT_FINDINGS, UnusableError
    from infra.review.assembly import AssemblyError

    try:
        with watching(args.command):
            return run(args)
    except ConfigError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    except (UnusableError, AssemblyError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except (BotoCoreError, ClientError) as exc:
        unusable = unusable_line(exc)
        print(f"{args.command}: {unusable or describe(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT if unusable else EXIT_FINDINGS
    except OSError as exc:  # a path the command was given: unreadable, unwritable, a file
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
