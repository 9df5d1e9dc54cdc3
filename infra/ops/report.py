"""Results of the operations commands: one line per check, as a table or as JSON.

Exit codes are shared by every command: 0 every check passed, 1 at least one finding,
2 bad input or unusable credentials (raised as `UnusableError` before any check is judged).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNUSABLE = 2

EXIT_CODES_HELP = (
    "exit codes: 0 every check passed; 1 findings (one line each); 2 bad input (config, "
    "arguments) or no usable AWS credentials"
)


class UnusableError(Exception):
    """The command cannot judge anything (bad input, no credentials): exit 2 with this line."""


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: `ok`, or one line saying what is wrong and what to do."""

    check: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Report:
    """All findings of one command run for one environment."""

    command: str
    environment: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_FINDINGS

    def as_json(self) -> str:
        return json.dumps(
            {
                "command": self.command,
                "environment": self.environment,
                "ok": self.ok,
                "checks": [asdict(f) for f in self.findings],
            },
            indent=2,
        )

    def as_table(self) -> str:
        rows = [("check", "result", "detail")] + [
            (f.check, "ok" if f.ok else "FAIL", f.detail) for f in self.findings
        ]
        width = [max(len(r[i]) for r in rows) for i in range(2)]
        lines = [f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]}".rstrip() for r in rows]
        failed = sum(1 for f in self.findings if not f.ok)
        verdict = "all checks passed" if self.ok else f"{failed} finding(s)"
        lines.append(f"{self.command} {self.environment}: {verdict}")
        return "\n".join(lines)
