"""Renders the database host's files (cloud-init user data and what it installs) from templates.

The same rendering feeds the EC2 user data at synth and the tests that apply the PostgreSQL
configuration, init SQL and pgBackRest configuration to real servers, so what is proven is what
is deployed. Values known only at deploy time (the data volume id, the log group name) are passed
nowhere: the one such value, the data volume id, reaches the host as an instance tag read from
instance metadata, so the user data is a constant of the config and can be compressed at synth.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from infra.config import DatabaseConfig
from infra.naming import ssm_document_name
from infra.templating import template_environment

TEMPLATES = Path(__file__).resolve().parent / "templates" / "database"
STANZA = "twenty"
# What `python -m infra verify` runs on the host (the fixed step of the SSM document
# twenty-<env>-pgbackrest-info): root runs it, pgBackRest reads as postgres.
PGBACKREST_INFO = f"runuser -u postgres -- pgbackrest --stanza={STANZA} --output=json info"
# That document's purpose (infra.naming.ssm_document_name) and execution timeout.
PGBACKREST_INFO_DOCUMENT = "pgbackrest-info"
PGBACKREST_INFO_TIMEOUT_SECONDS = 120
APP_ROLE = "twenty"
ADMIN_ROLE = "postgres"
DATABASE_NAME = "twenty"
PORT = 5432
EXTENSIONS = ("uuid-ossp", "unaccent")
# Instance tag carrying the data volume id (IMDS exposes instance tags when enabled).
DATA_VOLUME_TAG = "TwentyDataVolumeId"
# Where bootstrap.sh mounts the data volume (MOUNT_POINT there); the agent reports its disk use.
DATA_MOUNT_POINT = "/var/lib/postgresql"
# EC2 refuses user data over 16 KiB (before base64).
USER_DATA_LIMIT = 16384
# The host's certificate authority and server certificate (tls.sh.j2): the CA lives 20 years on
# the data volume; the server certificate 2 years, reissued at a boot that finds it within 180
# days of expiry (and when the host's name or address changed).
CA_DAYS = 7300
SERVER_CERTIFICATE_DAYS = 730
RENEW_DAYS = 180
TLS_SCRIPT = "/usr/local/sbin/twenty-db-tls"
# --- streaming standby (issue 21) --------------------------------------------------------------
# The two database hosts: db1 in `database.availability_zone`, db2 (the standby, when
# `database.standby.enabled`) in the other zone. Each is also the name of its replication slot
# and of its application_name on the primary.
MEMBERS = ("db1", "db2")
REPLICATION_ROLE = "twenty_replicator"
REPLICATION_SCRIPT = "/usr/local/sbin/twenty-db-replication"
# Instance tag naming the member the stable name points at (config `database.standby.writer`):
# a host whose volume is blank creates the cluster if it is that member, clones it otherwise.
WRITER_TAG = "TwentyDatabaseWriter"
# Instance tag naming the member an instance is (failover finds the hosts by it).
MEMBER_TAG = "TwentyDatabaseMember"
# The SSM Command documents of the database stack, one per twenty-db-replication subcommand
# that the day-2 commands send (issue 23: no AWS-RunShellScript, no free-form parameter).
REPLICATION_DOCUMENTS = {
    "status": "this host's replication role and figures, as one JSON line",
    "promote": "promote this standby to primary",
    "rebuild-standby": "turn this host into the standby of the primary (wipes its cluster)",
}
# The host's layout for replication (TLS directory on the data volume, the replication
# password file); the tests' loopback servers pass their own.
TLS_DIRECTORY = f"{DATA_MOUNT_POINT}/tls"
REPLICATION_PASSFILE = f"{DATA_MOUNT_POINT}/.pgpass-replication"
# wal_sender_timeout: how soon the primary notices a standby that vanished without closing its
# connection; with the watch timer's period it bounds how long a synchronous primary blocks.
WAL_SENDER_TIMEOUT_SECONDS = 15
WATCH_PERIOD_SECONDS = 10
_ENV = template_environment(TEMPLATES)


def private_zone_name(environment: str) -> str:
    """The environment's private hosted zone (the database's stable names live there)."""
    return f"{environment}.internal"


def writer_name(environment: str) -> str:
    """The stable name of the primary that Twenty connects to: moved by `failover`."""
    return f"db.{private_zone_name(environment)}"


def member_name(environment: str, member: str) -> str:
    """The name of one database host, whatever its role."""
    return f"{member}.{private_zone_name(environment)}"


def replication_document_name(environment: str, subcommand: str) -> str:
    """Name of the SSM document running `twenty-db-replication <subcommand>`."""
    return ssm_document_name(environment, f"db-{subcommand}")


def other_member(member: str) -> str:
    return MEMBERS[1 - MEMBERS.index(member)]


@dataclass(frozen=True)
class ReplicationInputs:
    """Where one host streams from when it is the standby, and who may stream from it."""

    member: str  # db1 or db2
    peer_cidr: str  # the other host's subnet: pg_hba admits the replication role from it only
    primary_host: str  # the stable name (db.<env>.internal) the standby follows
    primary_port: int = PORT
    tls_directory: str = TLS_DIRECTORY
    passfile: str = REPLICATION_PASSFILE


# -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    """A pgBackRest S3 repository other than repo1: its bucket and region."""

    bucket: str
    region: str


@dataclass(frozen=True)
class HostInputs:
    """What the host's files depend on besides the database config."""

    environment: str
    region: str
    vpc_cidr: str
    log_group_name: str
    backup_bucket_name: str
    app_secret_name: str
    admin_secret_name: str
    ca_secret_name: str
    repo2: Repository | None = None
    # --- streaming standby (issue 21): None on an environment without a standby
    replication: ReplicationInputs | None = None
    replication_secret_name: str = ""
    ca_key_secret_name: str = ""
    # the names the server certificate covers besides the host's own (the stable names)
    certificate_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostFile:
    """One file cloud-init writes on the host."""

    path: str
    mode: str
    content: str


@dataclass(frozen=True)
class RenderedHost:
    """Every rendered file, by role, and the cloud-config that carries them."""

    postgresql_conf: str
    pg_hba_conf: str
    init_sql: str
    set_passwords_sql: str
    pgbackrest_conf: str
    bootstrap_script: str
    tls_script: str
    replication_script: str
    cloudwatch_agent_json: str
    files: tuple[HostFile, ...]
    # Not a host file: sent by the SSM document twenty-<env>-restore (infra/restore_document.py).
    restore_script: str
    user_data: str

    def user_data_gzip(self) -> bytes:
        """The user data as EC2 receives it: gzip (cloud-init unpacks it), deterministic."""
        return gzip.compress(self.user_data.encode(), compresslevel=9, mtime=0)

    @property
    def shell_scripts(self) -> dict[str, str]:
        """The shell parts, for shellcheck."""
        return {f.path: f.content for f in self.files if f.content.startswith("#!/bin/bash")}


def metrics_namespace(environment: str) -> str:
    """CloudWatch namespace of the host's agent metrics (memory, swap, disk)."""
    return f"Twenty/{environment}/Database"


def data_directory(postgres_version: int) -> str:
    """Where the cluster lives: on the data volume, mounted at /var/lib/postgresql."""
    return f"/var/lib/postgresql/{postgres_version}/main"


def extensions(database: DatabaseConfig) -> tuple[str, ...]:
    """The extensions created in the application database."""
    return EXTENSIONS


def _cloudwatch_agent_config(inputs: HostInputs, database: DatabaseConfig) -> str:
    """Memory and disk metrics, and the PostgreSQL, pgBackRest and bootstrap logs."""
    pg_log = f"/var/log/postgresql/postgresql-{database.postgres_version}-main.log"
    logs = [
        (pg_log, "postgresql"),
        ("/var/log/pgbackrest/*.log", "pgbackrest"),
        ("/var/log/cloud-init-output.log", "bootstrap"),
    ]
    config = {
        "agent": {"metrics_collection_interval": 60, "run_as_user": "root"},
        "metrics": {
            "namespace": metrics_namespace(inputs.environment),
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "metrics_collected": {
                "mem": {"measurement": ["mem_used_percent", "mem_available"]},
                "swap": {"measurement": ["swap_used_percent"]},
                "disk": {
                    "measurement": ["used_percent", "inodes_free"],
                    "resources": ["/", DATA_MOUNT_POINT],
                },
            },
        },
        "logs": {
            "logs_collected": {
                "files": {
                    "collect_list": [
                        {
                            "file_path": path,
                            "log_group_name": inputs.log_group_name,
                            "log_stream_name": f"{{instance_id}}/{stream}",
                            "timezone": "UTC",
                        }
                        for path, stream in logs
                    ]
                }
            }
        },
    }
    return json.dumps(config, indent=2) + "\n"


def primary_conninfo(replication: ReplicationInputs | None) -> str:
    """libpq connection string a standby streams with: the stable name, verified TLS, SCRAM
    with the password from a file, its own application_name (the synchronous standby name)."""
    if replication is None:
        return ""
    return (
        f"host={replication.primary_host} port={replication.primary_port} "
        f"user={REPLICATION_ROLE} application_name={replication.member} "
        f"sslmode=verify-full sslrootcert={replication.tls_directory}/ca.crt "
        f"passfile={replication.passfile} connect_timeout=5"
    )


def render_host(*, inputs: HostInputs, database: DatabaseConfig) -> RenderedHost:
    """Render every file of the database host and the cloud-config user data carrying them."""
    context = {
        "environment": inputs.environment,
        "region": inputs.region,
        "vpc_cidr": inputs.vpc_cidr,
        "volume_tag": DATA_VOLUME_TAG,
        "bucket": inputs.backup_bucket_name,
        "repo2": inputs.repo2,
        "repos": (1, 2) if inputs.repo2 is not None else (1,),
        "app_secret_name": inputs.app_secret_name,
        "admin_secret_name": inputs.admin_secret_name,
        "ca_secret_name": inputs.ca_secret_name,
        "ca_days": CA_DAYS,
        "server_days": SERVER_CERTIFICATE_DAYS,
        "renew_days": RENEW_DAYS,
        "postgres_version": database.postgres_version,
        "data_directory": data_directory(database.postgres_version),
        "tuning": database.tuning,
        "backup": database.backup,
        "extensions": extensions(database),
        "ubuntu_mirror": database.ubuntu_mirror,
        "stanza": STANZA,
        "app_role": APP_ROLE,
        "admin_role": ADMIN_ROLE,
        "database": DATABASE_NAME,
        "port": PORT,
        # Leave room for the superuser's reserved slots and the admin's sessions.
        "app_connection_limit": database.app_connection_limit,
        # --- streaming standby (issue 21)
        "standby": database.standby,
        "replication": inputs.replication,
        "replication_role": REPLICATION_ROLE,
        "replication_secret_name": inputs.replication_secret_name,
        "ca_key_secret_name": inputs.ca_key_secret_name,
        "certificate_names": inputs.certificate_names,
        "members": MEMBERS,
        "writer_tag": WRITER_TAG,
        "tls_script_path": TLS_SCRIPT,
        "replication_script_path": REPLICATION_SCRIPT,
        "wal_sender_timeout_seconds": WAL_SENDER_TIMEOUT_SECONDS,
        "primary_conninfo": primary_conninfo(inputs.replication),
        "metrics_namespace": metrics_namespace(inputs.environment),
    }

    def render(name: str, **extra: object) -> str:
        return _ENV.get_template(name).render(**context, **extra)

    postgresql_conf = render("postgresql.conf.j2")
    pg_hba_conf = render("pg_hba.conf.j2")
    init_sql = render("init.sql.j2")
    set_passwords_sql = render("set-passwords.sql.j2")
    pgbackrest_conf = render("pgbackrest.conf.j2")
    bootstrap = render("bootstrap.sh.j2")
    tls = render("tls.sh.j2")
    replication = render("replication.sh.j2") if inputs.replication is not None else ""
    agent = _cloudwatch_agent_config(inputs, database)
    units = {
        f"twenty-pgbackrest-{kind}.{suffix}": render(
            f"pgbackrest-backup.{suffix}.j2",
            kind=kind,
            description=description,
            on_calendar=on_calendar,
        )
        for kind, description, on_calendar in (
            ("full", "Weekly full pgBackRest backup", "Sun *-*-* 03:00:00 UTC"),
            ("diff", "Daily differential pgBackRest backup", "Mon..Sat *-*-* 03:00:00 UTC"),
        )
        for suffix in ("service", "timer")
    }
    if inputs.replication is not None:
        units |= {
            f"twenty-db-replication-{subcommand}.{suffix}": render(
                f"replication-unit.{suffix}.j2",
                subcommand=subcommand,
                description=description,
                period_seconds=period,
            )
            for subcommand, description, period in (
                ("watch", "synchronous commit in step with the standby", WATCH_PERIOD_SECONDS),
                ("publish", "replication and archiving metrics to CloudWatch", 60),
            )
            for suffix in ("service", "timer")
        }
    files = (
        HostFile("/etc/twenty-db/postgresql.conf", "0644", postgresql_conf),
        HostFile("/etc/twenty-db/pg_hba.conf", "0644", pg_hba_conf),
        HostFile("/etc/twenty-db/init.sql", "0644", init_sql),
        HostFile("/etc/twenty-db/set-passwords.sql", "0644", set_passwords_sql),
        HostFile("/etc/twenty-db/pgbackrest.conf", "0640", pgbackrest_conf),
        HostFile("/etc/twenty-db/cloudwatch-agent.json", "0644", agent),
        *(HostFile(f"/etc/systemd/system/{name}", "0644", text) for name, text in units.items()),
        HostFile(TLS_SCRIPT, "0750", tls),
        *([HostFile(REPLICATION_SCRIPT, "0755", replication)] if replication else []),
        HostFile("/usr/local/sbin/twenty-db-bootstrap", "0750", bootstrap),
    )
    user_data = render("user-data.yaml.j2", files=files)
    restore_script = render("restore.sh.j2")
    return RenderedHost(
        postgresql_conf=postgresql_conf,
        pg_hba_conf=pg_hba_conf,
        init_sql=init_sql,
        set_passwords_sql=set_passwords_sql,
        pgbackrest_conf=pgbackrest_conf,
        bootstrap_script=bootstrap,
        tls_script=tls,
        replication_script=replication,
        cloudwatch_agent_json=agent,
        files=files,
        user_data=user_data,
        restore_script=restore_script,
    )
