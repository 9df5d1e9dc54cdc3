"""Renders the CRM's Kubernetes manifests (`k8s/*.yaml.j2`) for one environment.

The templates are jinja2; every value that comes from outside (names, ARNs, hosts) is inserted
through the `q` filter (JSON quoting, valid YAML), so CDK tokens survive rendering and become
CloudFormation references in the crm stack. The file name's number gives the deployment phase
(`PHASES`): 0x namespace, 10-14 identity/configuration/secrets/policies, 15-19 the upgrade's
backup gate Job, 2x the migration Job, 3x workloads.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from infra import scaling, twenty
from infra.config import EmailConfig, WorkloadConfig, WorkloadsConfig, smtp_endpoint
from infra.config.workloads import JOB_WAIT_SECONDS
from infra.database_host import STANZA
from infra.naming import namespace, ssm_document_name
from infra.prometheus import TWENTY_METRICS, TWENTY_METRICS_PORT_NAME
from infra.templating import template_environment

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "k8s"
SCRIPT_DIR = TEMPLATE_DIR / "scripts"
# Phase of each template: the last phase whose first number is at most the file's number.
PHASES = {"namespace": 0, "config": 10, "backup": 15, "migration": 20, "workloads": 30}
# Phases holding one Job each, renamed with their spec's digest (a Job's pod template is
# immutable) and awaited by the crm stack before the next phase.
JOB_PHASES = ("backup", "migration")
# The database host's pgBackRest systemd units (infra/database_host.py): the backup gate waits
# for a running one, since pgBackRest takes one backup of a stanza at a time.
BACKUP_UNIT_PREFIX = "twenty-pgbackrest-"
# The migration Job stops (fails) before the deploy stops waiting for it (the crm stack waits
# JOB_WAIT_SECONDS inside one 15-minute Lambda invocation), two minutes earlier for the pod to
# be scheduled and pull the image: a deploy reports the Job's real outcome, never a time-out
# while the Job still runs. A longer upgrade is run by hand (docs/runbooks/upgrade.md).
MIGRATION_DEADLINE_SECONDS = JOB_WAIT_SECONDS - 120
# The backup gate's SSM document: `twenty-<env>-upgrade-backup` (infra.naming.ssm_document_name).
UPGRADE_BACKUP_DOCUMENT = "upgrade-backup"
# Where every Twenty container finds the database host's CA certificate (a Secret volume).
DATABASE_CA_DIRECTORY = "/etc/twenty-database-ca"
DATABASE_CA_FILE = f"{DATABASE_CA_DIRECTORY}/ca.crt"
# TLS options of PG_DATABASE_URL. Twenty passes the URL to node-postgres as `connectionString`,
# whose parsed options override Twenty's own `ssl` (undefined unless PG_SSL_ALLOW_SELF_SIGNED):
# sslmode=verify-full checks the chain and the host name, sslrootcert names the one CA to trust.
# libpq (psql in Twenty's entrypoint) reads the same two parameters.
DATABASE_URL_TLS = f"sslmode=verify-full&sslrootcert={DATABASE_CA_FILE}"
# On SIGTERM the worker waits this long for active AI chat stream jobs before aborting them into
# a retryable state (Twenty's AI_STREAM_SHUTDOWN_DRAIN_MS, default 300000, which "must be lower
# than the pod terminationGracePeriodSeconds"): Twenty's default, set explicitly so the relation
# below holds whatever a later release defaults to. The grace period adds 30 s for the abort,
# the BullMQ close and the process exit.
WORKER_DRAIN_MS = int(
    next(e for e in twenty.contract()["env"] if e["name"] == "AI_STREAM_SHUTDOWN_DRAIN_MS")[
        "default"
    ]
)
WORKER_GRACE_SECONDS = WORKER_DRAIN_MS // 1000 + 30


@dataclass(frozen=True)
class ManifestInputs:
    """Everything the templates need; strings may be CDK tokens (resolved at deploy time)."""

    environment: str
    domain_name: str
    region: str
    workloads: WorkloadsConfig
    secret_store_name: str
    file_bucket_name: str
    redis_host: str
    redis_port: int
    redis_auth_secret: str
    app_secret: str
    encryption_key_secret: str
    database_host: str
    # The host's private IPv4 address: the pods' only PostgreSQL destination (NetworkPolicy).
    database_address: str
    database_port: int
    database_name: str
    database_secret: str
    database_ca_secret: str
    smtp_secret: str
    database_instance_id: str
    frontend_target_group_arn: str
    backend_target_group_arn: str
    public_subnet_cidrs: list[str] = field(default_factory=list)
    private_subnet_cidrs: list[str] = field(default_factory=list)
    email: EmailConfig = field(default_factory=EmailConfig)
    # `targetgroup/<name>/<id>` (CloudWatch's TargetGroup dimension) of each target group; empty:
    # derived from the ARN, which must then be a literal (test inputs).
    frontend_target_group_full_name: str = ""
    backend_target_group_full_name: str = ""

    @property
    def namespace(self) -> str:
        return namespace(self.environment)

    @property
    def migration_job_prefix(self) -> str:
        """`twenty-migrate-<version>`: a new image version is a new Job, run once."""
        version = self.workloads.image_version[:20]
        slug = re.sub(r"[^a-z0-9]+", "-", version.lower()).strip("-")
        return f"twenty-migrate-{slug}"

    @property
    def backup_job_prefix(self) -> str:
        """`twenty-backup-<version>`: the backup gate runs once per release, like the migration."""
        return self.migration_job_prefix.replace("twenty-migrate-", "twenty-backup-", 1)


@dataclass(frozen=True)
class _Deployment:
    name: str
    purpose: str
    workload: WorkloadConfig
    service_account: str
    tier: str
    http: bool
    front: bool = False
    command: list[str] | None = None
    # AI_STREAM_SHUTDOWN_DRAIN_MS (the worker's) and terminationGracePeriodSeconds.
    drain_ms: int | None = None
    grace_seconds: int = 60


def _deployments(workloads: WorkloadsConfig) -> list[_Deployment]:
    commands = twenty.contract()["commands"]
    server, worker = commands["server"].split(), commands["worker"].split()
    return [
        _Deployment(
            "frontend", "Serves the UI's static files (seed: Service 3001).", workloads.frontend,
            "twenty-frontend", "frontend", http=True, front=True, command=server,
        ),
        # The backend serves the UI's pages too (deep links reach it), so it gets the writable
        # copy of the built UI the server rewrites at boot, as the frontend does.
        _Deployment(
            "backend", "Serves every route of Twenty's server: API, files, UI deep links.",
            workloads.backend, "twenty", "backend", http=True, front=True, command=server,
        ),
        _Deployment(
            "worker", "Runs the background jobs of the BullMQ queues.", workloads.worker,
            "twenty", "backend", http=False, command=worker,
            drain_ms=WORKER_DRAIN_MS, grace_seconds=WORKER_GRACE_SECONDS,
        ),
    ]  # fmt: skip


def migration_script() -> str:
    """The migration Job's shell script, from the contract's commands.

    Setup runs only on a fresh database (Twenty's migrations table does not exist yet), probed
    with node and the image's own `pg` module (k8s/scripts/database-is-fresh.js; the image is
    not known to contain psql). Twenty's upgrade runs between two cache flushes, as its own
    entrypoint does: cached metadata of the old version must neither feed the upgrade nor
    outlive it. Cron jobs are registered last. Every command is explicit: the estate does not
    rely on the image's entrypoint (its DISABLE_* flags are unverified upstream).
    """
    commands = twenty.contract()["commands"]
    probe = (SCRIPT_DIR / "database-is-fresh.js").read_text()
    if f"'{commands['first_start_marker']}'" not in probe:
        raise ValueError("k8s/scripts/database-is-fresh.js must probe the contract's marker table")
    steps = [
        (
            "setting up the database if it is fresh",
            f'if [ "$fresh" = true ]; then {commands["setup"]}; fi',
        ),
        ("flushing the cache before the upgrade", commands["cache_flush"]),
        ("running Twenty's upgrade", commands["upgrade"]),
        ("flushing the cache after the upgrade", commands["cache_flush"]),
        ("registering the cron jobs", commands["cron_registration"]),
    ]
    lines = [
        "set -eu",
        'echo "twenty-migrate: probing whether the database is fresh"',
        "fresh=$(node - <<'JS'",
        probe.rstrip("\n"),
        "JS",
        ")",
    ]
    for what, command in steps:
        lines += [f'echo "twenty-migrate: {what}"', command]
    return "\n".join(lines) + "\n"


def upgrade_backup_script() -> str:
    """The backup gate's pod script (SSM send-command, then poll until a final status)."""
    return (SCRIPT_DIR / "upgrade-backup.sh").read_text()


def upgrade_backup_host_script() -> str:
    """What the database host runs for the gate: wait for its bootstrap and for a running
    backup, take a pgBackRest backup, print its label."""
    template = _environment().get_template("scripts/upgrade-backup-host.sh.j2")
    return template.render(stanza=STANZA, unit_prefix=BACKUP_UNIT_PREFIX) + "\n"


def upgrade_backup_document_name(environment: str) -> str:
    """The SSM Command document the gate sends (the crm stack creates it with the host script
    as its fixed steps; the gate's role may send nothing else)."""
    return ssm_document_name(environment, UPGRADE_BACKUP_DOCUMENT)


def phase_of(template: Path) -> str:
    """The deployment phase of a `NN-*.yaml.j2` template."""
    number = int(template.name[:2])
    return [name for name, first in PHASES.items() if first <= number][-1]


def _environment() -> jinja2.Environment:
    env = template_environment(TEMPLATE_DIR)
    env.filters["q"] = lambda value: json.dumps(str(value))
    # An External Secrets (Go) template expression, e.g. go(".password") -> {{ .password }}.
    env.globals["go"] = lambda expression: "{{ " + expression + " }}"
    return env


def template_files() -> list[Path]:
    """The templates in deployment order (partials, `_*.j2`, excluded)."""
    return sorted(p for p in TEMPLATE_DIR.glob("*.yaml.j2"))


def render_phases(inputs: ManifestInputs) -> dict[str, list[dict[str, Any]]]:
    """The manifests of each phase, phases in deployment order."""
    env = _environment()
    context = {
        **{k: v for k, v in asdict(inputs).items() if k not in ("workloads", "email")},
        "workloads": inputs.workloads,
        "namespace": inputs.namespace,
        "migration_job_name": inputs.migration_job_prefix,
        "image": inputs.workloads.image,
        "image_version": inputs.workloads.image_version,
        "probe_cfg": inputs.workloads.probes,
        "deployments": _deployments(inputs.workloads),
        "migration_script": migration_script(),
        "migration_deadline_seconds": MIGRATION_DEADLINE_SECONDS,
        "twenty_metrics": TWENTY_METRICS,
        "twenty_metrics_port_name": TWENTY_METRICS_PORT_NAME,
        "database_ca_directory": DATABASE_CA_DIRECTORY,
        "database_url_tls": DATABASE_URL_TLS,
        "email": inputs.email,
        "email_from_address": inputs.email.sender_address(inputs.domain_name),
        "smtp_host": smtp_endpoint(inputs.region),
        "backup_job_name": inputs.backup_job_prefix,
        "upgrade_backup": inputs.workloads.upgrade_backup,
        "upgrade_backup_script": upgrade_backup_script(),
        "keda": _keda_context(inputs),
        "upgrade_backup_document": upgrade_backup_document_name(inputs.environment),
    }
    phases: dict[str, list[dict[str, Any]]] = {name: [] for name in PHASES}
    for path in template_files():
        text = env.get_template(path.name).render(context)
        try:
            documents = [d for d in yaml.safe_load_all(text) if d]
        except yaml.YAMLError as exc:
            raise ValueError(f"{path.name} does not render to valid YAML: {exc}") from None
        phases[phase_of(path)].extend(documents)
    for phase in JOB_PHASES:
        for job in phases[phase]:
            job["metadata"]["name"] += "-" + _spec_digest(job)
    return phases


def _keda_context(inputs: ManifestInputs) -> dict[str, Any]:
    """Names and values of the ScaledObjects and their TriggerAuthentications."""
    return {
        "namespace": scaling.KEDA_NAMESPACE,
        "redis_auth_secret": scaling.REDIS_AUTH_SECRET,
        "redis_trigger_auth": scaling.REDIS_TRIGGER_AUTH,
        "aws_trigger_auth": scaling.AWS_TRIGGER_AUTH,
        "polling_interval": scaling.POLLING_INTERVAL_SECONDS,
        "failure_threshold": scaling.FALLBACK_FAILURE_THRESHOLD,
        "request_period": scaling.REQUEST_METRIC_PERIOD_SECONDS,
        "queue_keys": scaling.queue_keys(),
        "target_groups": {
            "frontend": inputs.frontend_target_group_full_name
            or scaling.target_group_full_name(inputs.frontend_target_group_arn),
            "backend": inputs.backend_target_group_full_name
            or scaling.target_group_full_name(inputs.backend_target_group_arn),
        },
    }


def _spec_digest(job: dict[str, Any]) -> str:
    """Six hex digits of the Job's spec. A Job's pod template is immutable, so any change to it
    (resources, command) must be a new Job rather than a failing `kubectl apply`; the migrations
    it re-runs are idempotent."""
    return hashlib.sha256(json.dumps(job["spec"], sort_keys=True).encode()).hexdigest()[:6]


def job_name(phases: dict[str, list[dict[str, Any]]], phase: str) -> str:
    """Name of the rendered Job of a `JOB_PHASES` phase (the crm stack waits for it)."""
    (job,) = phases[phase]
    name: str = job["metadata"]["name"]
    return name


def migration_job_name(phases: dict[str, list[dict[str, Any]]]) -> str:
    """Name of the rendered migration Job (the crm stack waits for it to succeed)."""
    return job_name(phases, "migration")


def backup_job_name(phases: dict[str, list[dict[str, Any]]]) -> str:
    """Name of the rendered backup gate Job (the migration waits for it to succeed)."""
    return job_name(phases, "backup")


def render_manifests(inputs: ManifestInputs) -> list[dict[str, Any]]:
    """Every manifest of the environment, in deployment order."""
    return [m for ms in render_phases(inputs).values() for m in ms]


def manifest_file_name(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def write_manifests(manifests: list[dict[str, Any]], directory: Path) -> list[Path]:
    """One YAML file per manifest, numbered in deployment order, for review."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    written = []
    for i, manifest in enumerate(manifests):
        path = directory / f"{i:02d}-{manifest_file_name(manifest)}"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        written.append(path)
    return written
