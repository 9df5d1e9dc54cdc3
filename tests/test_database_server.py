"""The rendered PostgreSQL configuration, init SQL and pgBackRest configuration on real servers.

Each environment's conf.d file and pg_hba.conf go into a throwaway cluster of the Debian
PostgreSQL server; the init SQL and the password script run exactly as the host's bootstrap runs
them. The backup drills drive the real pgBackRest with the rendered pgbackrest.conf, its
repositories moved from S3 to local directories: a restore of every committed transaction in
tests/test_rto_drill.py, a point-in-time restore from repo2 alone through the restore document in
tests/test_pgbackrest_repo2.py (which use this module's helpers).

The settings are applied as configured, shared_buffers (4GB) included: PostgreSQL maps shared
memory lazily, so the test machine needs the address space, not 4 GiB of free memory. The test
server is the Debian release's PostgreSQL (15 on bookworm) while the host runs
`database.postgres_version` (16): every setting and statement used exists in both.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.config import EnvironmentConfig
from infra.database_host import (
    ADMIN_ROLE,
    APP_ROLE,
    DATABASE_NAME,
    STANZA,
    RenderedHost,
    render_host,
)
from infra.stacks.database import config_host_inputs
from tests.conftest import CONFIGS, ENVIRONMENTS
from tests.pg_harness import Cluster, local_pgbackrest_conf, require_servers


def render_for_loopback(cfg: EnvironmentConfig, *, standalone: bool = False) -> RenderedHost:
    """The environment's files (db1's, from the stack's own inputs), with the VPC range replaced
    by loopback (the test's 'VPC'); the replication settings are tested in
    test_database_replication.py. `standalone`: without the standby's inputs, for the drills
    that run one server (the rest, repo2 included, as the stack renders it)."""
    inputs = dataclasses.replace(
        config_host_inputs(cfg),
        vpc_cidr="127.0.0.1/32",
        backup_bucket_name=f"twenty-{cfg.name}-pgbackrest-test",
    )
    if standalone:
        inputs = dataclasses.replace(inputs, replication=None)
    return render_host(inputs=inputs, database=cfg.database)


def bootstrap(cluster: Cluster, rendered: RenderedHost, passwords: dict[str, str]) -> None:
    """What twenty-db-bootstrap does once the server runs: init SQL, then the passwords."""
    cluster.psql(rendered.init_sql, variables={"app_role": APP_ROLE, "database": DATABASE_NAME})
    cluster.psql(
        rendered.set_passwords_sql,
        variables={"app_role": APP_ROLE, "admin_role": ADMIN_ROLE},
        env={
            "TWENTY_APP_PASSWORD": passwords["app"],
            "TWENTY_ADMIN_PASSWORD": passwords["admin"],
            # prod's files also set the replication role's (test_database_replication.py).
            "TWENTY_REPLICATION_PASSWORD": passwords.get("replication", "replication-unused"),
        },
    )


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[EnvironmentConfig, Cluster, dict]]:
    bin_dir = require_servers()
    cfg = CONFIGS[request.param]
    rendered = render_for_loopback(cfg)
    cluster = Cluster.create(bin_dir)
    passwords = {"app": secrets.token_urlsafe(24), "admin": secrets.token_urlsafe(24)}
    try:
        cluster.initdb()
        cluster.apply(postgresql_conf=rendered.postgresql_conf, pg_hba_conf=rendered.pg_hba_conf)
        cluster.start()
        bootstrap(cluster, rendered, passwords)
        # The bootstrap runs at every boot: a second run must change nothing and not fail.
        bootstrap(cluster, rendered, passwords)
        yield cfg, cluster, passwords
    finally:
        cluster.destroy()


def test_show_returns_configured_values(server) -> None:
    cfg, cluster, _ = server
    tuning = cfg.database.tuning
    expected = {
        "max_connections": str(tuning.max_connections),
        "shared_buffers": tuning.shared_buffers,
        "work_mem": tuning.work_mem,
        "maintenance_work_mem": tuning.maintenance_work_mem,
        "effective_cache_size": tuning.effective_cache_size,
        "ssl": "on",
        "ssl_min_protocol_version": "TLSv1.2",
        "password_encryption": "scram-sha-256",
        "wal_level": "replica",
        "archive_mode": "on",
        "listen_addresses": "localhost",
    }
    for name, value in expected.items():
        assert cluster.psql(f"SHOW {name}") == value, name
    archive_timeout = cluster.psql("SELECT setting FROM pg_settings WHERE name='archive_timeout'")
    assert int(archive_timeout) == tuning.archive_timeout_seconds
    assert cluster.psql("SHOW archive_command") == f"pgbackrest --stanza={STANZA} archive-push %p"


def test_extensions_exist_in_the_application_database(server) -> None:
    _, cluster, _ = server
    installed = cluster.psql("SELECT extname FROM pg_extension ORDER BY 1", database="twenty")
    assert {"uuid-ossp", "unaccent"} <= set(installed.split())
    assert cluster.psql("SELECT uuid_generate_v4() IS NOT NULL", database="twenty") == "t"
    assert cluster.psql("SELECT unaccent('São Paulo')", database="twenty") == "Sao Paulo"


def test_app_role_connects_with_scram_over_tls(server) -> None:
    _, cluster, passwords = server
    result = cluster.tcp(
        "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        user=APP_ROLE,
        password=passwords["app"],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "twenty|t"
    stored = cluster.psql(f"SELECT rolpassword FROM pg_authid WHERE rolname = '{APP_ROLE}'")
    assert stored.startswith("SCRAM-SHA-256$")


def test_wrong_password_and_plain_tcp_are_refused(server) -> None:
    _, cluster, passwords = server
    wrong = cluster.tcp("SELECT 1", user=APP_ROLE, password="not-the-password")
    assert wrong.returncode != 0
    assert "password authentication failed" in wrong.stderr
    plain = cluster.tcp("SELECT 1", user=APP_ROLE, password=passwords["app"], sslmode="disable")
    assert plain.returncode != 0
    assert "rejects connection" in plain.stderr or "no pg_hba.conf entry" in plain.stderr


def test_app_role_cannot_create_roles_but_owns_its_database(server) -> None:
    _, cluster, passwords = server
    denied = cluster.tcp("CREATE ROLE intruder", user=APP_ROLE, password=passwords["app"])
    assert denied.returncode != 0
    assert "permission denied to create role" in denied.stderr
    flags = cluster.psql(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
        f"FROM pg_roles WHERE rolname = '{APP_ROLE}'"
    )
    assert flags == "f|f|f|f|f"
    # Twenty's migrations create a schema per workspace and their tables.
    migrated = cluster.tcp(
        "CREATE SCHEMA workspace_probe; CREATE TABLE workspace_probe.t (id uuid DEFAULT "
        "uuid_generate_v4()); DROP SCHEMA workspace_probe CASCADE",
        user=APP_ROLE,
        password=passwords["app"],
    )
    assert migrated.returncode == 0, migrated.stderr


def test_admin_role_connects_and_passwords_never_reach_the_log(server) -> None:
    _, cluster, passwords = server
    admin = cluster.tcp(
        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
        user=ADMIN_ROLE,
        password=passwords["admin"],
    )
    assert admin.returncode == 0, admin.stderr
    assert admin.stdout.strip() == "t"
    log = cluster.log.read_text()
    assert passwords["app"] not in log
    assert passwords["admin"] not in log


# --------------------------------------------------------------------------- backup drill


def _count(cluster: Cluster) -> list[int]:
    rows = cluster.psql(
        "SELECT batch, count(*) FROM drill GROUP BY 1 ORDER BY 1", database="twenty"
    )
    return [int(line.split("|")[1]) for line in rows.splitlines()]


def _batch(cluster: Cluster, batch: int, rows: int) -> None:
    cluster.psql(
        f"INSERT INTO drill (batch, payload) SELECT {batch}, md5(g::text) "
        f"FROM generate_series(1, {rows}) g",
        database="twenty",
    )


def _restore(cluster: Cluster, *extra: str) -> None:
    cluster.stop()
    cluster.run(["find", str(cluster.data), "-mindepth", "1", "-delete"])
    assert not any(cluster.data.iterdir()), "the data directory must be empty before restoring"
    cluster.run(["pgbackrest", f"--stanza={STANZA}", "--log-level-console=warn", "restore", *extra])
    cluster.start()
    # Wait for recovery to finish (promotion) before reading.
    deadline = time.monotonic() + 30
    while cluster.psql("SELECT pg_is_in_recovery()") == "t":
        assert time.monotonic() < deadline, "recovery did not finish"
        time.sleep(0.2)


def test_drill_repository_is_the_rendered_one_moved(tmp_path: Path) -> None:
    """Only locations change between the rendered and the drill's configuration."""
    rendered = render_for_loopback(CONFIGS[ENVIRONMENTS[0]]).pgbackrest_conf
    cluster = Cluster(bin_dir=tmp_path, root=tmp_path)
    local = local_pgbackrest_conf(rendered, cluster=cluster)
    kept = (
        "repo1-retention-full-type",
        "repo1-retention-full",
        "compress-type",
        "repo1-bundle",
        "archive-async",
        "start-fast",
    )
    for key in kept:
        line = next(line for line in rendered.splitlines() if line.startswith(f"{key}="))
        assert line in local.splitlines(), key
    assert "repo1-type=s3" in rendered and "repo1-type=posix" in local
