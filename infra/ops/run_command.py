"""SSM Run Command of the database stack's replication documents, with a bounded wait.

The documents (`twenty-<env>-db-<subcommand>`, infra/stacks/database.py) take no parameter:
the caller names one and an instance, nothing else (issue 23: no AWS-RunShellScript).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.database_host import replication_document_name

_RUNNING = ("Pending", "InProgress", "Delayed")


@dataclass
class Clock:
    """Time for the bounded waits; tests pass one that does not sleep."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class CommandResult:
    """How one document ran on one instance: Success, Failed, TimedOut, ... or NoAnswer."""

    status: str
    stdout: str = ""
    stderr: str = ""
    command_id: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "Success"

    def last_error(self) -> str:
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else self.status


@dataclass
class ReplicationCommands:
    """Sends `twenty-db-replication <subcommand>` to a database host through its document."""

    ssm: Any
    environment: str
    clock: Clock = field(default_factory=Clock)
    poll_seconds: float = 2.0

    def run(self, instance: str, subcommand: str, wait_seconds: float) -> CommandResult:
        """Run and wait at most `wait_seconds`; `NoAnswer` when the host never finished (a dead
        host's command stays pending until SSM times it out)."""
        command_id = str(
            self.ssm.send_command(
                InstanceIds=[instance],
                DocumentName=replication_document_name(self.environment, subcommand),
                Comment=f"twenty-estate: twenty-db-replication {subcommand}",
                TimeoutSeconds=max(30, int(wait_seconds)),
            )["Command"]["CommandId"]
        )
        start = self.clock.monotonic()
        while True:
            try:
                result = self.ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
            except self.ssm.exceptions.InvocationDoesNotExist:
                result = {"Status": "Pending"}
            if result["Status"] not in _RUNNING:
                return CommandResult(
                    status=str(result["Status"]),
                    stdout=str(result.get("StandardOutputContent", "")),
                    stderr=str(result.get("StandardErrorContent", "")),
                    command_id=command_id,
                )
            if self.clock.monotonic() - start >= wait_seconds:
                return CommandResult(status="NoAnswer", command_id=command_id)
            self.clock.sleep(self.poll_seconds)
