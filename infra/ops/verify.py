"""`python -m infra verify --env <env>`: after a deploy, does the environment work?

Every stack complete and not drifted (CloudFormation drift detection, waited for up to a
bound); the target groups have healthy targets; the certificate is issued; the parent delegates
the zone to its name servers; the newest AWS Backup recovery point and pgBackRest backup are
younger than `database.backup.rpo_hours`; with a standby, one streams from the primary that
`db.<env>.internal` names, within `failover_max_lag_bytes`, and that name follows config; no
alarm of the environment is in ALARM; `https://<domain>/healthz` answers 200.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.config import EnvironmentConfig
from infra.database_host import PGBACKREST_INFO_DOCUMENT, STANZA
from infra.naming import (
    BACKUP_VAULT_LOGICAL_ID,
    STACK_PARTS,
    alarm_prefix,
    namespace,
    recovery_vault_name,
    ssm_document_name,
    stack_name,
)
from infra.ops.aws import Aws, find_stack, run_checks, stack_outputs, wrong_account
from infra.ops.delegation import ParentLookup, check_delegation, dns_parent_delegation
from infra.ops.report import Finding, Report, UnusableError

COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")


@dataclass
class Clock:
    """Time for the bounded waits; tests pass one that does not sleep."""

    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class VerifyOptions:
    wait_seconds: float = 300.0  # drift detection and Run Command, each
    poll_seconds: float = 5.0
    base_url: str | None = None  # default https://<domain>
    http_timeout: float = 10.0


def _age(when: datetime, now: datetime) -> str:
    hours = (now - when).total_seconds() / 3600
    return f"{hours:.1f} h old"


class Verify:
    def __init__(
        self,
        cfg: EnvironmentConfig,
        aws: Aws,
        options: VerifyOptions,
        clock: Clock,
        parent_lookup: ParentLookup,
    ) -> None:
        self.cfg = cfg
        self.aws = aws
        self.options = options
        self.clock = clock
        self.parent_lookup = parent_lookup
        self.cloudformation = aws.client("cloudformation")
        self._stacks: dict[str, dict[str, Any] | None] = {}
        self.rpo = timedelta(hours=cfg.database.backup.rpo_hours)
        # The recovery region's session (tests pass one); made on first use otherwise.
        self.recovery_aws: Aws | None = None

    def stack(self, part: str) -> dict[str, Any] | None:
        name = stack_name(self.cfg.name, part)
        if name not in self._stacks:
            self._stacks[name] = find_stack(self.cloudformation, name)
        return self._stacks[name]

    def outputs(self, part: str) -> dict[str, str] | None:
        stack = self.stack(part)
        return stack_outputs(stack) if stack else None

    def _deadline_passed(self, start: float) -> bool:
        return self.clock.monotonic() - start >= self.options.wait_seconds

    def stacks(self) -> list[Finding]:
        findings: list[Finding] = []
        detections: dict[str, str] = {}
        for part in STACK_PARTS:
            name = stack_name(self.cfg.name, part)
            stack = self.stack(part)
            if stack is None:
                findings.append(Finding(f"stack {part}", False, f"{name} is not deployed"))
            elif stack["StackStatus"] not in COMPLETE:
                reason = stack.get("StackStatusReason", "")
                findings.append(
                    Finding(
                        f"stack {part}",
                        False,
                        f"{name} is {stack['StackStatus']}{': ' + reason if reason else ''}; "
                        "see docs/runbooks/failed-deploy.md",
                    )
                )
            else:
                start = self.cloudformation.detect_stack_drift(StackName=name)
                detections[part] = start["StackDriftDetectionId"]
        findings += self._drift_results(detections)
        return sorted(findings, key=lambda f: STACK_PARTS.index(f.check.split()[1]))

    def _drift_results(self, detections: dict[str, str]) -> list[Finding]:
        findings: list[Finding] = []
        pending = dict(detections)
        start = self.clock.monotonic()
        while pending:
            for part, detection in list(pending.items()):
                status = self.cloudformation.describe_stack_drift_detection_status(
                    StackDriftDetectionId=detection
                )
                if status["DetectionStatus"] == "DETECTION_IN_PROGRESS":
                    continue
                del pending[part]
                findings.append(self._drift_finding(part, status))
            if pending and self._deadline_passed(start):
                for part in pending:
                    findings.append(
                        Finding(
                            f"stack {part}",
                            False,
                            f"drift detection of {stack_name(self.cfg.name, part)} did not "
                            f"finish in {self.options.wait_seconds:g} s; run verify again",
                        )
                    )
                break
            if pending:
                self.clock.sleep(self.options.poll_seconds)
        return findings

    def _drift_finding(self, part: str, status: dict[str, Any]) -> Finding:
        name = stack_name(self.cfg.name, part)
        check = f"stack {part}"
        if status["DetectionStatus"] == "DETECTION_FAILED":
            reason = status.get("DetectionStatusReason", "")
            return Finding(check, False, f"drift detection of {name} failed: {reason}")
        drift = status.get("StackDriftStatus", "UNKNOWN")
        if drift == "IN_SYNC":
            return Finding(check, True, f"{name}: {self.stack(part)['StackStatus']}, in sync")  # type: ignore[index]
        resources = self.cloudformation.describe_stack_resource_drifts(
            StackName=name, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"]
        )["StackResourceDrifts"]
        drifted = ", ".join(
            f"{r['LogicalResourceId']} {r['StackResourceDriftStatus']}" for r in resources
        )
        return Finding(
            check,
            False,
            f"{name} is {drift}: {drifted or 'see the console'}; redeploy it or undo the "
            "manual change",
        )

    def target_groups(self) -> list[Finding]:
        outputs = self.outputs("edge")
        if outputs is None:
            return [Finding("target groups", False, "the edge stack is not deployed")]
        elbv2 = self.aws.client("elbv2")
        findings = []
        for tier in ("Frontend", "Backend"):
            arn = outputs[f"{tier}TargetGroupArn"]
            targets = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            healthy = [t for t in targets if t["TargetHealth"]["State"] == "healthy"]
            others = [
                f"{t['Target']['Id']} {t['TargetHealth']['State']}"
                + (f" ({t['TargetHealth']['Reason']})" if t["TargetHealth"].get("Reason") else "")
                for t in targets
                if t["TargetHealth"]["State"] != "healthy"
            ]
            detail = f"{len(healthy)} healthy of {len(targets)}"
            if others:
                detail += ": " + ", ".join(others)
            if not healthy:
                detail += f"; check the pods (kubectl -n {namespace(self.cfg.name)} get pods)"
            findings.append(
                Finding(f"targets {tier.lower()}", bool(healthy) and not others, detail)
            )
        return findings

    def certificate(self) -> list[Finding]:
        outputs = self.outputs("dns")
        if outputs is None:
            return [Finding("certificate", False, "the dns stack is not deployed")]
        described = self.aws.client("acm").describe_certificate(
            CertificateArn=outputs["CertificateArn"]
        )["Certificate"]
        status = described["Status"]
        ok = status == "ISSUED"
        detail = f"{described['DomainName']}: {status}"
        if not ok:
            detail += "; a pending certificate waits for the zone's delegation (README)"
        return [Finding("certificate", ok, detail)]

    def delegation(self) -> list[Finding]:
        outputs = self.outputs("dns")
        if outputs is None:
            return [Finding("dns delegation", False, "the dns stack is not deployed")]
        return [
            check_delegation(
                self.aws.client("route53"),
                outputs["HostedZoneId"],
                self.cfg.domain_name,
                self.parent_lookup,
            )
        ]

    def snapshots(self) -> list[Finding]:
        if self.stack("database") is None:
            return [Finding("backup snapshots", False, "the database stack is not deployed")]
        vault = self.cloudformation.describe_stack_resource(
            StackName=stack_name(self.cfg.name, "database"),
            LogicalResourceId=BACKUP_VAULT_LOGICAL_ID,
        )["StackResourceDetail"]["PhysicalResourceId"]
        pages = self.aws.client("backup").get_paginator("list_recovery_points_by_backup_vault")
        times = [
            point["CreationDate"]
            for page in pages.paginate(BackupVaultName=vault)
            for point in page["RecoveryPoints"]
            if point.get("Status") == "COMPLETED"
        ]
        if not times:
            return [
                Finding("backup snapshots", False, f"vault {vault} has no completed recovery point")
            ]
        newest = max(times)
        ok = self.clock.now() - newest <= self.rpo
        detail = f"newest recovery point in {vault} is {_age(newest, self.clock.now())}"
        if not ok:
            rpo = self.cfg.database.backup.rpo_hours
            detail += f", older than rpo_hours {rpo}; check the AWS Backup jobs"
        return [Finding("backup snapshots", ok, detail)]

    # ---- recovery region (issue 22): the snapshot copies arrive in the locked vault
    def recovery_copies(self) -> list[Finding]:
        site = self.cfg.recovery_site
        if site is None:
            return []
        vault = recovery_vault_name(self.cfg.name)
        check = "recovery copies"
        if site.account != self.cfg.account:
            return [
                Finding(
                    check,
                    True,
                    f"vault {vault} is in account {site.account}: check it with that account's "
                    "credentials (docs/runbooks/region-loss.md)",
                )
            ]
        backup = (self.recovery_aws or Aws(site.region)).client("backup")
        pages = backup.get_paginator("list_recovery_points_by_backup_vault")
        times = [
            point["CreationDate"]
            for page in pages.paginate(BackupVaultName=vault)
            for point in page["RecoveryPoints"]
            if point.get("Status") == "COMPLETED"
        ]
        if not times:
            return [Finding(check, False, f"{site.region} vault {vault} has no completed copy")]
        newest = max(times)
        now = self.clock.now()
        ok = now - newest <= self.rpo
        detail = f"newest copy in {site.region} vault {vault} is {_age(newest, now)}"
        if not ok:
            detail += (
                f", older than rpo_hours {self.cfg.database.backup.rpo_hours}; check the copy "
                "jobs (AWS Backup, Jobs, Copy jobs)"
            )
        return [Finding(check, ok, detail)]

    def pgbackrest(self) -> list[Finding]:
        outputs = self.outputs("database")
        if outputs is None:
            return [Finding("pgbackrest", False, "the database stack is not deployed")]
        instance = outputs["InstanceId"]
        ssm = self.aws.client("ssm")
        # The database stack's document runs `pgbackrest info` and nothing else: no parameters,
        # so the caller needs no right to run arbitrary commands on the host.
        command_id = ssm.send_command(
            InstanceIds=[instance],
            DocumentName=ssm_document_name(self.cfg.name, PGBACKREST_INFO_DOCUMENT),
            Comment="twenty-estate verify: pgbackrest info",
            TimeoutSeconds=60,
        )["Command"]["CommandId"]
        start = self.clock.monotonic()
        while True:
            try:
                result = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
            except ssm.exceptions.InvocationDoesNotExist:
                result = {"Status": "Pending"}
            if result["Status"] not in ("Pending", "InProgress", "Delayed"):
                break
            if self._deadline_passed(start):
                return [
                    Finding(
                        "pgbackrest",
                        False,
                        f"`pgbackrest info` on {instance} did not finish in "
                        f"{self.options.wait_seconds:g} s (command {command_id})",
                    )
                ]
            self.clock.sleep(self.options.poll_seconds)
        if result["Status"] != "Success":
            error = result.get("StandardErrorContent", "").strip().splitlines()
            return [
                Finding(
                    "pgbackrest",
                    False,
                    f"`pgbackrest info` on {instance}: {result['Status']}"
                    + (f": {error[-1]}" if error else ""),
                )
            ]
        return [self._pgbackrest_finding(result.get("StandardOutputContent", ""))]

    # --- streaming standby (issue 21) -------------------------------------------------------
    def replication(self) -> list[Finding]:
        """With a standby: the stable name follows config, and the primary it names has a
        standby streaming within `failover_max_lag_bytes` (so a failover would not refuse)."""
        from infra.ops.failover import find_hosts
        from infra.ops.run_command import Clock as CommandClock
        from infra.ops.run_command import ReplicationCommands

        standby = self.cfg.database.standby
        if not standby.enabled:
            return [Finding("replication", True, "no standby configured")]
        try:
            hosts = find_hosts(self.cfg, self.aws)
        except UnusableError as exc:
            return [Finding("replication", False, str(exc))]
        findings = []
        if hosts.writer != standby.writer:
            findings.append(
                Finding(
                    "replication",
                    False,
                    f"db.{self.cfg.name}.internal names {hosts.writer}, config "
                    f"database.standby.writer says {standby.writer}: commit the line failover "
                    "wrote, or a deploy points the name back",
                )
            )
        commands = ReplicationCommands(
            self.aws.client("ssm"),
            self.cfg.name,
            CommandClock(monotonic=self.clock.monotonic, sleep=self.clock.sleep),
            poll_seconds=self.options.poll_seconds,
        )
        result = commands.run(hosts.instances[hosts.writer], "status", self.options.wait_seconds)
        try:
            status = json.loads(result.stdout) if result.ok else None
        except ValueError:
            status = None
        if not isinstance(status, dict) or status.get("role") != "primary":
            role = status.get("role") if isinstance(status, dict) else result.last_error()
            return [
                *findings,
                Finding(
                    "replication", False, f"{hosts.writer} is not an answering primary ({role})"
                ),
            ]
        streaming = [s for s in status.get("standbys", []) if s.get("state") == "streaming"]
        if not streaming:
            detail = f"no standby streams from {hosts.writer}: python -m infra rebuild-standby"
            return [*findings, Finding("replication", False, detail)]
        lag = max(int(s.get("lag_bytes", 0)) for s in streaming)
        ok = lag <= standby.failover_max_lag_bytes
        detail = f"{streaming[0].get('name')} streams from {hosts.writer}, {lag} bytes behind"
        if not ok:
            detail += f", over failover_max_lag_bytes {standby.failover_max_lag_bytes}"
        return [*findings, Finding("replication", ok, detail)]

    def _pgbackrest_finding(self, output: str) -> Finding:
        try:
            stanzas = json.loads(output)
            stanza = next(s for s in stanzas if s["name"] == STANZA)
        except (ValueError, StopIteration, TypeError, KeyError):
            return Finding("pgbackrest", False, f"no stanza {STANZA} in `pgbackrest info` output")
        status = stanza.get("status", {})
        backups = stanza.get("backup", [])
        if not backups:
            return Finding(
                "pgbackrest", False, f"stanza {STANZA} has no backup: {status.get('message')}"
            )
        stop = max(b["timestamp"]["stop"] for b in backups)
        newest = datetime.fromtimestamp(stop, UTC)
        now = self.clock.now()
        problems = []
        if now - newest > self.rpo:
            problems.append(f"older than rpo_hours {self.cfg.database.backup.rpo_hours}")
        if status.get("code", 0) != 0:
            problems.append(f"stanza status: {status.get('message')}")
        detail = f"newest backup is {_age(newest, now)}"
        # ---- recovery region (issue 22): repo2 must be as fresh as repo1
        if self.cfg.recovery is not None:
            in_repo2 = [
                b["timestamp"]["stop"]
                for b in backups
                if b.get("database", {}).get("repo-key") == 2
            ]
            if not in_repo2:
                problems.append("repo2 (the recovery region) has no backup")
            else:
                newest2 = datetime.fromtimestamp(max(in_repo2), UTC)
                detail += f", in repo2 {_age(newest2, now)}"
                if now - newest2 > self.rpo:
                    problems.append(
                        f"repo2 older than rpo_hours {self.cfg.database.backup.rpo_hours}"
                    )
        if problems:
            detail += "; " + "; ".join(problems) + " (docs/runbooks/database.md)"
        return Finding("pgbackrest", not problems, detail)

    def alarms(self) -> list[Finding]:
        pages = self.aws.client("cloudwatch").get_paginator("describe_alarms")
        firing = [
            alarm
            for page in pages.paginate(
                AlarmNamePrefix=alarm_prefix(self.cfg.name), StateValue="ALARM"
            )
            for alarm in page["MetricAlarms"] + page.get("CompositeAlarms", [])
            # the filter is asked of the API and applied again: some endpoints (moto) drop
            # StateValue when a prefix is given
            if alarm.get("StateValue") == "ALARM"
        ]
        if not firing:
            return [Finding("alarms", True, f"no {alarm_prefix(self.cfg.name)}* alarm in ALARM")]
        return [
            Finding(f"alarm {a['AlarmName']}", False, f"in ALARM: {a.get('StateReason', '')}")
            for a in firing
        ]

    def healthz(self) -> list[Finding]:
        base = self.options.base_url or f"https://{self.cfg.domain_name}"
        url = base.rstrip("/") + "/healthz"
        try:
            with urllib.request.urlopen(url, timeout=self.options.http_timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            return [Finding("healthz", False, f"{url}: {getattr(exc, 'reason', exc)}")]
        return [Finding("healthz", status == 200, f"{url}: HTTP {status}")]


def run_verify(
    cfg: EnvironmentConfig,
    aws: Aws | None = None,
    options: VerifyOptions | None = None,
    clock: Clock | None = None,
    parent_lookup: ParentLookup = dns_parent_delegation,
) -> Report:
    aws = aws or Aws(cfg.region)
    wrong = wrong_account(aws, cfg.account)
    if wrong is not None:
        return Report("verify", cfg.name, (wrong,))
    checks = Verify(cfg, aws, options or VerifyOptions(), clock or Clock(), parent_lookup)
    findings = [Finding("account", True, cfg.account)]
    findings += run_checks(
        [
            ("stacks", checks.stacks),
            ("target groups", checks.target_groups),
            ("certificate", checks.certificate),
            ("dns delegation", checks.delegation),
            ("backup snapshots", checks.snapshots),
            ("pgbackrest", checks.pgbackrest),
            ("recovery copies", checks.recovery_copies),
            ("replication", checks.replication),
            ("alarms", checks.alarms),
            ("healthz", checks.healthz),
        ]
    )
    return Report("verify", cfg.name, tuple(findings))
