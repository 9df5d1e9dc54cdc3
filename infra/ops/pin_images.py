"""`python -m infra pin-images --env <env>`: pin each container image of the config to the digest
its tag points at now, through the registry's HTTP API (Docker Registry v2 / OCI distribution).

No digest is ever written by hand: the command asks the registry (`HEAD /v2/<repo>/manifests/
<tag>`, anonymous bearer token when the registry asks for one, `Accept` naming the multi-platform
index and manifest-list types first, so the digest is the one every node architecture pulls by)
and writes `repo:tag@sha256:...` into `config/<env>.yaml`, changing those values only. The
manifests then carry the digest, so a re-pushed tag cannot change what runs; `preflight` warns
while an image is unpinned.
"""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML

from infra.config import EnvironmentConfig
from infra.ops.report import Finding, Report, UnusableError

# The images of the config the CRM's manifests run, by their path in config/<env>.yaml.
IMAGE_FIELDS: tuple[tuple[str, ...], ...] = (
    ("workloads", "image"),
    ("workloads", "upgrade_backup", "aws_cli_image"),
)
# Index/list types first: the digest of a multi-platform image is its index's.
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
DOCKER_HUB = "registry-1.docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REFERENCE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9./_:-]*?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class ImageReference:
    """`[registry/]repository:tag[@digest]`, with Docker Hub's defaults applied."""

    text: str
    registry: str
    repository: str
    tag: str
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        match = _REFERENCE.match(text)
        if match is None or not match.group("tag"):
            raise ValueError(f"{text!r} is not an image reference with a tag")
        name = match.group("name")
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, rest
        else:
            registry, repository = DOCKER_HUB, name if "/" in name else f"library/{name}"
        return cls(text, registry, repository, match.group("tag"), match.group("digest"))

    @property
    def tagged(self) -> str:
        """The reference without its digest."""
        return self.text.split("@", 1)[0]

    def pinned(self, digest: str) -> str:
        return f"{self.tagged}@{digest}"


class RegistryError(Exception):
    """The registry refused or did not answer; the message says which image and why."""


class RegistryClient:
    """Resolves a tag to its digest. `endpoints` maps a registry host to a base URL (tests point
    registries at a fake on 127.0.0.1); every other registry is `https://<host>`."""

    def __init__(
        self, endpoints: Mapping[str, str] | None = None, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.endpoints = dict(endpoints or {})
        self.timeout = timeout

    def digest(self, image: ImageReference) -> str:
        base = self.endpoints.get(image.registry, f"https://{image.registry}")
        url = f"{base}/v2/{image.repository}/manifests/{urllib.parse.quote(image.tag)}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        try:
            response = self._head(url, headers)
        except urllib.error.HTTPError as exc:
            if exc.code != 401:
                raise self._refused(image, exc) from None
            headers["Authorization"] = "Bearer " + self._token(
                image, exc.headers.get("WWW-Authenticate", "")
            )
            try:
                response = self._head(url, headers)
            except urllib.error.HTTPError as again:
                raise self._refused(image, again) from None
        digest = str(response.get("Docker-Content-Digest", ""))
        if not _DIGEST.match(digest):
            raise RegistryError(
                f"{image.tagged}: the registry answered without a sha256 Docker-Content-Digest"
            )
        return digest

    def _head(self, url: str, headers: dict[str, str]) -> Any:
        request = urllib.request.Request(url, method="HEAD", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.headers
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            raise RegistryError(f"{url}: no answer ({exc})") from None

    def _token(self, image: ImageReference, challenge: str) -> str:
        """An anonymous pull token from the realm the registry's Bearer challenge names."""
        scheme, _, params = challenge.partition(" ")
        fields = dict(_CHALLENGE.findall(params))
        if scheme.lower() != "bearer" or "realm" not in fields:
            raise RegistryError(f"{image.tagged}: unsupported authentication {challenge!r}")
        query = {"scope": fields.get("scope") or f"repository:{image.repository}:pull"}
        if "service" in fields:
            query["service"] = fields["service"]
        url = f"{fields['realm']}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            realm = fields["realm"]
            raise RegistryError(f"{image.tagged}: no token from {realm} ({exc})") from None
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{image.tagged}: the token endpoint returned no token")
        return token

    @staticmethod
    def _refused(image: ImageReference, exc: urllib.error.HTTPError) -> RegistryError:
        if exc.code == 404:
            return RegistryError(f"{image.tagged}: no such tag in {image.registry}")
        return RegistryError(f"{image.tagged}: the registry answered HTTP {exc.code}")


def _get(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def replace_value(text: str, path: tuple[str, ...], value: str, label: str) -> str:
    """`text` with the scalar at `path` set to `value`, every other byte unchanged."""
    document = YAML().load(text)
    try:
        line, column = _get(document, path[:-1]).lc.value(path[-1])
    except (KeyError, TypeError, AttributeError):
        raise UnusableError(
            f"{label}: {'.'.join(path)}: not in the file; write the image there first"
        ) from None
    lines = text.splitlines(keepends=True)
    old = str(_get(document, path))
    rest = lines[line][column:]
    quote = rest[0] if rest[:1] in ("'", '"') else ""
    written = f"{quote}{old}{quote}"
    if not rest.startswith(written):
        raise UnusableError(f"{label}: line {line + 1}: could not find {old} to replace")
    lines[line] = lines[line][:column] + f"{quote}{value}{quote}" + rest[len(written) :]
    updated = "".join(lines)
    before, after = yaml.safe_load(io.StringIO(text)), yaml.safe_load(io.StringIO(updated))
    parent = _get(before, path[:-1])
    parent[path[-1]] = value
    if before != after:
        raise UnusableError(f"{label}: line {line + 1}: could not replace the image in place")
    return updated


def configured_images(cfg: EnvironmentConfig) -> dict[tuple[str, ...], ImageReference]:
    """The images of `IMAGE_FIELDS` as the loaded config has them."""
    data = cfg.model_dump()
    return {path: ImageReference.parse(str(_get(data, path))) for path in IMAGE_FIELDS}


def unpinned_images(cfg: EnvironmentConfig) -> list[str]:
    """`path: image` for each image without a digest (preflight warns about these)."""
    return [
        f"{'.'.join(path)}: {image.text}"
        for path, image in configured_images(cfg).items()
        if image.digest is None
    ]


@dataclass(frozen=True)
class PinImagesResult:
    report: Report
    written: bool


def run_pin_images(
    cfg: EnvironmentConfig, config_file: Path, client: RegistryClient | None = None
) -> PinImagesResult:
    client = client or RegistryClient()
    label = str(config_file)
    text = config_file.read_text()
    findings = []
    for path, image in configured_images(cfg).items():
        field = ".".join(path)
        try:
            digest = client.digest(image)
        except RegistryError as exc:
            findings.append(Finding(field, False, str(exc)))
            continue
        if image.digest == digest:
            findings.append(Finding(field, True, f"{image.tagged} already pinned to {digest}"))
            continue
        text = replace_value(text, path, image.pinned(digest), label)
        was = f" (was {image.digest})" if image.digest else ""
        findings.append(Finding(field, True, f"{image.tagged} -> {digest}{was}"))
    written = text != config_file.read_text()
    if written:
        config_file.write_text(text)
    return PinImagesResult(Report("pin-images", cfg.name, tuple(findings)), written)
