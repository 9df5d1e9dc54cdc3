"""Streaming replication and failover on two real PostgreSQL servers, from the rendered files.

Two throwaway clusters on 127.0.0.1 play db1 and db2 of prod (the environment with the standby):
each gets the conf.d, pg_hba.conf, init SQL and password script its host would get, with the
subnet of the other host replaced by loopback and the stable name by `localhost` (both servers'
certificates, from the rendered `twenty-db-tls` and one shared CA, cover it and the estate's
names). Everything else is the rendered `twenty-db-replication` script that the failover
command sends through SSM: the standby is cloned by its `rebuild-standby`, Twenty's `pg` driver
writes rows, the primary is killed, `promote` runs, writes are accepted, every committed row is
there (synchronous commit, prod's mode), and `rebuild-standby` turns the old primary into the
standby of the new one.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from infra.config import EnvironmentConfig
from infra.database_host import (
    ADMIN_ROLE,
    APP_ROLE,
    DATABASE_NAME,
    REPLICATION_ROLE,
    RenderedHost,
    render_host,
)
from infra.stacks.database import config_host_inputs
from tests.conftest import CONFIGS
from tests.pg_harness import HostLayoutCluster, require_servers
from tests.test_database_tls import CLIENT, node_with_pg, rendered_database_url, url_for_test

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
WRITER = Path(__file__).resolve().parent / "node" / "twenty_db_writer.js"
ENV = "prod"


def standby_config() -> EnvironmentConfig:
    if ENV not in CONFIGS:
        pytest.skip("prod is not among TWENTY_TEST_ENVS; the standby is prod's")
    cfg = CONFIGS[ENV]
    assert cfg.database.standby.enabled, "prod runs a standby"
    return cfg


def render_member(
    cfg: EnvironmentConfig, member: str, *, peer_port: int, tls: Path, passfile: Path
) -> RenderedHost:
    """`member`'s files with loopback for the other host's subnet and `localhost` for the
    stable name; the TLS directory and password file are the test's."""
    inputs = config_host_inputs(cfg, member)
    assert inputs.replication is not None
    replication = dataclasses.replace(
        inputs.replication,
        peer_cidr="127.0.0.1/32",
        primary_host="localhost",
        primary_port=peer_port,
        tls_directory=str(tls),
        passfile=str(passfile),
    )
    return render_host(
        inputs=dataclasses.replace(inputs, vpc_cidr="127.0.0.1/32", replication=replication),
        database=cfg.database,
    )


@dataclass
class Member:
    name: str
    cluster: HostLayoutCluster
    rendered: RenderedHost
    script: Path

    def replication(self, subcommand: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The rendered twenty-db-replication, pointed at this cluster."""
        return self.cluster.run(
            ["bash", str(self.script), subcommand], env=self.cluster.script_env(), check=check
        )

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.replication("status").stdout)
        return result

    def sql(self, statement: str) -> str:
        return self.cluster.psql(statement, database=DATABASE_NAME)


@dataclass
class Pair:
    cfg: EnvironmentConfig
    members: dict[str, Member]
    ca: Path
    app_password: str
    node: str

    def url(self, member: str) -> str:
        return url_for_test(
            rendered_database_url(ENV).replace("127.0.0.1", "localhost"),
            port=self.members[member].cluster.port,
            password=self.app_password,
            ca_file=self.ca / "ca.crt",
        ).replace("@127.0.0.1:", "@localhost:")

    def client(self, member: str, *statements: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.node, str(CLIENT), "pool", *statements],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin", "PG_DATABASE_URL": self.url(member),
                 "NODE_PATH": str(ROOT / "node_modules")},
        )  # fmt: skip


def _wait(condition: Any, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextmanager
def running_pair(cfg: EnvironmentConfig) -> Iterator[Pair]:
    """db1 running as the primary with the rendered init SQL and passwords; db2 prepared (its
    configuration, certificate and script) but not cloned yet. Both removed afterwards. Also
    used by the failover benchmark (`make failover-bench`)."""
    bin_dir = require_servers()
    node = node_with_pg()
    clusters = {name: HostLayoutCluster.create(bin_dir) for name in ("db1", "db2")}
    shared = clusters["db1"].root
    ca, passfile = shared / "ca", shared / "pgpass"
    passwords = {k: secrets.token_urlsafe(24) for k in ("app", "admin", "replication")}
    try:
        members = {}
        for name, cluster in clusters.items():
            peer = clusters["db2" if name == "db1" else "db1"]
            rendered = render_member(cfg, name, peer_port=peer.port, tls=ca, passfile=passfile)
            script = cluster.root / "twenty-db-replication"
            cluster.write(script, rendered.replication_script, mode=0o755)
            cluster.write(cluster.root / "twenty-db-tls", rendered.tls_script, mode=0o755)
            members[name] = Member(name, cluster, rendered, script)
        # The replication role's password file, as the bootstrap writes it from the secret.
        clusters["db1"].write(passfile, f"*:*:*:{REPLICATION_ROLE}:{passwords['replication']}\n")
        for member in members.values():
            cluster = member.cluster
            cluster.initdb()
            # One CA (the hosts share it through Secrets Manager); each server its certificate,
            # for localhost and the estate's names, as the bootstrap issues it.
            cluster.run(
                ["bash", str(cluster.root / "twenty-db-tls"), str(ca), str(cluster.data),
                 "localhost", "127.0.0.1",
                 *config_host_inputs(cfg, member.name).certificate_names]
            )  # fmt: skip
            cluster.apply(
                postgresql_conf=member.rendered.postgresql_conf,
                pg_hba_conf=member.rendered.pg_hba_conf,
            )
        primary = members["db1"]
        primary.cluster.start()
        primary.cluster.psql(
            primary.rendered.init_sql, variables={"app_role": APP_ROLE, "database": DATABASE_NAME}
        )
        primary.cluster.psql(
            primary.rendered.set_passwords_sql,
            variables={"app_role": APP_ROLE, "admin_role": ADMIN_ROLE},
            env={
                "TWENTY_APP_PASSWORD": passwords["app"],
                "TWENTY_ADMIN_PASSWORD": passwords["admin"],
                "TWENTY_REPLICATION_PASSWORD": passwords["replication"],
            },
        )
        yield Pair(cfg=cfg, members=members, ca=ca, app_password=passwords["app"], node=node)
    finally:
        for cluster in clusters.values():
            cluster.destroy()


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with running_pair(standby_config()) as running:
        yield running


def test_failover_loses_no_committed_row_and_the_old_primary_rejoins(pair: Pair) -> None:
    db1, db2 = pair.members["db1"], pair.members["db2"]

    # The standby: db2 cloned from db1 by the same subcommand the bootstrap runs.
    cloned = db2.replication("rebuild-standby")
    assert "db2 streams from localhost" in cloned.stderr, cloned.stderr
    assert db2.status()["streaming"] is True
    over_tls = "SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)"
    assert db1.cluster.psql(over_tls) == "t"
    primary = db1.status()
    assert [s["name"] for s in primary["standbys"]] == ["db2"]
    assert [(s["name"], s["active"]) for s in primary["slots"]] == [("db2", True)]

    # The stable name verifies on either host (libpq's hostaddr keeps the name for TLS).
    for member in (db1, db2):
        for name, verified in (("db.prod.internal", True), ("db.qa.internal", False)):
            result = _verify_full(pair, member, name)
            assert (result.returncode == 0) is verified, (member.name, name, result.stderr)

    # Prod commits synchronously: the watch turns it on once the standby streams.
    db1.replication("watch")
    assert db1.cluster.psql("SHOW synchronous_standby_names") == "ANY 1 (db1, db2)"
    assert db1.cluster.psql("SELECT sync_state FROM pg_stat_replication") == "quorum"

    # The alarms' metrics, as the publish timer sends them: valid PutMetricData input.
    primary_metrics = _metrics(db1)
    assert primary_metrics["StreamingStandbys"] == 1
    # These servers have no pgBackRest repository, so archive_command fails: the metric (and
    # its alarm) sees it. test_database_server.py's drill archives for real.
    assert primary_metrics["ArchiveFailing"] == 1
    assert 0 <= primary_metrics["ReplicationLagBytes"] < 16 * 1024 * 1024
    assert primary_metrics["SlotRetainedBytes"] >= 0
    assert _metrics(db2) == {"StandbyStreaming": 1, "ReplayBacklogBytes": 0}

    created = pair.client("db1", "CREATE TABLE core.failover_probe (id int PRIMARY KEY)")
    assert created.returncode == 0, created.stderr

    # Twenty's driver writes one commit after another; the primary dies mid-stream.
    writer = subprocess.Popen(
        [pair.node, str(WRITER), "pool", "core.failover_probe", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PG_DATABASE_URL": pair.url("db1"),
             "NODE_PATH": str(ROOT / "node_modules")},
    )  # fmt: skip
    acknowledged: list[int] = []
    try:
        assert writer.stdout is not None
        while len(acknowledged) < 300:
            line = writer.stdout.readline()
            assert line, (
                f"the writer stopped early: {writer.stderr.read() if writer.stderr else ''}"
            )
            acknowledged.append(int(line))
        _wait(
            lambda: int(db2.sql("SELECT count(*) FROM core.failover_probe")) >= 300,
            "rows written through Twenty's driver to appear on the standby",
        )
        killed = time.monotonic()
        db1.cluster.stop("immediate")
        rest, errors = writer.communicate(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    acknowledged += [int(line) for line in rest.split()]
    assert writer.returncode == 1, "the writer must have lost its server"
    assert errors, "the writer reports why it stopped"

    promoted = db2.replication("promote")
    assert "db2 promoted" in promoted.stderr
    accepted = pair.client("db2", "INSERT INTO core.failover_probe VALUES (-1) RETURNING id")
    writable = time.monotonic() - killed
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout) == [{"id": -1}]
    print(f"failover: primary killed to promoted server writable in {writable:.2f} s")

    # Synchronous commit: every row a client was told is committed survived the primary.
    present = {int(i) for i in db2.sql("SELECT id FROM core.failover_probe").split()}
    missing = set(acknowledged) - present
    assert not missing, f"{len(missing)} committed rows lost, e.g. {sorted(missing)[:5]}"
    assert db2.cluster.psql("SHOW synchronous_standby_names") == "", "no standby yet: async"
    assert db2.status()["role"] == "primary"

    # A primary that is not behind is never wiped: db2 (timeline 2) refuses to rebuild from db1.
    db1.cluster.start()  # the old primary comes back, still a primary on timeline 1
    refused = db2.replication("rebuild-standby", check=False)
    assert refused.returncode == 1
    assert "refusing: db2 is a primary on timeline 2" in refused.stderr, refused.stderr

    # The old primary becomes the standby of the new one.
    rebuilt = db1.replication("rebuild-standby")
    assert "db1 streams from localhost" in rebuilt.stderr, rebuilt.stderr
    assert db1.status()["role"] == "standby"
    db2.replication("watch")
    assert db2.cluster.psql("SHOW synchronous_standby_names") == "ANY 1 (db1, db2)"
    after = pair.client("db2", "INSERT INTO core.failover_probe VALUES (-2)")
    assert after.returncode == 0, after.stderr
    _wait(
        lambda: db1.sql("SELECT count(*) FROM core.failover_probe WHERE id = -2") == "1",
        "a row written on the new primary to reach the rebuilt standby",
    )
    # Its data is the new primary's, committed rows included.
    assert int(db1.sql("SELECT count(*) FROM core.failover_probe")) == len(present) + 1

    # A synchronous standby that dies must not block commits: the watch turns it off.
    db1.cluster.stop("immediate")
    _wait(lambda: db2.status()["standbys"] == [], "the primary to notice the standby is gone")
    db2.replication("watch")
    assert db2.cluster.psql("SHOW synchronous_standby_names") == ""
    alone = pair.client("db2", "INSERT INTO core.failover_probe VALUES (-3)")
    assert alone.returncode == 0, alone.stderr


def _verify_full(pair: Pair, member: Member, name: str) -> subprocess.CompletedProcess[str]:
    dsn = (
        f"host={name} hostaddr=127.0.0.1 port={member.cluster.port} dbname={DATABASE_NAME} "
        f"user={APP_ROLE} sslmode=verify-full sslrootcert={pair.ca / 'ca.crt'}"
    )
    return subprocess.run(
        [str(member.cluster.bin_dir / "psql"), "-X", "-At", dsn, "-c", "SELECT 1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={"PGPASSWORD": pair.app_password, "PATH": "/usr/bin:/bin"},
    )


def _metrics(member: Member) -> dict[str, float]:
    """`twenty-db-replication metrics`, checked against botocore's PutMetricData model."""
    data = json.loads(member.replication("metrics").stdout)
    model = botocore.session.get_session().get_service_model("cloudwatch")
    params = {"Namespace": "Twenty/prod/Database", "MetricData": data}
    validate_parameters(params, model.operation_model("PutMetricData").input_shape)
    return {d["MetricName"]: d["Value"] for d in data}


def test_only_the_replication_role_replicates_over_tls(pair: Pair) -> None:
    """pg_hba admits replication for the replication role, over TLS, and nothing else."""
    [db1] = [
        m for m in pair.members.values() if m.replication("is-primary", check=False).returncode == 0
    ]
    port = db1.cluster.port
    plain = subprocess.run(
        [str(db1.cluster.bin_dir / "psql"), "-X", "-At",
         f"host=127.0.0.1 port={port} dbname=postgres user={APP_ROLE} replication=true "
         "sslmode=require", "-c", "IDENTIFY_SYSTEM"],
        capture_output=True, text=True, check=False, timeout=30,
        env={"PGPASSWORD": pair.app_password, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert plain.returncode != 0
    assert "pg_hba.conf rejects replication connection" in plain.stderr, plain.stderr
