"""`python -m infra recovery-config`: prod's stand-in in its recovery region, validated.

The file is generated into a copy of config/ (never committed: every committed environment is
synthesized by every test run); it must load together with every other environment, in the
recovery region and account, with a range no one else uses and subnets at the same offsets.
Its synth was checked by hand (nag on, no lookups); the suite does not pay for a fourth estate.
"""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest

from infra.cli import main
from infra.config import environment_files, load_all
from infra.config.aws_names import availability_zones
from tests.conftest import ALL_CONFIGS, ROOT


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for path in (ROOT / "config").glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_prod_stand_in_is_a_valid_environment_in_the_recovery_region(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recovery-config", "--env", "prod", "--config-dir", str(config_dir)]) == 0
    assert "wrote" in capsys.readouterr().out
    configs = {c.name: c for c in load_all(environment_files(config_dir))}
    prod, stand_in = ALL_CONFIGS["prod"], configs["proddr"]
    assert prod.recovery is not None and stand_in.recovery is not None
    assert stand_in.region == prod.recovery.region
    assert stand_in.account == (prod.recovery.account or prod.account)
    assert set(stand_in.availability_zones) <= availability_zones()[stand_in.region]
    assert stand_in.database.availability_zone == stand_in.availability_zones[0]
    for other in ALL_CONFIGS.values():
        assert not stand_in.network.vpc_cidr.overlaps(other.network.vpc_cidr), other.name
    origin, moved = prod.network.vpc_cidr, stand_in.network.vpc_cidr
    for old, new in zip(
        prod.network.private_subnets, stand_in.network.private_subnets, strict=True
    ):
        offset = int(ipaddress.IPv4Network(old).network_address) - int(origin.network_address)
        assert int(ipaddress.IPv4Network(new).network_address) - int(moved.network_address) == (
            offset
        )
    # Copies of the stand-in go back to the origin's region, as hard-locked as prod's.
    assert stand_in.recovery.region == prod.region
    assert stand_in.recovery.lock_mode == prod.recovery.lock_mode
    assert stand_in.domain_name == prod.domain_name and stand_in.cicd is None
    assert stand_in.database == prod.database.model_copy(
        update={
            "availability_zone": stand_in.availability_zones[0],
            "ami_ids": {stand_in.region: "ami-00000000000000000"},
        }
    )


def test_refusals_are_one_line_exit_2(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recovery-config", "--env", "dev", "--config-dir", str(config_dir)]) == 2
    assert "has no recovery section" in capsys.readouterr().err
    (config_dir / "proddr.yaml").write_text("name: proddr\n")
    assert main(["recovery-config", "--env", "prod", "--config-dir", str(config_dir)]) == 2
    err = capsys.readouterr().err
    assert "exists already" in err and len(err.strip().splitlines()) == 1
    assert (config_dir / "proddr.yaml").read_text() == "name: proddr\n"


def test_an_invalid_result_is_not_kept(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A name the config refuses (too long): the loader's line, exit 2, no file left behind.
    code = main(
        ["recovery-config", "--env", "prod", "--name", "a" * 20, "--config-dir", str(config_dir)]
    )
    assert code == 2
    assert "name" in capsys.readouterr().err
    assert not (config_dir / f"{'a' * 20}.yaml").exists()
