"""`lock-hashes`: turn exact pins into a hash-checked lock file (make lock); `checkov-report`:
judge checkov's CloudFormation results (make checkov)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.cli import _Parser


def _lock_hashes(args: argparse.Namespace) -> int:
    from infra.cli import EXIT_BAD_INPUT
    from infra.lockfile import LockError, lock

    pins = Path(args.pins)
    if not pins.is_file():
        print(f"lock-hashes: {pins} does not exist; give a pip freeze output", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"lock-hashes: fetching the pinned files of {pins} through pip", file=sys.stderr)
    try:
        count = lock(pins, Path(args.output), python=args.python)
    except LockError as exc:
        print(f"lock-hashes: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {args.output}: {count} distributions with sha256 hashes")
    return 0


def _checkov_report(args: argparse.Namespace) -> int:
    from infra.checkov_report import judge

    code, lines = judge(Path(args.results))
    for line in lines:
        print(line)
    print(f"checkov-report: {'only CDK-internal failures' if code == 0 else 'see findings'}")
    return code


def add_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    report = commands.add_parser(
        "checkov-report",
        help="judge checkov's CloudFormation JSON: only CDK-internal Lambdas may fail "
        "(exit 0 ok, 1 findings, 2 unreadable)",
    )
    report.add_argument("--results", required=True, help="checkov -o json output")
    report.set_defaults(run=_checkov_report)
    lock = commands.add_parser(
        "lock-hashes",
        help="write a lock with sha256 hashes from exact pins (exit 0 written, 2 bad input)",
    )
    lock.add_argument("--pins", required=True, help="name==version lines (pip freeze)")
    lock.add_argument("--output", required=True, help="the lock file to write")
    lock.add_argument(
        "--python", default=sys.executable, help="the interpreter whose pip fetches the files"
    )
    lock.set_defaults(run=_lock_hashes)
