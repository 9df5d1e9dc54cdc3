"""Config loading: the committed environments are valid; every bad file gets its exact line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aws_cdk import App

from infra import config
from infra.app import build_app, cdk_context
from infra.cli import main
from infra.config import ConfigError
from tests.conftest import ALL_CONFIGS as CONFIGS
from tests.conftest import ROOT

BAD = ROOT / "tests" / "bad_configs"
CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 150


# Model class names must never reach a user (pydantic's "instance of NetworkConfig").
_CLASS_NAMES = re.compile(
    r"\b(" + "|".join(n for n in dir(config) if n.endswith(("Config", "Package"))) + r")\b"
)


@pytest.mark.parametrize("case", CASES)
def test_bad_config_reports_exact_lines(
    case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m infra validate` (in-process): exit 2, the expected lines, fast, no traceback."""
    monkeypatch.chdir(BAD / case)
    started = time.monotonic()
    code = main(["validate", *(str(p) for p in sorted(Path("config").glob("*.yaml")))])
    elapsed = time.monotonic() - started
    lines = capsys.readouterr().err.splitlines()
    assert code == 2
    assert lines == (BAD / case / "expected.txt").read_text().splitlines()
    assert 1 <= len(lines) <= 3
    assert elapsed < 2
    for line in lines:
        assert re.match(r"config/\w+\.yaml: (line \d+|\(file\)|[\w.\[\]:#@/=+-]+?): \S", line), line
        assert not _CLASS_NAMES.search(line), line
        assert "Traceback" not in line


@pytest.fixture(scope="module")
def empty_app() -> App:
    return App(context=cdk_context())


# The synth path reads files through the same loader as validate, so one case per class of
# problem (reading, wording, names, AWS limits, PostgreSQL ranges, cross-environment checks)
# proves it; every case there would double the corpus's share of the suite's time budget.
SYNTH_PATH_CASES = [
    "billion_laughs",
    "not_utf8",
    "duplicate_key",
    "region_unknown",
    "vpc_ranges_collide",
    "bool_nat_gateways",
    "quoted_volume_size",
    "nan_volume_size",
    "vpc_larger_than_16",
    "eks_public_rfc1918_10",
    "arm_database_type",
    "tag_aws_prefix",
    "domain_too_long_for_acm",
    "health_interval_above_300",
    "pg_work_mem_4tb",
    "environment_named_all",
    "domain_shared_qa_dev",
]


@pytest.mark.parametrize("case", SYNTH_PATH_CASES)
def test_synth_path_reports_the_same_lines_before_building(
    case: str, empty_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """app.py and `python -m infra synth` build through build_app: same lines, nothing built."""
    monkeypatch.chdir(BAD / case)
    env = sorted(Path("config").glob("*.yaml"))[-1].stem
    with pytest.raises(ConfigError) as caught:
        build_app(empty_app, env, config_dir=Path("config"))
    assert caught.value.lines == (BAD / case / "expected.txt").read_text().splitlines()
    assert not empty_app.node.children


def test_seed_values() -> None:
    for n, name in enumerate(["dev", "qa", "prod"]):
        net = CONFIGS[name].network
        assert str(net.vpc_cidr) == f"10.{n}.0.0/16"
        assert [str(s) for s in net.public_subnets] == [f"10.{n}.1.0/24", f"10.{n}.2.0/24"]
        assert [str(s) for s in net.private_subnets] == [f"10.{n}.3.0/24", f"10.{n}.4.0/24"]
    assert [CONFIGS[n].network.nat_gateways for n in ("dev", "qa", "prod")] == [1, 1, 2]
    assert CONFIGS["dev"].domain_name == "mgenialdev.olhai.app.br"
    assert CONFIGS["qa"].domain_name == "mgenialqa.olhai.app.br"
    assert CONFIGS["prod"].domain_name == "mgenial.olhai.app.br"


def test_validate_cli_reports_one_line_and_exits_2() -> None:
    case = BAD / "subnet_outside_vpc"
    result = subprocess.run(
        [sys.executable, "-m", "infra", "validate", "config/qa.yaml"],
        cwd=case,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == (case / "expected.txt").read_text().splitlines()
    assert "Traceback" not in result.stderr


def test_validate_cli_accepts_committed_configs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra", "validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(line.split()[1] for line in result.stdout.splitlines()) == sorted(CONFIGS)


def test_cli_bad_arguments_exit_2_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra", "frobnicate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


REAL_SYNTH_CASE = "pg_work_mem_4tb"


@pytest.fixture(scope="module")
def bad_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the app whose config/dev.yaml sets work_mem beyond PostgreSQL's range: the
    line needs the data shipped inside infra/ (pg_settings), so the copy proves it ships."""
    root = tmp_path_factory.mktemp("bad-checkout")
    for name in ("app.py", "cdk.json"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "infra", root / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(BAD / REAL_SYNTH_CASE / "config", root / "config")
    (root / ".venv").symlink_to(ROOT / ".venv")
    return root


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(cwd)),  # jsii's cache of extracted assemblies
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120
    )


BAD_LINE = (BAD / REAL_SYNTH_CASE / "expected.txt").read_text().splitlines()[0]


def test_infra_synth_reports_bad_config_and_exits_2(bad_checkout: Path) -> None:
    result = _run([sys.executable, "-m", "infra", "synth", "--env", "dev"], bad_checkout)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [BAD_LINE]


@pytest.mark.slow
def test_cdk_synth_reports_bad_config_before_synthesizing(bad_checkout: Path) -> None:
    """The real CDK CLI: our line, then the CLI's own note that the app exited 2."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    result = _run([str(cdk), "synth", "-c", "env=dev", "--no-notices"], bad_checkout)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0] == BAD_LINE, result.stderr
    assert "Traceback" not in result.stderr
    assert not (bad_checkout / "cdk.out" / "manifest.json").exists()


def test_unknown_environment_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.config import load_environment

    with pytest.raises(ConfigError) as caught:
        load_environment("staging")
    assert caught.value.lines == [
        "-c env=staging: no config/staging.yaml; choose one of: dev, prod, qa, or add the file"
    ]
