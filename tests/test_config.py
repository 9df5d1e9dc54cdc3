"""Config loading: the committed environments are valid; every bad file gets its exact line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import ConfigError, environment_files, load_all
from tests.conftest import ALL_CONFIGS as CONFIGS
from tests.conftest import ROOT

BAD = ROOT / "tests" / "bad_configs"
CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 12


@pytest.mark.parametrize("case", CASES)
def test_bad_config_reports_exact_lines(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD / case)
    with pytest.raises(ConfigError) as caught:
        load_all(environment_files(Path("config")))
    expected = (BAD / case / "expected.txt").read_text().splitlines()
    assert caught.value.lines == expected


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


def test_cdk_app_reports_bad_config_and_exits_2(tmp_path: Path) -> None:
    """app.py (what `cdk synth` runs) fails with the same line, before synthesizing."""
    shutil.copy(ROOT / "app.py", tmp_path / "app.py")
    shutil.copytree(ROOT / "infra", tmp_path / "infra")
    shutil.copy(ROOT / "cdk.json", tmp_path / "cdk.json")
    shutil.copytree(BAD / "subnet_outside_vpc" / "config", tmp_path / "config")
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env={"CDK_CONTEXT_JSON": '{"env": "qa"}', "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "config/qa.yaml: network.private_subnets[1]: 10.2.4.0/24 is not inside vpc_cidr 10.1.0.0/16"
    ]


def test_unknown_environment_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.config import load_environment

    with pytest.raises(ConfigError) as caught:
        load_environment("staging")
    assert caught.value.lines == [
        "-c env=staging: no config/staging.yaml; choose one of: dev, prod, qa, or add the file"
    ]
