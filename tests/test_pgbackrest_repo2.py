"""pgBackRest with two repositories on real servers: repo2 alone restores exactly.

The host's rendered pgbackrest.conf of an environment with a recovery region, both S3
repositories moved to local directories (repo1 = the estate's region, repo2 = the recovery
region). The backups run as the rendered systemd unit runs them (its ExecStart lines, one per
repository); the server's archive_command pushes every WAL segment to both. Then repo1 is
deleted, as a region loss would, and a point-in-time restore from repo2 must return exactly the
rows committed up to the target time, and no later one. That restore is the real one: the
SSM document's command text (infra/restore_document.py) with the parameters substituted, run by
/bin/sh, driving the rendered restore script against the test cluster.
"""

from __future__ import annotations

import json
import shlex
import shutil
import time

from infra.config import EnvironmentConfig
from infra.database_host import (
    APP_ROLE,
    STANZA,
    RenderedHost,
)
from infra.ops.restore import postgres_time, target_time
from infra.restore_document import restore_document, substitute
from tests.conftest import ALL_CONFIGS
from tests.pg_harness import Cluster, local_pgbackrest_conf, require_servers
from tests.test_database_server import _batch, _count, bootstrap, render_for_loopback

CFG = next(c for _, c in sorted(ALL_CONFIGS.items(), reverse=True) if c.recovery is not None)


def render_with_repo2(cfg: EnvironmentConfig) -> RenderedHost:
    """The files of `cfg`'s primary as the stack renders them, repo2 included."""
    assert cfg.recovery is not None
    return render_for_loopback(cfg, standalone=True)


def backup_commands(rendered: RenderedHost, kind: str) -> list[list[str]]:
    """The ExecStart lines of the rendered backup unit of `kind` (full or diff)."""
    [unit] = [f for f in rendered.files if f.path.endswith(f"twenty-pgbackrest-{kind}.service")]
    # systemd allows repeated keys (one ExecStart per repository): read the lines directly.
    lines = [line for line in unit.content.splitlines() if line.startswith("ExecStart=")]
    return [shlex.split(line.removeprefix("ExecStart="))[1:] for line in lines]


def test_rendered_units_back_up_to_both_repositories() -> None:
    rendered = render_with_repo2(CFG)
    for kind in ("full", "diff"):
        commands = backup_commands(rendered, kind)
        assert [c for c in commands if "--repo=1" in c] and [c for c in commands if "--repo=2" in c]
    conf = rendered.pgbackrest_conf
    assert f"repo2-s3-region={CFG.recovery.region}" in conf  # type: ignore[union-attr]
    assert (
        f"repo2-retention-full={CFG.database.backup.pgbackrest_retention_days}" in conf.splitlines()
    )


FENCE_FILE = "zz-twenty-restore-fence.conf"


def run_restore_document(
    cluster: Cluster, rendered: RenderedHost, *, target: str, repo: str
) -> str:
    """The restore document's text for these parameters, run by /bin/sh as the agent would, on
    the test cluster (the TWENTY_* locations replace the host's; pg_ctl replaces systemd)."""
    document = restore_document(rendered.restore_script, repositories=2)
    text = substitute(document, {"target": target, "repo": repo})
    script = cluster.root / "restore-document.sh"
    cluster.write(script, text, mode=0o700)
    result = cluster.run(
        ["sh", str(script)],
        env={
            "TWENTY_PGDATA": str(cluster.data),
            "TWENTY_CONF_DIRECTORY": str(cluster.data / "conf.d"),
            "TWENTY_SERVER_LOG": str(cluster.log),
            "TWENTY_SOCKET_DIRECTORY": str(cluster.socket_dir),
            "TWENTY_PORT": str(cluster.port),
            "TWENTY_PG_CTL_OPTIONS": f"-p {cluster.port} -k {cluster.socket_dir}",
            "TWENTY_RESTORE_WAIT_SECONDS": "60",
        },
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _wal_segments(directory) -> set[str]:
    return {p.name.split("-")[0] for p in directory.rglob("*") if p.is_file() and len(p.name) > 24}


def test_restore_from_repo2_alone_after_repo1_is_lost() -> None:
    bin_dir = require_servers(pgbackrest=True)
    rendered = render_with_repo2(CFG)
    cluster = Cluster.create(bin_dir)
    try:
        conf = local_pgbackrest_conf(rendered.pgbackrest_conf, cluster=cluster)
        assert "repo2-type=posix" in conf and "repo1-type=posix" in conf
        conf_path = cluster.root / "pgbackrest.conf"
        cluster.write(conf_path, conf)
        cluster.env["PGBACKREST_CONFIG"] = str(conf_path)
        cluster.initdb()
        cluster.apply(postgresql_conf=rendered.postgresql_conf, pg_hba_conf=rendered.pg_hba_conf)
        cluster.start()
        bootstrap(cluster, rendered, {"app": "drill-app", "admin": "drill-admin"})
        cluster.run(["pgbackrest", f"--stanza={STANZA}", "stanza-create"])
        cluster.psql(
            "CREATE TABLE drill (id bigserial PRIMARY KEY, batch int NOT NULL, payload text)",
            database="twenty",
        )
        _batch(cluster, 1, 1000)
        for command in backup_commands(rendered, "full"):
            cluster.run(["pgbackrest", *command])
        _batch(cluster, 2, 200)  # after the backups: only WAL replay brings it back
        # pgBackRest picks the backup set by its stop time, kept in whole seconds: the target
        # must be more than a second past the backups (0.3 s failed here once).
        time.sleep(1.1)
        target = cluster.psql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
            """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
        )
        time.sleep(1.1)
        _batch(cluster, 3, 500)
        # check switches the WAL segment and waits until it is archived to every repository.
        cluster.run(["pgbackrest", f"--stanza={STANZA}", "check"])
        assert _count(cluster) == [1000, 200, 500]
        repo1, repo2 = cluster.root / "repo", cluster.root / "repo2"
        for number in (1, 2):
            info = cluster.run(["pgbackrest", f"--stanza={STANZA}", f"--repo={number}", "info"])
            assert "full backup" in info.stdout, f"repo{number} has no full backup"
        wal1, wal2 = _wal_segments(repo1 / "archive"), _wal_segments(repo2 / "archive")
        assert wal2 and wal1 == wal2, "every WAL segment must land in both repositories"

        # Region loss: repo1 is gone. The restore runs as the SSM document runs it: the
        # document's command text with the parameters substituted, under /bin/sh.
        shutil.rmtree(repo1)
        output = run_restore_document(cluster, rendered, target=target, repo="2")
        result = json.loads(output.splitlines()[-1].removeprefix("result "))
        assert _count(cluster) == [1000, 200], "repo2 must return exactly the rows up to the target"
        assert result["in_recovery"] is False and result["tables"] >= 1
        assert result["restored_time"] is not None
        assert postgres_time(result["restored_time"]) <= target_time(target)
        steps = [line.split()[1] for line in output.splitlines() if line.startswith("step ")]
        assert steps == ["stop_writers", "restore", "replay_wal", "check", "start_writers"]
        # The fence is lifted: Twenty's role connects over TCP again.
        assert not (cluster.data / "conf.d" / FENCE_FILE).exists()
        connected = cluster.tcp("SELECT current_user", user=APP_ROLE, password="drill-app")
        assert connected.returncode == 0 and connected.stdout.strip() == APP_ROLE, connected.stderr
    finally:
        cluster.destroy()
