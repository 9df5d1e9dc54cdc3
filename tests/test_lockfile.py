"""The lock files carry a sha256 hash for every pin and every install requires them; the
lock-hashes step is run for real with pip against a local find-links directory."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from infra.lockfile import LockError, lock, parse_pins
from tests.conftest import ROOT

LOCKS = ("requirements.lock", "requirements-checkov.lock")


def _requirements(text: str) -> dict[str, list[str]]:
    """Each requirement of a lock with its hashes (continuation lines joined)."""
    joined = text.replace("\\\n", " ")
    found = {}
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, *options = line.split()
        found[spec] = [o.removeprefix("--hash=") for o in options]
    return found


@pytest.mark.parametrize("name", LOCKS)
def test_every_pin_has_a_sha256_hash(name: str) -> None:
    requirements = _requirements((ROOT / name).read_text())
    assert len(requirements) > 20
    for spec, hashes in requirements.items():
        assert re.fullmatch(r"[A-Za-z0-9._-]+==\S+", spec), spec
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), spec


def test_lock_covers_requirements_txt() -> None:
    locked = {
        p.key for p in parse_pins((ROOT / "requirements.lock").read_text(), "requirements.lock")
    }
    wanted = parse_pins((ROOT / "requirements.txt").read_text(), "requirements.txt")
    missing = [f"{p.name}=={p.version}" for p in wanted if p.key not in locked]
    assert missing == [], "run `make lock`"


def test_every_install_requires_hashes() -> None:
    """Make installs the locks (the .ci/run and workflow paths go through make)."""
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    from_locks = [line for line in installs if ".lock" in line]
    assert len(from_locks) == 2
    assert all("--require-hashes" in line for line in from_locks)
    # The one install without hashes is make lock's resolution of requirements.txt.
    others = [line for line in installs if line not in from_locks]
    assert all("-r requirements.txt" in line for line in others)
    for workflow in (ROOT / ".github" / "workflows").glob("*.yml"):
        text = workflow.read_text()
        assert "pip install" not in text or "--require-hashes" in text, workflow.name
    assert "pip install" not in (ROOT / ".ci" / "run").read_text()


# ---------------------------------------------------------------- lock-hashes with real pip


def _wheel(directory: Path, name: str, version: str, payload: str) -> Path:
    """A minimal valid pure-Python wheel."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": payload,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _pip_env(find_links: Path) -> dict[str, str]:
    """pip against the local directory only: no index, no configured find-links."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(find_links),
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


def _install(lock_file: Path, target: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps",
         "--target", str(target), "-r", str(lock_file)],
        capture_output=True, text=True, check=False, env=env, timeout=120,
    )  # fmt: skip


def test_lock_hashes_then_install_and_refuse_a_changed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    _wheel(index, "alpha_pkg", "1.0.0", "A = 1\n")
    _wheel(index, "beta_pkg", "2.1", "B = 2\n")
    pins = tmp_path / "pins.txt"
    pins.write_text("# pip freeze\nbeta-pkg==2.1\nalpha_pkg==1.0.0\n")
    env = _pip_env(index)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith("PIP_") and k not in env]:
        monkeypatch.delenv(key)
    out = tmp_path / "requirements.lock"
    assert lock(pins, out) == 2
    text = out.read_text()
    assert text.index("alpha_pkg==1.0.0") < text.index("beta-pkg==2.1")
    # A hashed lock is valid input too (make lock re-hashes the checkov lock in place).
    assert [p.key for p in parse_pins(text, "lock")] == [
        ("alpha-pkg", "1.0.0"),
        ("beta-pkg", "2.1"),
    ]
    first = _install(out, tmp_path / "site", env)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "site" / "alpha_pkg" / "__init__.py").read_text() == "A = 1\n"
    # The same name and version with other content: pip refuses it.
    _wheel(index, "alpha_pkg", "1.0.0", "A = 'tampered'\n")
    second = _install(out, tmp_path / "site2", env)
    assert second.returncode != 0 and "HASH" in second.stderr.upper()


def test_unpinned_line_is_refused_with_its_line_number() -> None:
    with pytest.raises(LockError, match=r"pins.txt:2: 'boto3>=1' is not an exact pin"):
        parse_pins("jinja2==3.1.6\nboto3>=1\n", "pins.txt")


def test_missing_pins_file_exits_2(tmp_path: Path) -> None:
    from infra.cli import main

    assert main(["lock-hashes", "--pins", str(tmp_path / "none"), "--output", "x"]) == 2


def test_pin_keys_are_canonical() -> None:
    (pin,) = parse_pins("Ruamel.Yaml==0.19.1\n", "x")
    assert pin.key == (canonicalize_name("ruamel.yaml"), "0.19.1")
