"""Fixtures of the operations tests: moto, fake credentials, a deployable copy of a config.

No test here reaches AWS or any address but 127.0.0.1: credentials are fake, instance
metadata is disabled, shared config files are hidden, and DNS lookups are injected fakes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from infra.config import EnvironmentConfig, load_environment
from infra.ops.aws import Aws
from infra.ops.preflight import CANONICAL_OWNER
from tests.conftest import ROOT

ACCOUNT = DEFAULT_ACCOUNT_ID
REGION = "sa-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    # moto's stock AMIs are not needed (tests register their own) and cost seconds per region
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws(REGION)


def deployable_text(env: str = "dev", ami: str = "ami-0123456789abcdef0") -> str:
    """config/<env>.yaml with every committed example value replaced by a usable one."""
    text = (ROOT / "config" / f"{env}.yaml").read_text()
    replacements = {
        '"111111111111"': f'"{ACCOUNT}"',
        '"222222222222"': f'"{ACCOUNT}"',
        '"333333333333"': f'"{ACCOUNT}"',
        "ami-00000000000000000": ami,
        "203.0.113.0/24": "198.51.100.0/24",  # a range the public endpoint can see
        "platform-alerts@example.com": "platform-alerts@twenty-estate.test",
    }
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A config directory whose dev.yaml is deployable (qa and prod stay as committed)."""
    for path in (ROOT / "config").glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "dev.yaml").write_text(deployable_text("dev"))
    return tmp_path


def load(config_dir: Path, env: str = "dev") -> EnvironmentConfig:
    return load_environment(env, config_dir)


def canonical_image(
    aws: Aws, name: str, architecture: str = "x86_64", owner: str = CANONICAL_OWNER
) -> str:
    """An image owned by Canonical in moto. moto registers images in the caller's account
    without their architecture, and its own Canonical images are 14.04/16.04, so owner and
    architecture are set on moto's image record."""
    from moto.ec2.models import ec2_backends

    ec2 = aws.client("ec2")
    image_id = str(
        ec2.register_image(Name=name, Architecture=architecture, RootDeviceName="/dev/sda1")[
            "ImageId"
        ]
    )
    record = ec2_backends[ACCOUNT][REGION].amis[image_id]
    record.owner_id = owner
    record.architecture = architecture
    return image_id


NOBLE = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261101"
