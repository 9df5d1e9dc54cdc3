"""RTO drill: backup, restore and WAL replay timed on real PostgreSQL and pgBackRest.

`make drill` (`python -m tests.rto_drill --scale 100`) generates a database with pgbench on a
throwaway cluster configured as the prod host is (the rendered postgresql.conf and
pgbackrest.conf, repositories moved to local directories), takes a full backup, generates WAL
with a pgbench run after it, then restores into an empty data directory and replays that WAL,
timing each phase. The figures and the arithmetic for prod's volume on gp3 go into
docs/benchmarks.md between the drill's markers. tests/test_rto_drill.py runs the same drill at
scale 1 in the suite (the code path, not the figures).
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.config import EnvironmentConfig, load_environment
from infra.database_host import STANZA, RenderedHost
from tests.pg_harness import Cluster, local_pgbackrest_conf, require_servers
from tests.test_database_server import render_for_loopback

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- rto-drill:start -->", "<!-- rto-drill:end -->"
MIB = 1024 * 1024
GIB = 1024 * MIB
LONG = 3600  # bound of one phase of a large drill, seconds
# Every committed pgbench transaction changes one account's balance and adds a history row.
STATE = (
    "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_history)"
)


@dataclass(frozen=True)
class DrillFigures:
    """What one drill measured: sizes in bytes, durations in seconds."""

    scale: int
    database_bytes: int
    wal_bytes: int
    generate_seconds: float
    backup_seconds: float
    restore_seconds: float
    replay_seconds: float
    backup_repo_bytes: int

    @property
    def backup_mibps(self) -> float:
        return self.database_bytes / MIB / self.backup_seconds

    @property
    def restore_mibps(self) -> float:
        return self.database_bytes / MIB / self.restore_seconds

    @property
    def replay_mibps(self) -> float:
        return self.wal_bytes / MIB / self.replay_seconds


def rendered_prod_like(cfg: EnvironmentConfig) -> RenderedHost:
    """The files of `cfg`'s primary as the stack renders them, for one server on loopback."""
    return render_for_loopback(cfg, standalone=True)


def _timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def _directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_drill(
    cfg: EnvironmentConfig, *, scale: int, wal_seconds: int, say: Callable[[str], None] = print
) -> DrillFigures:
    """One drill on a throwaway cluster; raises if the restore lost a transaction."""
    bin_dir = require_servers(pgbackrest=True)
    rendered = rendered_prod_like(cfg)
    cluster = Cluster.create(bin_dir)
    try:
        conf_path = cluster.root / "pgbackrest.conf"
        cluster.write(conf_path, local_pgbackrest_conf(rendered.pgbackrest_conf, cluster=cluster))
        cluster.env["PGBACKREST_CONFIG"] = str(conf_path)
        cluster.initdb()
        cluster.apply(postgresql_conf=rendered.postgresql_conf, pg_hba_conf=rendered.pg_hba_conf)
        cluster.start()
        cluster.run(["pgbackrest", f"--stanza={STANZA}", "stanza-create"])
        pgbench = ["pgbench", "-h", str(cluster.socket_dir), "-p", str(cluster.port)]
        say(f"drill: generating pgbench scale {scale}")
        generate = _timed(lambda: cluster.run([*pgbench, "-i", "-q", "-s", str(scale), "postgres"]))
        database_bytes = int(cluster.psql("SELECT pg_database_size('postgres')"))
        say(f"drill: full backup of {database_bytes / MIB:.0f} MiB")
        backup = _timed(
            lambda: cluster.run(
                ["pgbackrest", f"--stanza={STANZA}", "--type=full", "backup"], timeout=LONG
            )
        )
        start_lsn = cluster.psql("SELECT pg_current_wal_lsn()")
        say(f"drill: {wal_seconds} s of pgbench transactions (WAL) after the backup")
        cluster.run(
            [*pgbench, "-n", "-c", "2", "-T", str(wal_seconds), "postgres"],
            timeout=wal_seconds + 120,
        )
        wal_bytes = int(
            cluster.psql(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{start_lsn}')")
        )
        expected = cluster.psql(STATE)
        cluster.run(["pgbackrest", f"--stanza={STANZA}", "check"], timeout=LONG)
        cluster.stop()
        cluster.run(["find", str(cluster.data), "-mindepth", "1", "-delete"])
        say("drill: restoring into an empty data directory")
        restore = _timed(
            lambda: cluster.run(
                ["pgbackrest", f"--stanza={STANZA}", "--log-level-console=warn", "restore"],
                timeout=LONG,
            )
        )
        say(f"drill: replaying {wal_bytes / MIB:.0f} MiB of WAL")
        started = time.monotonic()
        cluster.start()
        deadline = started + 3600
        while cluster.psql("SELECT pg_is_in_recovery()") == "t":
            if time.monotonic() > deadline:
                raise AssertionError("WAL replay did not finish in an hour")
            time.sleep(0.2)
        replay = time.monotonic() - started
        restored = cluster.psql(STATE)
        if restored != expected:
            raise AssertionError(f"restore lost transactions: {restored} != {expected}")
        return DrillFigures(
            scale=scale,
            database_bytes=database_bytes,
            wal_bytes=wal_bytes,
            generate_seconds=generate,
            backup_seconds=backup,
            restore_seconds=restore,
            replay_seconds=replay,
            backup_repo_bytes=_directory_bytes(cluster.root / "repo" / "backup"),
        )
    finally:
        cluster.destroy()


@dataclass(frozen=True)
class RtoEstimate:
    """The arithmetic for one failure kind: named phases in minutes, against the < 1 h seed."""

    failure: str
    phases: tuple[tuple[str, float], ...]

    @property
    def minutes(self) -> float:
        return sum(m for _, m in self.phases)

    @property
    def within_seed(self) -> bool:
        return self.minutes < 60


def estimate_rto(
    figures: DrillFigures, cfg: EnvironmentConfig, *, wal_gib_per_day: float
) -> tuple[dict[str, float], list[RtoEstimate]]:
    """Prod's restore time from the measured throughputs, bounded by the volume's gp3 rate.

    The whole data volume is assumed full (the worst case). A restore writes the volume at
    min(measured restore rate, gp3 throughput); replay covers at most one day of WAL (backups
    are daily); host loss keeps the volume (attach to a new host); the fixed phases are named.
    """
    database = cfg.database
    volume_mib = database.data_volume_size_gib * 1024
    gp3 = float(database.data_volume_throughput_mibps)
    restore_rate = min(figures.restore_mibps, gp3)
    replay_rate = min(figures.replay_mibps, gp3)
    restore_minutes = volume_mib / restore_rate / 60
    replay_minutes = wal_gib_per_day * 1024 / replay_rate / 60
    basis = {
        "volume_mib": volume_mib,
        "gp3_mibps": gp3,
        "restore_rate": restore_rate,
        "replay_rate": replay_rate,
        "restore_minutes": restore_minutes,
        "replay_minutes": replay_minutes,
    }
    estimates = [
        RtoEstimate(
            "host loss (volume intact)",
            (("new host from the same template, bootstrap attaches the volume", 10.0),),
        ),
        RtoEstimate(
            "host or volume loss, restore from repo1",
            (
                ("new host and volume (deploy)", 10.0),
                ("pgBackRest restore of the full volume", restore_minutes),
                ("WAL replay, one day at most", replay_minutes),
                ("checks and unfence", 2.0),
            ),
        ),
        RtoEstimate(
            "AZ loss (host in the other zone, restore from repo1)",
            (
                ("config: database.availability_zone to the other zone, deploy", 15.0),
                ("pgBackRest restore of the full volume", restore_minutes),
                ("WAL replay, one day at most", replay_minutes),
                ("checks and unfence", 2.0),
            ),
        ),
        RtoEstimate(
            "region loss (estate deployed in the recovery region, restore from repo2)",
            (
                ("deploy the recovery estate: EKS control plane and node groups dominate", 45.0),
                ("pgBackRest restore of the full volume, from repo2", restore_minutes),
                ("WAL replay, one day at most", replay_minutes),
                ("DNS: delegation to the new zone (TTL 300 s while failing over)", 5.0),
            ),
        ),
    ]
    return basis, estimates


def render_section(
    figures: DrillFigures, cfg: EnvironmentConfig, *, wal_gib_per_day: float, when: str
) -> str:
    basis, estimates = estimate_rto(figures, cfg, wal_gib_per_day=wal_gib_per_day)
    f = figures
    lines = [
        START,
        f"Measured {when} by `make drill` (pgbench scale {f.scale}, the prod host's rendered "
        "postgresql.conf and pgbackrest.conf, zstd level 3, process-max 2, local repository "
        "on this machine's disk, the 2-core machine shared with other work):",
        "",
        "| phase | size | time | throughput |",
        "| --- | --- | --- | --- |",
        f"| pgbench -i (not part of the RTO) | {f.database_bytes / MIB:.0f} MiB | "
        f"{f.generate_seconds:.1f} s | |",
        f"| full backup | {f.database_bytes / MIB:.0f} MiB "
        f"({f.backup_repo_bytes / MIB:.0f} MiB in the repository) | {f.backup_seconds:.1f} s | "
        f"{f.backup_mibps:.1f} MiB/s |",
        f"| restore into an empty data directory | {f.database_bytes / MIB:.0f} MiB | "
        f"{f.restore_seconds:.1f} s | {f.restore_mibps:.1f} MiB/s |",
        f"| WAL replay to the end of the archive | {f.wal_bytes / MIB:.0f} MiB of WAL | "
        f"{f.replay_seconds:.1f} s | {f.replay_mibps:.1f} MiB/s |",
        "",
        f"**Prod's arithmetic.** Data volume {cfg.database.data_volume_size_gib} GiB gp3 at "
        f"{basis['gp3_mibps']:.0f} MiB/s (`database.data_volume_throughput_mibps`), assumed full "
        f"(worst case). Restore rate = min(measured {f.restore_mibps:.1f}, gp3 "
        f"{basis['gp3_mibps']:.0f}) = {basis['restore_rate']:.1f} MiB/s, so "
        f"{basis['volume_mib']:.0f} MiB / {basis['restore_rate']:.1f} MiB/s = "
        f"{basis['restore_minutes']:.1f} min. WAL replay: at most one day since the last daily "
        f"backup, assumed {wal_gib_per_day:g} GiB/day, at min(measured {f.replay_mibps:.1f}, "
        f"gp3) = {basis['replay_rate']:.1f} MiB/s = {basis['replay_minutes']:.1f} min. S3 "
        "download from the same region runs at several hundred MiB/s per host, above gp3's "
        "rate; from repo2 across regions it is the same order (not measured here: no AWS).",
        "",
        "| failure | phases (minutes) | estimated RTO | seed: < 60 min |",
        "| --- | --- | --- | --- |",
    ]
    for estimate in estimates:
        phases = "; ".join(f"{name} {minutes:.0f}" for name, minutes in estimate.phases)
        verdict = "met" if estimate.within_seed else "**not met**"
        lines.append(f"| {estimate.failure} | {phases} | {estimate.minutes:.0f} min | {verdict} |")
    lines.append(END)
    return "\n".join(lines)


def write_section(section: str, path: Path = BENCHMARKS) -> None:
    text = path.read_text()
    if START in text:
        text = re.sub(
            re.escape(START) + ".*?" + re.escape(END), lambda _: section, text, flags=re.S
        )
    else:
        text = text.rstrip("\n") + "\n\n## Restore time (RTO) drill\n\n" + section + "\n"
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.rto_drill", description=__doc__)
    parser.add_argument("--scale", type=int, default=100, help="pgbench scale (100 = 1.5 GiB)")
    parser.add_argument("--wal-seconds", type=int, default=60, help="pgbench run after backup")
    parser.add_argument("--wal-gib-per-day", type=float, default=10.0, help="prod assumption")
    parser.add_argument("--no-write", action="store_true", help="print, leave the docs alone")
    args = parser.parse_args()
    cfg = load_environment("prod")
    figures = run_drill(cfg, scale=args.scale, wal_seconds=args.wal_seconds)
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    section = render_section(figures, cfg, wal_gib_per_day=args.wal_gib_per_day, when=when)
    print(section)
    if not args.no_write:
        write_section(section)
        print(f"wrote {BENCHMARKS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
