"""`diff`: compare the estate's templates and manifests with a git ref or another environment
(the guard against replacing stateful resources; docs/reviewing.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli import EXIT_BAD_INPUT

if TYPE_CHECKING:
    from infra.cli import _Parser


def _progress(line: str) -> None:
    """One line per step of a long command, on stderr (stdout carries the report); the step
    is also what infra/ops/progress.py repeats while it lasts."""
    from infra.ops import progress

    progress.step(line)
    progress.say(f"diff: {line}")


DIFF_EXIT_CODES = """exit codes:
  0  clean: nothing stateful is replaced, destroyed or orphaned (or each one is allowed);
     updates, stop/start updates and replacements of stateless resources exit 0
  2  bad input: unknown environment, bad git ref, a base that predates
     `python -m infra synth --outdir`, a malformed allowance, a synth that fails
  3  blocked by the guard: a stateful resource would be replaced (directly or through a
     reference chain), destroyed, orphaned or lose its Retain deletion/update-replace
     policy (name each in ALLOW_DESTRUCTIVE if intended), or a change AWS rejects without
     replacement (update will fail, e.g. a KMS key's MultiRegion: revert it)

The report goes to stdout and cdk.out/diff-<env>.md; progress, one line per step, to stderr.
See docs/reviewing.md."""


def _diff(args: argparse.Namespace) -> int:
    from infra.app import ROOT
    from infra.review.checkout import CheckoutError
    from infra.review.command import UsageError, diff_against_ref, write_reports
    from infra.review.guard import AllowListError, parse_allow_list
    from infra.review.promotion import diff_environments
    from infra.review.templates import DiffToolError

    try:
        allowed = parse_allow_list([os.environ.get("ALLOW_DESTRUCTIVE"), *args.allow_destructive])
        if args.base_env:
            result = diff_environments(
                root=ROOT,
                env=args.env,
                base_env=args.base_env,
                progress=_progress,
                report_dir=Path(args.report_dir),
            )
            suffix = f"-from-{args.base_env}"
        else:
            result = diff_against_ref(
                root=ROOT,
                env=args.env,
                base=args.base,
                allowed=allowed,
                progress=_progress,
                report_dir=Path(args.report_dir),
            )
            suffix = ""
    except (UsageError, AllowListError, CheckoutError, DiffToolError) as exc:
        print(f"diff: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(result.report, end="")
    for path in write_reports(result, Path(args.report_dir), suffix):
        print(f"wrote {path}", file=sys.stderr)
    if args.comment_file:
        from infra.review.comment import pr_comment

        comment = Path(args.comment_file)
        comment.parent.mkdir(parents=True, exist_ok=True)
        comment.write_text(pr_comment(result.report))
        print(f"wrote {comment}", file=sys.stderr)
    if result.blocked:
        listed = ", ".join(f.describe() for f in result.blocked)
        print(
            f"diff: BLOCKED: {listed}; name each stateful one in "
            "ALLOW_DESTRUCTIVE=<env>/<stack>/<logical id>,... if intended",
            file=sys.stderr,
        )
    return result.exit_code


def add_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    diff = commands.add_parser(
        "diff",
        help="compare templates and manifests with a git ref or another environment",
        description="Synthesize BASE and the working tree, compare every stack, judge each "
        "change (update, stop/start, replacement) and follow references across stacks.",
        epilog=DIFF_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("--env", default="all", help="environment name or all (default: all)")
    against = diff.add_mutually_exclusive_group()
    against.add_argument("--base", help="git ref to compare with (default: origin/main or main)")
    against.add_argument(
        "--base-env", help="compare --env with this environment of the working tree (promotion)"
    )
    diff.add_argument(
        "--allow-destructive",
        action="append",
        default=[],
        metavar="ENV/STACK/LOGICAL_ID,...",
        help="stateful replacements allowed (also the ALLOW_DESTRUCTIVE environment variable)",
    )
    diff.add_argument("--report-dir", default="cdk.out", help="where diff-<env>.md is written")
    diff.add_argument(
        "--comment-file",
        metavar="PATH",
        help="also write the whole report as a pull-request comment body (CI)",
    )
    diff.set_defaults(run=_diff)
