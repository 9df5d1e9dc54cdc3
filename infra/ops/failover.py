"""`python -m infra failover` and `rebuild-standby`: move the database to its standby and back.

failover (the primary host or its zone is lost, or a planned switch):
  1. find the hosts (database stack outputs) and the primary (where `db.<env>.internal` points);
  2. ask the standby how it stands (`twenty-db-replication status`): it must be a standby, and
     its WAL received but not replayed at most `database.standby.failover_max_lag_bytes`; ask the
     primary too, briefly: if it answers, the standby may be no further behind it (`--force`
     overrides both refusals);
  3. fence the old primary: its security group swapped for the quarantine group (no ingress),
     then a forced stop, waited for (a new group leaves established connections open): if the
     old primary answered in step 2 and does not stop, nothing is promoted (`--force` does);
  4. promote the standby (`twenty-db-replication promote`);
  5. move the stable name to it (Route53 UPSERT, waited until INSYNC);
  6. rewrite `database.standby.writer` in config/<env>.yaml (commit it: a deploy keeps the name
     and the hosts' tags in step with it).
Twenty needs no restart: its pools drop the connections that failed with the old host and open
new ones to the name, whose TTL is seconds.

rebuild-standby: infra/ops/rebuild_standby.py.

Every step is a line of the report with its duration; --dry-run stops after the checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError, WaiterError
from ruamel.yaml import YAML

from infra.config import EnvironmentConfig, display_path
from infra.database_host import MEMBERS, member_name, other_member, writer_name
from infra.naming import stack_name
from infra.ops.aws import Aws, describe, find_stack, stack_outputs, wrong_account
from infra.ops.report import Finding, Report, UnusableError
from infra.ops.run_command import Clock, CommandResult, ReplicationCommands

RUNBOOK = "docs/runbooks/database-failover.md"


@dataclass
class FailoverOptions:
    force: bool = False
    dry_run: bool = False
    # how long the old primary may take to answer `status` (a dead host never does)
    primary_wait_seconds: float = 30.0
    # each of: the standby's status, promotion, the DNS change, a rebuild's clone
    wait_seconds: float = 900.0
    # how long the fenced primary may take to stop
    fence_wait_seconds: float = 300.0
    poll_seconds: float = 2.0


@dataclass(frozen=True)
class Hosts:
    """The database hosts of a deployed environment, and which one the stable name names."""

    instances: dict[str, str]  # member -> instance id
    zone_id: str
    security_group: str
    quarantine: str
    writer: str

    @property
    def standby(self) -> str:
        return other_member(self.writer)


def require_standby(cfg: EnvironmentConfig) -> None:
    if not cfg.database.standby.enabled:
        raise UnusableError(
            f"{cfg.name} has no standby host (database.standby.enabled is false in "
            f"config/{cfg.name}.yaml): nothing to fail over to or rebuild"
        )


def find_hosts(cfg: EnvironmentConfig, aws: Aws) -> Hosts:
    """From the database stack's outputs and the stable name's record; exit 2 without them."""
    require_standby(cfg)
    name = stack_name(cfg.name, "database")
    stack = find_stack(aws.client("cloudformation"), name)
    if stack is None:
        raise UnusableError(f"{name} is not deployed")
    outputs = stack_outputs(stack)
    needed = [f"{m.capitalize()}InstanceId" for m in MEMBERS]
    needed += ["PrivateZoneId", "SecurityGroupId", "QuarantineSecurityGroupId"]
    missing = [key for key in needed if key not in outputs]
    if missing:
        raise UnusableError(
            f"{name} lacks the outputs {', '.join(missing)}: deploy the standby first"
        )
    zone_id = outputs["PrivateZoneId"]
    return Hosts(
        instances={m: outputs[f"{m.capitalize()}InstanceId"] for m in MEMBERS},
        zone_id=zone_id,
        security_group=outputs["SecurityGroupId"],
        quarantine=outputs["QuarantineSecurityGroupId"],
        writer=_current_writer(aws.client("route53"), zone_id, cfg.name),
    )


def _current_writer(route53: Any, zone_id: str, environment: str) -> str:
    name = writer_name(environment) + "."
    records = route53.list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=name, StartRecordType="CNAME", MaxItems="1"
    )["ResourceRecordSets"]
    record = next((r for r in records if r["Name"] == name and r["Type"] == "CNAME"), None)
    if record is None:
        raise UnusableError(f"no CNAME record {name} in zone {zone_id}: deploy the database stack")
    target = record["ResourceRecords"][0]["Value"].rstrip(".")
    for member in MEMBERS:
        if target == member_name(environment, member):
            return member
    raise UnusableError(f"{name} points at {target}, not at a database host; see {RUNBOOK}")


def replace_writer(text: str, member: str, label: str) -> str:
    """`text` with `database.standby.writer` set to `member`, everything else unchanged."""
    document = YAML().load(text)
    try:
        line, column = document["database"]["standby"].lc.value("writer")
    except (KeyError, TypeError):
        raise UnusableError(f"{label}: database.standby.writer: missing; add it") from None
    lines = text.splitlines(keepends=True)
    current = lines[line][column:].split()[0]
    lines[line] = lines[line][:column] + member + lines[line][column + len(current) :]
    updated = "".join(lines)
    before, after = yaml.safe_load(text), yaml.safe_load(updated)
    before["database"]["standby"]["writer"] = member
    if before != after:
        raise UnusableError(f"{label}: line {line + 1}: could not replace the writer in place")
    return updated


def parse_status(result: CommandResult) -> dict[str, Any] | None:
    if not result.ok:
        return None
    try:
        parsed = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return parsed if isinstance(parsed, dict) else None


@dataclass
class Steps:
    """The report's lines, each with the time it took."""

    clock: Clock
    findings: list[Finding] = field(default_factory=list)

    def add(self, check: str, ok: bool, detail: str, started: float | None = None) -> bool:
        if started is not None:
            detail += f" ({self.clock.monotonic() - started:.1f} s)"
        self.findings.append(Finding(check, ok, detail))
        return ok


class Failover:
    def __init__(
        self,
        cfg: EnvironmentConfig,
        config_file: Path,
        aws: Aws,
        options: FailoverOptions,
        clock: Clock,
    ) -> None:
        self.cfg = cfg
        self.config_file = config_file
        self.aws = aws
        self.options = options
        self.clock = clock
        self.ec2 = aws.client("ec2")
        self.route53 = aws.client("route53")
        self.commands = ReplicationCommands(
            aws.client("ssm"), cfg.name, clock, poll_seconds=options.poll_seconds
        )
        self.steps = Steps(clock)
        self.primary_alive = False

    def run(self) -> list[Finding]:
        began = self.clock.monotonic()
        hosts = find_hosts(self.cfg, self.aws)
        primary, standby = hosts.writer, hosts.standby
        self.steps.add(
            "hosts",
            True,
            f"primary {primary} ({hosts.instances[primary]}), standby {standby} "
            f"({hosts.instances[standby]})",
        )
        if not self._standby_ready(hosts) or self.options.dry_run:
            if self.options.dry_run and self.steps.findings[-1].ok:
                self.steps.add(
                    "dry run",
                    True,
                    f"would fence {primary}, promote {standby}, point {writer_name(self.cfg.name)}"
                    f" at it and set database.standby.writer: {standby}",
                )
            return self.steps.findings
        if not self._fence(hosts):
            return self.steps.findings
        if not self._promote(hosts):
            return self.steps.findings
        if not self._move_name(hosts):
            return self.steps.findings
        self._rewrite_config(standby)
        self.steps.add(
            "failover",
            True,
            f"{standby} is the primary; Twenty reconnects to {writer_name(self.cfg.name)}; "
            f"next: python -m infra rebuild-standby --env {self.cfg.name}",
            began,
        )
        return self.steps.findings

    def _standby_ready(self, hosts: Hosts) -> bool:
        started = self.clock.monotonic()
        standby, primary = hosts.standby, hosts.writer
        limit = self.cfg.database.standby.failover_max_lag_bytes
        result = self.commands.run(hosts.instances[standby], "status", self.options.wait_seconds)
        status = parse_status(result)
        if status is None:
            return self.steps.add(
                "standby",
                False,
                f"{standby} did not report its status ({result.last_error()}); it cannot be "
                "promoted blind: check the host (runbook)",
                started,
            )
        if status.get("role") != "standby":
            return self.steps.add(
                "standby",
                False,
                f"{standby} is a {status.get('role')}, not a standby: two primaries? see {RUNBOOK}",
                started,
            )
        backlog = int(status.get("replay_backlog_bytes", 0))
        streaming = "streaming" if status.get("streaming") else "not streaming (primary lost?)"
        ok = backlog <= limit or self.options.force
        detail = f"{standby} is a standby, {streaming}, {backlog} bytes received not replayed"
        if backlog > limit:
            detail += f" (over failover_max_lag_bytes {limit}" + (
                "; --force given)" if self.options.force else "; refused without --force)"
            )
        if not self.steps.add("standby", ok, detail, started):
            return False
        started = self.clock.monotonic()
        answer = self.commands.run(
            hosts.instances[primary], "status", self.options.primary_wait_seconds
        )
        primary_status = parse_status(answer)
        self.primary_alive = primary_status is not None
        if primary_status is None:
            return self.steps.add(
                "primary",
                True,
                f"{primary} did not answer ({answer.last_error()}): treated as lost",
                started,
            )
        lag = next(
            (
                int(s.get("lag_bytes", 0))
                for s in primary_status.get("standbys", [])
                if s.get("name") == standby
            ),
            None,
        )
        if lag is None:
            ok = self.options.force
            detail = f"{primary} answers and {standby} does not stream from it: promoting it "
            detail += "loses what it misses (--force given)" if ok else "is refused without --force"
        else:
            ok = lag <= limit or self.options.force
            detail = f"{primary} answers (it will be fenced); {standby} is {lag} bytes behind it"
            if lag > limit:
                detail += " (--force given)" if self.options.force else ", refused without --force"
        return self.steps.add("primary", ok, detail, started)

    def _fence(self, hosts: Hosts) -> bool:
        started = self.clock.monotonic()
        instance = hosts.instances[hosts.writer]
        # The fence that counts: no connection reaches the old primary any more.
        self.ec2.modify_instance_attribute(InstanceId=instance, Groups=[hosts.quarantine])
        detail = f"{hosts.writer} ({instance}) in the quarantine group {hosts.quarantine}"
        try:
            self.ec2.stop_instances(InstanceIds=[instance], Force=True)
        except ClientError as exc:
            detail += f"; stop failed ({describe(exc)})"
            return self._fence_verdict(detail, started)
        # A new security group does not cut connections already established: only a stopped
        # host surely takes no more writes from them.
        delay = max(1, int(self.options.poll_seconds))
        try:
            self.ec2.get_waiter("instance_stopped").wait(
                InstanceIds=[instance],
                WaiterConfig={
                    "Delay": delay,
                    "MaxAttempts": max(1, int(self.options.fence_wait_seconds / delay)),
                },
            )
        except WaiterError:
            detail += f"; not stopped within {self.options.fence_wait_seconds:g} s"
            return self._fence_verdict(detail, started)
        return self.steps.add("fence", True, detail + ", stopped", started)

    def _fence_verdict(self, detail: str, started: float) -> bool:
        """A stop that did not complete: fatal if the old primary still answered (its open
        connections could still write after the promotion), else the group fences it."""
        if self.primary_alive and not self.options.force:
            detail += ": it answered before, so its open connections could still write; not "
            detail += "promoting (stop it, or --force)"
            return self.steps.add("fence", False, detail, started)
        return self.steps.add("fence", True, detail + "; the group fences it", started)

    def _promote(self, hosts: Hosts) -> bool:
        started = self.clock.monotonic()
        standby = hosts.standby
        result = self.commands.run(hosts.instances[standby], "promote", self.options.wait_seconds)
        if not result.ok:
            return self.steps.add(
                "promote",
                False,
                f"{standby}: {result.last_error()} (command {result.command_id}); the old "
                "primary stays fenced: see the runbook",
                started,
            )
        return self.steps.add("promote", True, f"{standby} accepts writes", started)

    def _move_name(self, hosts: Hosts) -> bool:
        started = self.clock.monotonic()
        name = writer_name(self.cfg.name)
        target = member_name(self.cfg.name, hosts.standby)
        change = self.route53.change_resource_record_sets(
            HostedZoneId=hosts.zone_id,
            ChangeBatch={
                "Comment": "twenty-estate failover",
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": name + ".",
                            "Type": "CNAME",
                            "TTL": 10,
                            "ResourceRecords": [{"Value": target}],
                        },
                    }
                ],
            },
        )["ChangeInfo"]
        while change["Status"] != "INSYNC":
            if self.clock.monotonic() - started >= self.options.wait_seconds:
                return self.steps.add(
                    "dns", False, f"{name} -> {target} not in sync yet ({change['Id']})", started
                )
            self.clock.sleep(self.options.poll_seconds)
            change = self.route53.get_change(Id=change["Id"])["ChangeInfo"]
        return self.steps.add("dns", True, f"{name} -> {target}", started)

    def _rewrite_config(self, member: str) -> None:
        label = display_path(self.config_file)
        try:
            text = self.config_file.read_text()
            self.config_file.write_text(replace_writer(text, member, label))
        except (OSError, UnusableError) as exc:
            self.steps.add(
                "config",
                False,
                f"{label}: set database.standby.writer: {member} by hand and commit it ({exc})",
            )
            return
        self.steps.add(
            "config",
            True,
            f"{label}: database.standby.writer: {member}; commit it before the next deploy",
        )


def checked_account(cfg: EnvironmentConfig, aws: Aws) -> Finding | None:
    """Offline first (no standby configured: exit 2 without credentials), then the account."""
    require_standby(cfg)
    return wrong_account(aws, cfg.account)


def run_failover(
    cfg: EnvironmentConfig,
    config_file: Path,
    aws: Aws | None = None,
    options: FailoverOptions | None = None,
    clock: Clock | None = None,
) -> Report:
    require_standby(cfg)
    aws = aws or Aws(cfg.region)
    wrong = checked_account(cfg, aws)
    if wrong is not None:
        return Report("failover", cfg.name, (wrong,))
    runner = Failover(cfg, config_file, aws, options or FailoverOptions(), clock or Clock())
    return Report("failover", cfg.name, tuple(runner.run()))


__all__ = [
    "FailoverOptions",
    "Hosts",
    "find_hosts",
    "replace_writer",
    "run_failover",
]
