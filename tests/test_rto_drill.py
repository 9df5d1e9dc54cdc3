"""The RTO drill (`make drill`, tests/rto_drill.py) in small: the code path on real servers at
pgbench scale 1, and the arithmetic that turns its figures into prod's RTO estimate."""

from __future__ import annotations

from dataclasses import replace

from tests.conftest import ALL_CONFIGS, ROOT
from tests.rto_drill import END, START, DrillFigures, estimate_rto, render_section, run_drill

PROD = ALL_CONFIGS["prod"]
FIGURES = DrillFigures(
    scale=100,
    database_bytes=1536 * 1024 * 1024,
    wal_bytes=512 * 1024 * 1024,
    generate_seconds=60.0,
    backup_seconds=30.0,
    restore_seconds=12.0,  # 128 MiB/s: above gp3's 125
    replay_seconds=8.0,  # 64 MiB/s
    backup_repo_bytes=200 * 1024 * 1024,
)


def test_small_drill_restores_every_transaction_and_times_each_phase() -> None:
    figures = run_drill(PROD, scale=1, wal_seconds=1, say=lambda _: None)
    assert figures.database_bytes > 10 * 1024 * 1024
    assert figures.wal_bytes > 0
    for seconds in (figures.backup_seconds, figures.restore_seconds, figures.replay_seconds):
        assert seconds > 0
    assert 0 < figures.backup_repo_bytes < figures.database_bytes  # zstd compressed


def test_restore_rate_is_bounded_by_the_volumes_gp3_throughput() -> None:
    basis, _ = estimate_rto(FIGURES, PROD, wal_gib_per_day=10)
    gp3 = PROD.database.data_volume_throughput_mibps
    assert basis["restore_rate"] == gp3  # measured 128 MiB/s, gp3 caps it
    volume_mib = PROD.database.data_volume_size_gib * 1024
    assert basis["restore_minutes"] == volume_mib / gp3 / 60
    assert basis["replay_minutes"] == 10 * 1024 / 64 / 60
    slower = replace(FIGURES, restore_seconds=24.0)  # 64 MiB/s: the drill's rate binds
    assert estimate_rto(slower, PROD, wal_gib_per_day=10)[0]["restore_rate"] == 64


def test_each_failure_kind_is_judged_against_the_seeds_hour() -> None:
    _, estimates = estimate_rto(FIGURES, PROD, wal_gib_per_day=10)
    kinds = [e.failure.split(" (")[0].split(",")[0] for e in estimates]
    assert kinds == ["host loss", "host or volume loss", "AZ loss", "region loss"]
    for estimate in estimates:
        assert estimate.within_seed == (estimate.minutes < 60)
    section = render_section(FIGURES, PROD, wal_gib_per_day=10, when="test")
    assert section.startswith(START) and section.endswith(END)


def test_benchmarks_carry_the_measured_drill() -> None:
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    assert START in text and END in text, "run `make drill` and commit docs/benchmarks.md"
    section = text[text.index(START) : text.index(END)]
    for phase in ("full backup", "restore into an empty data directory", "WAL replay"):
        assert phase in section
    for kind in ("host loss", "AZ loss", "region loss"):
        assert kind in section
