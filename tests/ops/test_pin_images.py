"""pin-images against a fake registry on 127.0.0.1 speaking the Docker Registry v2 protocol:
401 with a Bearer challenge, an anonymous token, HEAD of the manifest with the Accept types,
Docker-Content-Digest; the config gets tag@digest in place and the manifests use it."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from infra.config import load_environment
from infra.manifests import render_manifests
from infra.ops.pin_images import (
    DOCKER_HUB,
    ImageReference,
    RegistryClient,
    RegistryError,
    run_pin_images,
    unpinned_images,
)
from tests.conftest import ROOT
from tests.manifest_inputs import test_inputs

TOKEN = "fake-anonymous-token"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# repository -> tag -> (index digest, single-platform manifest digest)
TAGS = {
    "twentycrm/twenty": {"v2.33.0": (_digest("twenty index"), _digest("twenty amd64"))},
    "aws-cli/aws-cli": {"2.36.43": (_digest("cli index"), _digest("cli amd64"))},
}


class FakeRegistry(BaseHTTPRequestHandler):
    """Docker Hub's flow: anonymous requests get 401 and a Bearer challenge naming the token
    realm; the manifest HEAD answers the index digest only to a client that accepts an index."""

    requests: list[tuple[str, str, dict[str, str]]] = []

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _record(self) -> None:
        FakeRegistry.requests.append((self.command, self.path, dict(self.headers)))

    def do_GET(self) -> None:
        self._record()
        url = urlparse(self.path)
        if url.path != "/token":
            self.send_error(404)
            return
        query = parse_qs(url.query)
        if query.get("service") != ["fake-registry"] or not query["scope"][0].endswith(":pull"):
            self.send_error(400)
            return
        body = json.dumps({"token": TOKEN}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._record()
        parts = self.path.split("/")
        # /v2/<repo...>/manifests/<tag>
        if parts[:2] != ["", "v2"] or "manifests" not in parts:
            self.send_error(404)
            return
        at = parts.index("manifests")
        repository, tag = "/".join(parts[2:at]), parts[at + 1]
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            host, port = self.server.server_address[:2]
            self.send_response(401)
            self.send_header(
                "WWW-Authenticate",
                f'Bearer realm="http://{host}:{port}/token",service="fake-registry",'
                f'scope="repository:{repository}:pull"',
            )
            self.end_headers()
            return
        known = TAGS.get(repository.removeprefix("library/"), {}).get(tag)
        if known is None:
            self.send_response(404)
            self.end_headers()
            return
        index, single = known
        accepts_index = INDEX_TYPE in self.headers.get("Accept", "")
        self.send_response(200)
        self.send_header("Content-Type", INDEX_TYPE if accepts_index else "application/json")
        self.send_header("Docker-Content-Digest", index if accepts_index else single)
        self.end_headers()


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _client(registry: str) -> RegistryClient:
    return RegistryClient({DOCKER_HUB: registry, "public.ecr.aws": registry}, timeout=5)


def test_reference_defaults() -> None:
    hub = ImageReference.parse("twentycrm/twenty:v2.33.0")
    assert (hub.registry, hub.repository, hub.tag) == (DOCKER_HUB, "twentycrm/twenty", "v2.33.0")
    assert ImageReference.parse("redis:7").repository == "library/redis"
    ecr = ImageReference.parse("public.ecr.aws/aws-cli/aws-cli:2.36.43")
    assert (ecr.registry, ecr.repository) == ("public.ecr.aws", "aws-cli/aws-cli")
    digest = _digest("x")
    pinned = ImageReference.parse(f"twentycrm/twenty:v2.33.0@{digest}")
    assert pinned.digest == digest and pinned.tagged == "twentycrm/twenty:v2.33.0"


def test_token_then_head_with_the_index_types(registry: str) -> None:
    FakeRegistry.requests.clear()
    digest = _client(registry).digest(ImageReference.parse("twentycrm/twenty:v2.33.0"))
    assert digest == TAGS["twentycrm/twenty"]["v2.33.0"][0], "the multi-platform index digest"
    methods = [(method, path.split("?")[0]) for method, path, _ in FakeRegistry.requests]
    assert methods == [
        ("HEAD", "/v2/twentycrm/twenty/manifests/v2.33.0"),
        ("GET", "/token"),
        ("HEAD", "/v2/twentycrm/twenty/manifests/v2.33.0"),
    ]
    accept = FakeRegistry.requests[-1][2]["Accept"]
    assert accept.split(", ")[0] == INDEX_TYPE


def test_unknown_tag_is_one_clear_line(registry: str) -> None:
    with pytest.raises(RegistryError, match=r"twentycrm/twenty:v9.9.9: no such tag"):
        _client(registry).digest(ImageReference.parse("twentycrm/twenty:v9.9.9"))


def test_unreachable_registry_is_one_clear_line() -> None:
    client = RegistryClient({DOCKER_HUB: "http://127.0.0.1:9"}, timeout=2)
    with pytest.raises(RegistryError, match="no answer"):
        client.digest(ImageReference.parse("twentycrm/twenty:v2.33.0"))


def test_pin_images_writes_tag_at_digest_and_the_manifests_use_it(
    registry: str, tmp_path: Path
) -> None:
    shutil.copy(ROOT / "config" / "dev.yaml", tmp_path / "dev.yaml")
    before = (tmp_path / "dev.yaml").read_text()
    cfg = load_environment("dev", tmp_path)
    assert len(unpinned_images(cfg)) == 2
    result = run_pin_images(cfg, tmp_path / "dev.yaml", _client(registry))
    assert result.report.exit_code == 0, result.report.as_table()
    assert result.written
    after = (tmp_path / "dev.yaml").read_text()
    twenty = f"twentycrm/twenty:v2.33.0@{TAGS['twentycrm/twenty']['v2.33.0'][0]}"
    cli = f"public.ecr.aws/aws-cli/aws-cli:2.36.43@{TAGS['aws-cli/aws-cli']['2.36.43'][0]}"
    changed = [
        (old, new)
        for old, new in zip(before.splitlines(), after.splitlines(), strict=True)
        if old != new
    ]
    assert [new.strip() for _, new in changed] == [f"image: {twenty}", f"aws_cli_image: {cli}"]
    pinned = load_environment("dev", tmp_path)
    assert unpinned_images(pinned) == []
    images = {
        container["image"]
        for manifest in render_manifests(test_inputs(pinned))
        if manifest["kind"] in ("Deployment", "Job")
        for container in manifest["spec"]["template"]["spec"].get("containers", [])
        + manifest["spec"]["template"]["spec"].get("initContainers", [])
    }
    assert images == {twenty, cli}
    # Pinning again changes nothing.
    again = run_pin_images(pinned, tmp_path / "dev.yaml", _client(registry))
    assert not again.written and "already pinned" in again.report.findings[0].detail


def test_a_failed_lookup_is_a_finding_and_leaves_that_value(registry: str, tmp_path: Path) -> None:
    text = (ROOT / "config" / "dev.yaml").read_text()
    (tmp_path / "dev.yaml").write_text(
        text.replace("aws-cli/aws-cli:2.36.43", "aws-cli/aws-cli:2.0.0")
    )
    cfg = load_environment("dev", tmp_path)
    result = run_pin_images(cfg, tmp_path / "dev.yaml", _client(registry))
    assert result.report.exit_code == 1
    failed = [f for f in result.report.findings if not f.ok]
    assert [f.check for f in failed] == ["workloads.upgrade_backup.aws_cli_image"]
    assert "aws-cli/aws-cli:2.0.0" in (tmp_path / "dev.yaml").read_text()
