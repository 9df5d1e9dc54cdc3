"""Throwaway PostgreSQL clusters and pgBackRest runs for the database host tests.

The servers come from the Debian packages .ci/run installs (postgresql, pgbackrest). They run as
the `postgres` OS user when the suite runs as root (PostgreSQL refuses root), on a free port of
127.0.0.1 with their socket in a temporary directory, so they never meet a system cluster.
"""

from __future__ import annotations

import configparser
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

# Where Debian puts the PostgreSQL servers; TWENTY_PG_BIN_GLOB points elsewhere (another
# layout, or a directory that does not exist to run the suite as on a machine without them).
PG_BIN_GLOB = os.environ.get("TWENTY_PG_BIN_GLOB", "/usr/lib/postgresql/*/bin")
VENV_BIN = Path(sys.executable).parent
"""The virtualenv's bin: tools that exist on PyPI come from requirements.lock, not Debian."""
# Debian package eatmydata: LD_PRELOAD that turns fsync into a no-op.
EATMYDATA = "/usr/lib/x86_64-linux-gnu/libeatmydata.so"


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, if any."""
    candidates = Path("/").glob(PG_BIN_GLOB.lstrip("/"))
    found = sorted(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return next((p for p in reversed(found) if (p / "initdb").exists()), None)


def tool_missing(reason: str) -> NoReturn:
    """Skip a test whose real server or tool is absent; under CI (which installs them) fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run should have installed it")
    pytest.skip(reason)


def debian_tool(name: str, package: str) -> str:
    """The path of `name` from Debian package `package`, or tool_missing."""
    path = shutil.which(name)
    if path is None:
        tool_missing(f"{name} absent: apt-get install -y {package}")
    return path


def venv_tool(name: str, package: str) -> str:
    """The path of `name`, installed into the virtualenv by PyPI package `package` (pinned in
    requirements.lock), or tool_missing with the install line."""
    path = VENV_BIN / name
    if not path.exists():
        tool_missing(f"{name} absent from {VENV_BIN}: pip install -r requirements.lock ({package})")
    return str(path)


def require_servers(*, pgbackrest: bool = False) -> Path:
    """The PostgreSQL bin dir, or skip with the reason (fails under CI, which installs both)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        tool_missing("PostgreSQL server binaries absent: apt-get install -y postgresql")
    if pgbackrest and shutil.which("pgbackrest") is None:
        tool_missing("pgBackRest absent: apt-get install -y pgbackrest")
    return bin_dir


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str], env: dict[str, str] | None = None) -> list[str]:
    """Run as `postgres` when we are root; `env` is passed explicitly, runuser or not."""
    pairs = [f"{k}={v}" for k, v in (env or {}).items()]
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return [*prefix, "env", *pairs, *command]


@dataclass
class Cluster:
    """One throwaway cluster: data directory, socket directory, port, and its environment."""

    bin_dir: Path
    root: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @classmethod
    def create(cls, bin_dir: Path) -> Cluster:
        root = Path(tempfile.mkdtemp(prefix="twenty-pg-"))
        cluster = cls(bin_dir=bin_dir, root=root)
        cluster.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            shutil.chown(cluster.socket_dir, "postgres", "postgres")
        return cluster

    def run(
        self,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        check: bool = True,
        stdin: str | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        merged = {"PATH": f"{self.bin_dir}:/usr/bin:/bin", **self.env, **(env or {})}
        return subprocess.run(
            _as_server_user(command, merged),
            capture_output=True,
            text=True,
            check=check,
            input=stdin,
            timeout=timeout,
        )

    def write(self, path: Path, text: str, mode: int = 0o600) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")
            shutil.chown(path.parent, "postgres", "postgres")

    def initdb(self) -> None:
        """initdb as the host's bootstrap does (checksums, peer locally, UTF-8), plus a cert."""
        self.run(
            [
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--data-checksums",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
        self.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-keyout",
                str(self.data / "server.key"),
                "-out",
                str(self.data / "server.crt"),
            ]
        )

    def apply(self, *, postgresql_conf: str, pg_hba_conf: str) -> None:
        """The rendered conf.d file and pg_hba.conf, in the layout the host uses."""
        self.write(self.data / "conf.d" / "twenty.conf", postgresql_conf)
        self.write(self.data / "pg_hba.conf", pg_hba_conf)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_dir = 'conf.d'\n")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir}"
        result = self.run(
            ["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"],
            check=False,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise AssertionError(f"server did not start: {result.stderr}\n{log}")

    def stop(self, mode: str = "fast") -> None:
        self.run(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"], check=False)

    def psql(
        self,
        sql: str,
        *,
        database: str = "postgres",
        variables: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run SQL (text or a script) over the socket as the postgres superuser (peer auth)."""
        args = [
            "psql",
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-d",
            database,
        ]
        for name, value in (variables or {}).items():
            args += ["-v", f"{name}={value}"]
        result = self.run(args, stdin=sql, env=env, check=False)
        if result.returncode != 0:
            raise AssertionError(f"psql failed ({result.returncode}): {result.stderr}")
        return result.stdout.strip()

    def tcp(
        self,
        sql: str,
        *,
        user: str,
        password: str,
        sslmode: str = "require",
        database: str = "twenty",
    ) -> subprocess.CompletedProcess[str]:
        """Connect as a client of the VPC would: TCP to 127.0.0.1, password, TLS mode."""
        dsn = f"host=127.0.0.1 port={self.port} dbname={database} user={user} sslmode={sslmode}"
        return subprocess.run(
            [str(self.bin_dir / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env={"PGPASSWORD": password, "PATH": "/usr/bin:/bin"},
        )

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
        # pgBackRest's asynchronous archiver may still be finishing and recreate its spool.
        time.sleep(1)
        shutil.rmtree(self.root, ignore_errors=True)


def local_pgbackrest_conf(rendered: str, *, cluster: Cluster) -> str:
    """The rendered pgbackrest.conf with its repositories moved from S3 to local directories.

    Only where things live changes (repository, spool, log, lock, the cluster's path, port and
    socket); retention, compression, bundling and async archiving stay as rendered.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(rendered)
    glob = parser["global"]
    # Every S3 repository (repo1, and repo2 where a recovery region is configured) becomes a
    # directory of its own: repo1 in `repo`, repoN in `repoN`.
    repos = sorted({k.split("-")[0] for k in glob if re.fullmatch(r"repo\d+-type", k)})
    for repo in repos:
        for key in [k for k in glob if k.startswith(f"{repo}-s3-")]:
            del glob[key]
        glob[f"{repo}-type"] = "posix"
    locations = [(f"{repo}-path", "repo" if repo == "repo1" else repo) for repo in repos]
    for key, sub in (
        *locations,
        ("spool-path", "spool"),
        ("log-path", "log"),
        ("lock-path", "lock"),
    ):
        (cluster.root / sub).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(cluster.root / sub, "postgres", "postgres")
        glob[key] = str(cluster.root / sub)
    stanza = next(s for s in parser.sections() if s != "global")
    parser[stanza]["pg1-path"] = str(cluster.data)
    parser[stanza]["pg1-port"] = str(cluster.port)
    parser[stanza]["pg1-socket-path"] = str(cluster.socket_dir)
    out = io.StringIO()
    parser.write(out, space_around_delimiters=False)
    return out.getvalue()


@dataclass
class HostLayoutCluster(Cluster):
    """A cluster laid out as on the Debian host: configuration outside the data directory.

    `pg_ctl -D <etc>` as Debian's pg_ctlcluster does, postgresql.conf there naming the data
    directory, port and socket, the rendered conf.d and pg_hba.conf beside it; so a
    pg_basebackup of the data directory carries no configuration, as on the hosts.
    """

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    def apply(self, *, postgresql_conf: str, pg_hba_conf: str) -> None:
        self.write(
            self.etc / "postgresql.conf",
            f"data_directory = '{self.data}'\nport = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\ninclude_dir = 'conf.d'\n",
            mode=0o644,
        )
        self.write(self.etc / "conf.d" / "twenty.conf", postgresql_conf, mode=0o644)
        self.write(self.etc / "pg_hba.conf", pg_hba_conf, mode=0o644)
        self.write(self.etc / "pg_ident.conf", "", mode=0o644)

    def start(self) -> None:
        result = self.run(
            ["pg_ctl", "-D", str(self.etc), "-l", str(self.log), "-w", "-t", "60", "start"],
            check=False,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise AssertionError(f"server did not start: {result.stderr}\n{log}")

    def stop(self, mode: str = "fast") -> None:
        self.run(["pg_ctl", "-D", str(self.etc), "-m", mode, "-w", "stop"], check=False)

    def run(
        self,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        check: bool = True,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """As Cluster.run, with fsync made a no-op (libeatmydata, when installed) for the
        servers and pg_basebackup started here: a killed server's writes are in the page cache
        either way (the tests kill processes, not the machine), and fsync makes a clone take
        seconds on a busy machine."""
        preload = {"LD_PRELOAD": EATMYDATA} if Path(EATMYDATA).exists() else {}
        return super().run(command, env={**preload, **(env or {})}, check=check, stdin=stdin)

    def script_env(self) -> dict[str, str]:
        """TWENTY_DB_* of the rendered scripts: this cluster instead of the host's layout."""
        return {
            "TWENTY_DB_DATA": str(self.data),
            "TWENTY_DB_SERVICE": "",
            "TWENTY_DB_PG_CTL_DIRECTORY": str(self.etc),
            "TWENTY_DB_LOG": str(self.log),
            "TWENTY_DB_SOCKET": str(self.socket_dir),
            "TWENTY_DB_PORT": str(self.port),
            "TWENTY_DB_WAIT_SECONDS": "30",
        }
