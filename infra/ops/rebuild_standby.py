"""`python -m infra rebuild-standby`: the database host that is not the primary becomes its
streaming standby again (after a failover, or to replace a lost standby).

The host named by `db.<env>.internal` must be an answering primary; the other host is started if
stopped, turned into its standby (`twenty-db-replication rebuild-standby` through the SSM
document: a verified TLS clone with its replication slot, refused on a primary that is not on an
older timeline of the same cluster), given back the database security group, and checked
streaming. Every step is a line of the report with its duration; --dry-run stops after the
first check.
"""

from __future__ import annotations

from infra.config import EnvironmentConfig
from infra.database_host import writer_name
from infra.ops.aws import Aws
from infra.ops.failover import (
    FailoverOptions,
    Steps,
    checked_account,
    find_hosts,
    parse_status,
    require_standby,
)
from infra.ops.report import Finding, Report
from infra.ops.run_command import Clock, ReplicationCommands


class RebuildStandby:
    def __init__(self, cfg: EnvironmentConfig, aws: Aws, options: FailoverOptions, clock: Clock):
        self.cfg = cfg
        self.aws = aws
        self.options = options
        self.clock = clock
        self.ec2 = aws.client("ec2")
        self.commands = ReplicationCommands(
            aws.client("ssm"), cfg.name, clock, poll_seconds=options.poll_seconds
        )
        self.steps = Steps(clock)

    def run(self) -> list[Finding]:
        began = self.clock.monotonic()
        hosts = find_hosts(self.cfg, self.aws)
        primary, target = hosts.writer, hosts.standby
        instance = hosts.instances[target]
        started = self.clock.monotonic()
        status = parse_status(
            self.commands.run(hosts.instances[primary], "status", self.options.wait_seconds)
        )
        if status is None or status.get("role") != "primary":
            self.steps.add(
                "primary",
                False,
                f"{primary}, named by {writer_name(self.cfg.name)}, is not an answering primary"
                f" ({status.get('role') if status else 'no answer'}): nothing to clone",
                started,
            )
            return self.steps.findings
        self.steps.add("primary", True, f"{primary} is the primary", started)
        if self.options.dry_run:
            self.steps.add(
                "dry run", True, f"would start {target} ({instance}) if stopped, wipe it and "
                f"clone {primary} into it, then give it the group {hosts.security_group}"
            )  # fmt: skip
            return self.steps.findings
        if not self._running(target, instance):
            return self.steps.findings
        started = self.clock.monotonic()
        result = self.commands.run(instance, "rebuild-standby", self.options.wait_seconds)
        if not result.ok:
            self.steps.add(
                "rebuild", False, f"{target}: {result.last_error()} ({result.command_id})", started
            )
            return self.steps.findings
        self.steps.add("rebuild", True, f"{target} cloned from {primary} and streaming", started)
        self.ec2.modify_instance_attribute(InstanceId=instance, Groups=[hosts.security_group])
        self.steps.add("security group", True, f"{target} back in {hosts.security_group}")
        started = self.clock.monotonic()
        check = parse_status(self.commands.run(instance, "status", self.options.wait_seconds))
        ok = bool(check and check.get("role") == "standby" and check.get("streaming"))
        self.steps.add(
            "standby", ok, f"{target} is {'a streaming standby' if ok else 'not streaming'}",
            started,
        )  # fmt: skip
        if ok:
            self.steps.add("rebuild-standby", True, f"{target} is the standby", began)
        return self.steps.findings

    def _running(self, member: str, instance: str) -> bool:
        started = self.clock.monotonic()
        described = self.ec2.describe_instances(InstanceIds=[instance])
        state = described["Reservations"][0]["Instances"][0]["State"]["Name"]
        if state == "running":
            return self.steps.add("instance", True, f"{member} ({instance}) is running", started)
        if state not in ("stopped", "stopping"):
            return self.steps.add(
                "instance", False, f"{member} ({instance}) is {state}; start it by hand", started
            )
        if state == "stopping":
            self.ec2.get_waiter("instance_stopped").wait(
                InstanceIds=[instance], WaiterConfig=self._waiter()
            )
        self.ec2.start_instances(InstanceIds=[instance])
        self.ec2.get_waiter("instance_running").wait(
            InstanceIds=[instance], WaiterConfig=self._waiter()
        )
        # Run Command reaches the host only once its SSM agent has registered again.
        ssm = self.commands.ssm
        while True:
            listed = ssm.describe_instance_information(
                Filters=[{"Key": "InstanceIds", "Values": [instance]}]
            )["InstanceInformationList"]
            if listed and listed[0].get("PingStatus") == "Online":
                break
            if self.clock.monotonic() - started >= self.options.wait_seconds:
                return self.steps.add(
                    "instance", False, f"{member} ({instance}) started, SSM agent not online",
                    started,
                )  # fmt: skip
            self.clock.sleep(self.options.poll_seconds)
        return self.steps.add("instance", True, f"{member} ({instance}) started", started)

    def _waiter(self) -> dict[str, int]:
        delay = max(1, int(self.options.poll_seconds))
        return {"Delay": delay, "MaxAttempts": max(1, int(self.options.wait_seconds / delay))}


def run_rebuild_standby(
    cfg: EnvironmentConfig,
    aws: Aws | None = None,
    options: FailoverOptions | None = None,
    clock: Clock | None = None,
) -> Report:
    require_standby(cfg)
    aws = aws or Aws(cfg.region)
    wrong = checked_account(cfg, aws)
    if wrong is not None:
        return Report("rebuild-standby", cfg.name, (wrong,))
    runner = RebuildStandby(cfg, aws, options or FailoverOptions(), clock or Clock())
    return Report("rebuild-standby", cfg.name, tuple(runner.run()))
