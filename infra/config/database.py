"""The EC2 host that runs PostgreSQL, its tuning and its backups."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from infra.config.aws_limits import AwsLimit, gp3, gp3_throughput_per_iops
from infra.config.base import Strict, SubfieldError, check_log_retention
from infra.config.postgres_limits import PostgresSettings

# Ubuntu LTS releases in standard support, and what replaces a retired one.
UBUNTU_RELEASES = ("22.04", "24.04")
# PostgreSQL majors in community support (https://www.postgresql.org/support/versioning/).
POSTGRES_VERSIONS = (14, 15, 16, 17)
_AMI_ID = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
_PG_SIZE = re.compile(r"^\d+(kB|MB|GB|TB)$")


class DatabaseTuningConfig(PostgresSettings):
    """PostgreSQL settings written to conf.d/twenty.conf (seed DB-100/200/300 values); each is
    checked against the server's documented range (postgres_limits)."""

    max_connections: int = Field(
        default=200,
        ge=50,
        description="max_connections; the application role may use all but 20 of them (kept "
        "for the superuser and administration).",
    )
    shared_buffers: str = Field(default="4GB", description="shared_buffers, e.g. 4GB.")
    work_mem: str = Field(default="64MB", description="work_mem per sort/hash, e.g. 64MB.")
    maintenance_work_mem: str = Field(
        default="512MB", description="maintenance_work_mem (VACUUM, CREATE INDEX)."
    )
    effective_cache_size: str = Field(
        default="6GB", description="effective_cache_size: planner's guess of the OS file cache."
    )
    archive_timeout_seconds: int = Field(
        default=60,
        ge=30,
        le=60,
        description="archive_timeout: a WAL segment is switched and archived (asynchronously, "
        "pgBackRest archive-async) at least this often, so it bounds the data a restore from "
        "backups loses: at most 60 (RPO of the backups <= 1 minute); at least 30, because each "
        "switch archives a 16 MB segment, mostly empty on a quiet database.",
    )

    @field_validator("shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size")
    @classmethod
    def _pg_size(cls, value: str) -> str:
        if not _PG_SIZE.match(value):
            raise ValueError(f"{value!r} is not a PostgreSQL size such as 64MB or 4GB")
        return value


class DatabaseBackupConfig(Strict):
    """The two backup layers: EBS snapshots by AWS Backup and pgBackRest to S3."""

    snapshot_retention_days: int = Field(
        default=35, ge=1, le=3650, description="Days AWS Backup keeps each daily volume snapshot."
    )
    pgbackrest_retention_days: int = Field(
        default=35,
        ge=7,
        le=3650,
        description="Days of pgBackRest history kept (full backups and the WAL that follows "
        "them): the furthest back a point-in-time restore can go.",
    )
    bucket_ia_transition_days: int = Field(
        default=30,
        ge=30,
        description="Days after which backup objects move to S3 Standard-IA (30 at least).",
    )
    bucket_noncurrent_expiry_days: int = Field(
        default=30,
        ge=1,
        description="Days S3 keeps overwritten or deleted backup object versions (undo window "
        "for an operator or attacker deleting the repository).",
    )
    rpo_hours: int = Field(
        default=26,
        ge=1,
        le=24 * 35,
        description="Recovery point objective of the backups, hours: `python -m infra verify` "
        "fails when the newest AWS Backup recovery point or pgBackRest backup is older. Both "
        "run daily, so 26 leaves two hours for a running job; WAL archiving bounds the loss "
        "between backups (`tuning.archive_timeout_seconds`).",
    )
    access_log_retention_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Days the server access logs of the backup bucket are kept (who read or "
        "deleted backups).",
    )


# --- streaming standby (issue 21) -------------------------------------------------------------
class DatabaseStandbyConfig(Strict):
    """A second PostgreSQL host in the other zone, streaming from the primary over TLS."""

    enabled: bool = Field(
        default=False,
        description="Run a streaming standby host in the other availability zone (same AMI, "
        "instance type, tuning and volume size as the primary); `python -m infra failover` "
        "promotes it. On in prod, off in dev/qa (it doubles the database's cost).",
    )
    synchronous: bool = Field(
        default=False,
        description="Synchronous commit: a commit returns once the standby has flushed its WAL, "
        "so a failover loses no committed transaction; the price is one round trip between "
        "zones per commit, and writes wait while no standby is connected (the promote script "
        "turns it off on the new primary; `rebuild-standby` turns it back on). Asynchronous: "
        "a failover can lose the last `replication lag` of commits.",
    )
    writer: Literal["db1", "db2"] = Field(
        default="db1",
        description="The host the stable name `db.<env>.internal` points at (the primary): "
        "db1 (in `database.availability_zone`) or db2 (the standby's zone). `python -m infra "
        "failover` moves the name and rewrites this line; commit it, so a deploy keeps it.",
    )
    max_slot_wal_keep_size_gib: int = Field(
        default=10,
        ge=1,
        description="max_slot_wal_keep_size: the most WAL, GiB, the primary keeps for a standby "
        "that stopped reading; beyond it the standby must be rebuilt, and the primary's disk "
        "does not fill. Less than half of `data_volume_size_gib`.",
    )
    failover_max_lag_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=0,
        description="`python -m infra failover` refuses (without --force) to promote a standby "
        "whose received-but-not-replayed WAL, or whose distance behind a still reachable "
        "primary, exceeds this many bytes.",
    )
    lag_alarm_seconds: int = Field(
        default=60, ge=1, description="Alarm when the standby's replay lags more, seconds."
    )
    lag_alarm_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1,
        description="Alarm when the standby is this many bytes of WAL behind the primary.",
    )


# ----------------------------------------------------------------------------------------------


class DatabaseConfig(Strict):
    """The EC2 host that runs PostgreSQL (seeds DB-100/200/300)."""

    instance_type: str = Field(description="EC2 instance type of the database host.")
    availability_zone: str = Field(
        description="Zone of the host and its data volume; one of `availability_zones`. "
        "Changing it replaces the host and strands the volume: see docs/runbooks/database.md."
    )
    ubuntu_release: str = Field(
        default="24.04", description="Ubuntu LTS release of the host (22.04 or 24.04)."
    )
    ami_ids: dict[str, str] = Field(
        description="Canonical Ubuntu amd64 AMI id per region, pinned: a new AMI never replaces "
        "the host by itself. Find the current one with `aws ssm get-parameters --names "
        "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id`."
    )
    ubuntu_mirror: str = Field(
        default="https://mirrors.edge.kernel.org/ubuntu/",
        pattern=r"^https://",
        description="HTTPS Ubuntu archive mirror for packages and security updates; HTTPS so "
        "that the host's egress stays 443-only (the EC2 regional mirrors are HTTP).",
    )
    root_volume_size_gib: Annotated[int, AwsLimit((gp3("Size"),))] = Field(
        default=20,
        ge=8,
        le=1024,
        description="Encrypted gp3 root volume of the host, GiB: OS, packages and logs (the "
        "data lives on the data volume).",
    )
    # gp3 ranges: EC2's own documentation (aws_limits.gp3), not numbers copied here.
    data_volume_size_gib: Annotated[int, AwsLimit((gp3("Size"),))] = Field(
        ge=20, description="gp3 data volume size, GiB (20 at least; EC2 allows up to 65,536)."
    )
    data_volume_iops: Annotated[int, AwsLimit((gp3("Iops"),))] = Field(
        default=3000, description="gp3 IOPS (3,000-80,000)."
    )
    data_volume_throughput_mibps: Annotated[int, AwsLimit((gp3("Throughput"),))] = Field(
        default=125,
        description="gp3 throughput, MiB/s (125-2,000, and at most 0.25 MiB/s per IOPS).",
    )
    postgres_version: int = Field(default=16, description="PostgreSQL major version (14-17).")
    tuning: DatabaseTuningConfig = Field(
        default_factory=DatabaseTuningConfig, description="PostgreSQL settings."
    )
    backup: DatabaseBackupConfig = Field(
        default_factory=DatabaseBackupConfig, description="Backup schedules and retention."
    )
    log_retention_days: int = Field(
        default=90, description="Retention of the PostgreSQL log group in CloudWatch Logs, days."
    )
    standby: DatabaseStandbyConfig = Field(
        default_factory=DatabaseStandbyConfig,
        description="Streaming standby host in the other zone and its failover.",
    )

    @property
    def app_connection_limit(self) -> int:
        """CONNECTION LIMIT of the application role: max_connections less 20 kept for the
        superuser's reserved slots and the admin's sessions."""
        return self.tuning.max_connections - 20

    @model_validator(mode="after")
    def _throughput_within_iops(self) -> DatabaseConfig:
        ratio = gp3_throughput_per_iops()
        most = int(self.data_volume_iops * ratio)
        if self.data_volume_throughput_mibps > most:
            raise SubfieldError(
                [
                    (
                        "data_volume_throughput_mibps",
                        f"{self.data_volume_throughput_mibps} MiB/s is above {most}, the most "
                        f"{self.data_volume_iops} IOPS allow ({ratio} MiB/s per IOPS, "
                        "AWS::EC2::Volume in cfn-lint's schema); lower it or raise "
                        "data_volume_iops",
                    )
                ]
            )
        return self

    @model_validator(mode="after")
    def _standby_consistent(self) -> DatabaseConfig:
        standby = self.standby
        problems: list[tuple[str, str]] = []
        if standby.max_slot_wal_keep_size_gib * 2 > self.data_volume_size_gib:
            problems.append(
                (
                    "standby.max_slot_wal_keep_size_gib",
                    f"{standby.max_slot_wal_keep_size_gib} GiB is more than half the data "
                    f"volume ({self.data_volume_size_gib} GiB); lower it",
                )
            )
        if standby.writer == "db2" and not standby.enabled:
            problems.append(
                ("standby.writer", "is db2 but there is no standby host; set it to db1")
            )
        if problems:
            raise SubfieldError(problems)
        return self

    @field_validator("ubuntu_release")
    @classmethod
    def _ubuntu_supported(cls, value: str) -> str:
        if value not in UBUNTU_RELEASES:
            raise ValueError(
                f"{value!r} is not an Ubuntu LTS release in standard support; use 24.04"
            )
        return value

    @field_validator("postgres_version")
    @classmethod
    def _postgres_supported(cls, value: int) -> int:
        if value not in POSTGRES_VERSIONS:
            raise ValueError(f"{value} is not a PostgreSQL major in community support; use 16")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention_supported(cls, days: int) -> int:
        return check_log_retention(days)

    @field_validator("ami_ids")
    @classmethod
    def _ami_shape(cls, value: dict[str, str]) -> dict[str, str]:
        for region, ami in value.items():
            if not _AMI_ID.match(ami):
                raise ValueError(
                    f"{region}: {ami!r} is not an AMI id such as ami-0abc1234def567890"
                )
        return value
