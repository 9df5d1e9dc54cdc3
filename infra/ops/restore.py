"""`python -m infra restore`: the database host restored in place to a point in time.

boto3 only. The database stack's outputs name the host and the SSM document
`twenty-<env>-restore` (infra/restore_document.py); the command sends that document by name
with the two parameters it admits, waits for it within a bound, and judges what the host script
printed: every step and its duration, then the result (not in recovery, the time of the last
replayed transaction not after the target, tables present). The script fences Twenty's writers
(socket-only listening, server stopped) before restoring and lifts the fence only after its
checks, so the CRM never writes into a half-restored database.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.config import EnvironmentConfig
from infra.naming import stack_name
from infra.ops.aws import Aws, find_stack, stack_outputs, wrong_account
from infra.ops.report import Finding, Report, UnusableError
from infra.ops.verify import Clock
from infra.restore_document import restore_document_name, valid_target

# SSM Run Command statuses that are not final.
_RUNNING = ("Pending", "InProgress", "Delayed")


@dataclass(frozen=True)
class RestoreRequest:
    """What to restore: `target` is `latest` or an ISO 8601 time with zone; `repo` 1 or 2."""

    target: str
    repo: int = 1
    dry_run: bool = False
    wait_seconds: float = 7800.0
    poll_seconds: float = 15.0


@dataclass
class HostOutput:
    """What the host script printed: its steps with seconds, and its result object."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    result: dict[str, object] | None = None


def check_request(cfg: EnvironmentConfig, request: RestoreRequest, now: datetime) -> None:
    """Bad input is refused before any AWS call, with one line (exit 2)."""
    if not valid_target(request.target):
        raise UnusableError(
            f"restore: --to {request.target!r} must be latest or an ISO 8601 time with its "
            "zone, e.g. 2026-11-30T14:05:00Z"
        )
    if request.target != "latest" and target_time(request.target) > now:
        raise UnusableError(f"restore: --to {request.target} is in the future")
    if request.repo == 2 and cfg.recovery is None:
        raise UnusableError(
            f"restore: --repo 2 needs a recovery region; config/{cfg.name}.yaml has no "
            "recovery section (use --repo 1)"
        )
    if request.repo not in (1, 2):
        raise UnusableError(f"restore: --repo {request.repo} must be 1 or 2")


def target_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def postgres_time(value: str) -> datetime:
    """A timestamptz as PostgreSQL logs it: `2026-12-04 17:01:02.123456+00`."""
    text = value.strip()
    if len(text) >= 3 and text[-3] in "+-" and text[-2:].isdigit():
        text += ":00"
    return datetime.fromisoformat(text)


def parse_host_output(text: str) -> HostOutput:
    output = HostOutput()
    for line in text.splitlines():
        if line.startswith("step "):
            parts = line.split()
            if len(parts) == 3:
                output.steps.append((parts[1], float(parts[2])))
        elif line.startswith("result "):
            output.result = json.loads(line.removeprefix("result "))
    return output


class Restore:
    """One restore run against the environment's database host."""

    def __init__(
        self,
        cfg: EnvironmentConfig,
        request: RestoreRequest,
        *,
        aws: Aws | None = None,
        clock: Clock | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.request = request
        self.aws = aws or Aws(cfg.region)
        self.clock = clock or Clock()
        self.progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))

    def run(self) -> Report:
        findings: list[Finding] = []
        # A restore stops the CRM's database: never with credentials of another account.
        wrong = wrong_account(self.aws, self.cfg.account)
        if wrong is not None:
            return self._report([wrong])
        stack = stack_name(self.cfg.name, "database")
        self.progress(f"restore {self.cfg.name}: reading the outputs of {stack}")
        instance, document = self._host(stack)
        if instance is None:
            return self._report([Finding("database host", False, f"{stack} is not deployed")])
        findings.append(Finding("database host", True, f"{instance} (stack {stack})"))
        request = self.request
        parameters = {"target": [request.target], "repo": [str(request.repo)]}
        if request.dry_run:
            findings.append(
                Finding(
                    "dry run",
                    True,
                    f"would send SSM document {document} to {instance} with target="
                    f"{request.target} repo={request.repo}; nothing was changed",
                )
            )
            return self._report(findings)
        ssm = self.aws.client("ssm")
        self.progress(
            f"restore {self.cfg.name}: sending {document} to {instance} (target "
            f"{request.target}, repo{request.repo}); the CRM cannot write until it is checked"
        )
        command_id = ssm.send_command(
            InstanceIds=[instance],
            DocumentName=document,
            Comment=f"twenty-estate restore {self.cfg.name} to {request.target}"[:100],
            Parameters=parameters,
            TimeoutSeconds=600,
        )["Command"]["CommandId"]
        started = self.clock.monotonic()
        result = self._wait(ssm, command_id, instance, started)
        elapsed = self.clock.monotonic() - started
        if result is None:
            findings.append(
                Finding(
                    "restore",
                    False,
                    f"not finished after {self.request.wait_seconds:g} s (command {command_id}); "
                    "follow it with aws ssm get-command-invocation",
                )
            )
            return self._report(findings)
        output = parse_host_output(result.get("StandardOutputContent", ""))
        for name, seconds in output.steps:
            findings.append(Finding(f"step {name}", True, f"{seconds:.1f} s"))
        if result["Status"] != "Success":
            error = result.get("StandardErrorContent", "").strip().splitlines()
            findings.append(
                Finding(
                    "restore",
                    False,
                    f"{result['Status']} on {instance} (command {command_id})"
                    + (f": {error[-1]}" if error else ""),
                )
            )
            return self._report(findings)
        findings.extend(self._judge(output))
        findings.append(Finding("duration", True, f"{elapsed:.0f} s from send to checked"))
        return self._report(findings)

    def _host(self, stack: str) -> tuple[str | None, str]:
        found = find_stack(self.aws.client("cloudformation"), stack)
        if found is None:
            return None, ""
        outputs = stack_outputs(found)
        document = outputs.get("RestoreDocumentName", restore_document_name(self.cfg.name))
        return outputs.get("InstanceId"), document

    def _wait(
        self, ssm: Any, command_id: str, instance: str, started: float
    ) -> dict[str, str] | None:
        while True:
            try:
                result: dict[str, str] = ssm.get_command_invocation(
                    CommandId=command_id, InstanceId=instance
                )
            except ssm.exceptions.InvocationDoesNotExist:
                result = {"Status": "Pending"}
            if result["Status"] not in _RUNNING:
                return result
            waited = self.clock.monotonic() - started
            if waited >= self.request.wait_seconds:
                return None
            self.progress(f"restore {self.cfg.name}: {result['Status']}, {waited:.0f} s")
            self.clock.sleep(self.request.poll_seconds)

    def _judge(self, output: HostOutput) -> list[Finding]:
        result = output.result
        if result is None:
            return [Finding("result", False, "the host script printed no result line")]
        findings = [
            Finding(
                "not in recovery",
                result.get("in_recovery") is False,
                "the server accepts writes"
                if result.get("in_recovery") is False
                else "the server is still in recovery",
            )
        ]
        restored = result.get("restored_time")
        if self.request.target != "latest":
            target = target_time(self.request.target)
            if not isinstance(restored, str):
                # pgBackRest picked a backup that ended before the target and no commit
                # followed it up to the target: the database is the backup's end state.
                findings.append(
                    Finding(
                        "restored time",
                        True,
                        "no transaction between the backup's end and the target to replay",
                    )
                )
            else:
                ok = postgres_time(restored) <= target
                findings.append(
                    Finding(
                        "restored time",
                        ok,
                        f"last transaction {restored} "
                        + ("not after" if ok else "AFTER")
                        + f" the target {self.request.target}",
                    )
                )
        else:
            findings.append(
                Finding("restored time", True, f"last transaction {restored or 'of the backup'}")
            )
        tables = result.get("tables")
        findings.append(
            Finding(
                "tables",
                isinstance(tables, int) and tables > 0,
                f"{tables} tables, about {result.get('estimated_rows')} rows, "
                f"{result.get('database_bytes')} bytes, timeline {result.get('timeline')}",
            )
        )
        return findings

    def _report(self, findings: list[Finding]) -> Report:
        return Report(command="restore", environment=self.cfg.name, findings=tuple(findings))


def run_restore(
    cfg: EnvironmentConfig,
    request: RestoreRequest,
    *,
    aws: Aws | None = None,
    clock: Clock | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    clock = clock or Clock()
    check_request(cfg, request, clock.now())
    return Restore(cfg, request, aws=aws, clock=clock, progress=progress).run()
