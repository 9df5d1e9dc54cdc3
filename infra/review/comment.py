"""The diff report as one pull-request comment, found again by its first line and updated.

GitHub refuses comment bodies over 65,536 characters; a longer report is cut at a line
boundary, with a note that the whole report is in the job summary and `cdk.out/diff-<env>.md`.
"""

from __future__ import annotations

MARKER = "<!-- twenty-estate: infrastructure diff -->"
MAX_COMMENT_CHARS = 65_536
_TRUNCATED = (
    "\n\n**Report truncated** to fit a comment: the whole report is in this run's job summary "
    "and in `cdk.out/diff-<env>.md` of `make diff`.\n"
)


def pr_comment(report: str, limit: int = MAX_COMMENT_CHARS) -> str:
    """MARKER on the first line, then the report, cut to `limit` characters in all."""
    head = MARKER + "\n"
    if len(head) + len(report) <= limit:
        return head + report
    fence = "\n```"
    room = limit - len(head) - len(_TRUNCATED) - len(fence)
    cut = report.rfind("\n", 0, room)
    body = report[: cut if cut > 0 else room]
    if body.count("```") % 2:  # do not leave a code block open
        body += fence
    return head + body + _TRUNCATED
