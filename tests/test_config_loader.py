"""What the bad-config corpus cannot show: size limit, FIFOs, speed, defaults, AWS lists."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from infra.config import ConfigError, EnvironmentConfig, aws_names, load_config
from infra.config.yaml_source import MAX_BYTES
from tests.conftest import ROOT

DEV = ROOT / "config" / "dev.yaml"


def _dev() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(DEV.read_text())
    return data


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "dev.yaml"
    path.write_bytes(DEV.read_bytes() + b"#" * MAX_BYTES)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.lines == [
        f"{path}: (file): is larger than 32 KiB, the limit for a config file (ours are a few "
        "KiB); check that this is the right file"
    ]


def test_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "dev.yaml"
    os.mkfifo(path)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.lines == [
        f"{path}: (file): is not a regular file; give the path of a config/<env>.yaml file"
    ]


def test_billion_laughs_exits_2_at_once_from_the_cli() -> None:
    """The real command on the hostile file: one line, exit 2, no time to expand anything."""
    case = ROOT / "tests" / "bad_configs" / "billion_laughs"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "infra", "validate", "config/dev.yaml"],
        cwd=case,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == (case / "expected.txt").read_text().splitlines()
    assert time.monotonic() - started < 10  # interpreter start included; a hang is minutes


def test_partial_probe_keeps_the_documented_defaults() -> None:
    """`startup: {path: ...}` keeps failure_threshold 60, `readiness` its period of 5."""
    data = _dev()
    data["workloads"]["probes"] = {"startup": {"path": "/healthz"}, "readiness": {}}
    probes = EnvironmentConfig.model_validate(data).workloads.probes
    assert probes.startup.failure_threshold == 60
    assert probes.readiness.period_seconds == 5
    assert probes.liveness.failure_threshold == 3


def test_partial_target_group_keeps_its_port_and_user_values_win() -> None:
    data = _dev()
    data["edge"]["frontend"] = {"deregistration_delay_seconds": 10}
    data["edge"]["backend"] = {"port": 3005, "health_check": {"path": "/ready"}}
    edge = EnvironmentConfig.model_validate(data).edge
    assert (edge.frontend.port, edge.frontend.deregistration_delay_seconds) == (3001, 10)
    assert (edge.backend.port, edge.backend.health_check.path) == (3005, "/ready")


def test_environment_tag_is_derived_from_name() -> None:
    data = _dev()
    assert "Environment" not in data["tags"]
    cfg = EnvironmentConfig.model_validate(data)
    assert cfg.tags["Environment"] == "dev"
    assert ("Environment", "dev") in cfg.site.tags


def test_aws_lists_hold_what_the_committed_configs_use() -> None:
    assert {"sa-east-1", "us-east-1", "eu-west-1"} <= aws_names.regions()
    assert "sa-east-9" not in aws_names.regions()
    assert {"t3.medium", "t3.large", "m7i.large"} <= aws_names.ec2_instance_types()
    assert aws_names.availability_zones()["sa-east-1"] == {"sa-east-1a", "sa-east-1b", "sa-east-1c"}
    assert "cache.t4g.micro" in aws_names.cache_node_types()["sa-east-1"]


def test_zone_of_a_region_cfn_lint_does_not_list_follows_the_naming_rule() -> None:
    region = "xx-test-1"
    assert region not in aws_names.availability_zones()
    assert aws_names.zone_problem("xx-test-1a", region) is None
    assert aws_names.zone_problem("xx-test-1az", region) is not None
