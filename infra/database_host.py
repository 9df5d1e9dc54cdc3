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
_ENV = template_environment(TEMPLATES)


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
    files = (
        HostFile("/etc/twenty-db/postgresql.conf", "0644", postgresql_conf),
        HostFile("/etc/twenty-db/pg_hba.conf", "0644", pg_hba_conf),
        HostFile("/etc/twenty-db/init.sql", "0644", init_sql),
        HostFile("/etc/twenty-db/set-passwords.sql", "0644", set_passwords_sql),
        HostFile("/etc/twenty-db/pgbackrest.conf", "0640", pgbackrest_conf),
        HostFile("/etc/twenty-db/cloudwatch-agent.json", "0644", agent),
        *(HostFile(f"/etc/systemd/system/{name}", "0644", text) for name, text in units.items()),
        HostFile(TLS_SCRIPT, "0750", tls),
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
        cloudwatch_agent_json=agent,
        files=files,
        user_data=user_data,
        restore_script=restore_script,
    )
