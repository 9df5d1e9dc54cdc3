"""`make failover-bench`: failover time and replication lag on two real PostgreSQL servers.

The pair of tests/test_database_replication.py (prod's rendered files on 127.0.0.1, Twenty's
`pg` driver as the client). Measures, on this machine:
- replication lag while pgbench writes to the primary (TPC-B-like, 4 clients, 20 s), sampled
  every 0.5 s from the primary's pg_stat_replication (what the lag alarms read), in prod's
  synchronous mode and asynchronous;
- the time from the primary's death (`pg_ctl stop -m immediate`) to the promoted standby
  accepting an INSERT from Twenty's driver, over ROUNDS failovers (each followed by a rebuild
  of the dead host into the new standby, also timed).
Prints a Markdown section for docs/benchmarks.md. The suite's fast version is the test file.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any

from tests.conftest import ALL_CONFIGS
from tests.test_database_replication import Member, Pair, running_pair

ROUNDS = 3
PGBENCH_SECONDS = 20
PGBENCH_CLIENTS = 4
SCALE = 10


def _pgbench(member: Member, *args: str) -> str:
    cluster = member.cluster
    result = cluster.run(
        ["pgbench", "-h", str(cluster.socket_dir), "-p", str(cluster.port), *args, "twenty"]
    )
    return result.stdout + result.stderr


def _lag_under_load(primary: Member) -> dict[str, Any]:
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            standbys = primary.status()["standbys"]
            if standbys:
                samples.append((standbys[0]["lag_bytes"], standbys[0]["replay_lag_seconds"]))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        output = _pgbench(
            primary, "-c", str(PGBENCH_CLIENTS), "-j", "2", "-T", str(PGBENCH_SECONDS), "-n"
        )
    finally:
        done.set()
        sampler.join()
    tps = next(
        (
            f"{float(line.split('=')[1].split()[0]):.0f}"
            for line in output.splitlines()
            if line.startswith("tps")
        ),
        "?",
    )
    lag_bytes = [b for b, _ in samples]
    lag_seconds = [s for _, s in samples]
    return {
        "tps": tps,
        "samples": len(samples),
        "bytes_median": statistics.median(lag_bytes),
        "bytes_max": max(lag_bytes),
        "seconds_median": statistics.median(lag_seconds),
        "seconds_max": max(lag_seconds),
    }


def _failover(pair: Pair, old: str, new: str) -> tuple[float, float]:
    """Kill `old`, promote `new`, time until Twenty's driver writes; then rebuild `old`."""
    dead, survivor = pair.members[old], pair.members[new]
    killed = time.monotonic()
    dead.cluster.stop("immediate")
    survivor.replication("promote")
    while True:
        written = pair.client(new, "INSERT INTO core.bench_probe VALUES (DEFAULT)")
        if written.returncode == 0:
            break
        assert time.monotonic() - killed < 60, written.stderr
    writable = time.monotonic() - killed
    started = time.monotonic()
    dead.cluster.start()
    dead.replication("rebuild-standby")
    survivor.replication("watch")
    return writable, time.monotonic() - started


def main() -> None:
    cfg = ALL_CONFIGS["prod"]
    load = os.getloadavg()[0]
    with running_pair(cfg) as pair:
        db1, db2 = pair.members["db1"], pair.members["db2"]
        _pgbench(db1, "-i", "-s", str(SCALE), "-q")
        db2.replication("rebuild-standby")
        db1.replication("watch")
        created = pair.client("db1", "CREATE TABLE core.bench_probe (id serial PRIMARY KEY)")
        assert created.returncode == 0, created.stderr
        sync = _lag_under_load(db1)
        db1.cluster.psql("ALTER SYSTEM SET synchronous_standby_names = ''")
        db1.cluster.psql("SELECT pg_reload_conf()")
        asynchronous = _lag_under_load(db1)
        db1.replication("watch")
        rounds = []
        current, other = "db1", "db2"
        for _ in range(ROUNDS):
            rounds.append(_failover(pair, current, other))
            current, other = other, current
    writable = [w for w, _ in rounds]
    rebuilt = [r for _, r in rounds]
    print("\n".join(_report(db1, load, sync, asynchronous, writable, rebuilt)))


def _lag_row(mode: str, m: dict[str, Any]) -> str:
    return (
        f"| {mode} | {m['tps']} | {m['bytes_median']:.0f} / {m['bytes_max']:.0f} | "
        f"{m['seconds_median']:.3f} / {m['seconds_max']:.3f} |"
    )


def _time_row(what: str, values: list[float]) -> str:
    return f"| {what} | {statistics.median(values):.2f} s | {max(values):.2f} s |"


def _report(
    db1: Member,
    load: float,
    sync: dict[str, Any],
    asynchronous: dict[str, Any],
    writable: list[float],
    rebuilt: list[float],
) -> list[str]:
    version = db1.cluster.bin_dir.parent.name
    return [
        "## Database failover and replication lag (`make failover-bench`)",
        "",
        f"Two PostgreSQL {version} servers on 127.0.0.1 with prod's rendered files "
        "(tests/failover_bench.py; fsync off through eatmydata, as in the test), pgbench "
        f"scale {SCALE}, {PGBENCH_CLIENTS} clients, {PGBENCH_SECONDS} s; load average "
        f"{load:.1f} on the 2-core machine when it started (other work ran beside it). Lag "
        "sampled every 0.5 s from the primary's pg_stat_replication (what the lag alarms read).",
        "",
        "| mode | pgbench tps | lag bytes median / max | replay lag s median / max |",
        "| --- | --- | --- | --- |",
        _lag_row("synchronous (prod)", sync),
        _lag_row("asynchronous", asynchronous),
        "",
        f"| failover ({ROUNDS} rounds) | median | max |",
        "| --- | --- | --- |",
        _time_row("primary killed → promoted standby accepts Twenty's INSERT", writable),
        _time_row("dead host restarted, rebuilt into the new standby, streaming", rebuilt),
    ]


if __name__ == "__main__":
    main()
