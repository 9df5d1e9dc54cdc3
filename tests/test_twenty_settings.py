"""Every value the manifests give Twenty is one Twenty accepts (infra/twenty/contract.yaml `env`).

The checks mirror the decorators of config-variables.ts (the upstream copies the contract names):
enum values after @CastToUpperSnakeCase (lodash snakeCase of the trimmed value, upper-cased; the
decorator itself is not read upstream, so the manifests set enum values as they are),
@CastToMeterDriverArray (split on ",", trim, all items known or the whole list is dropped),
@IsUrl protocols, @IsAWSRegion's pattern, @CastToPositiveNumber. Secret values are Go templates
of the ExternalSecret: their literal parts (the URL scheme) are checked.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from infra import twenty
from infra.config import EnvironmentConfig
from infra.config.base import CONFIG_DIR
from infra.config.loader import load_environment
from infra.manifests import render_phases
from tests.manifest_inputs import test_inputs

ENVS = ["dev", "qa", "prod"]
SPECS = {e["name"]: e for e in twenty.contract()["env"] if e["reader"] == "twenty"}


def _lodash_words(value: str) -> list[str]:
    """lodash's `words` for ASCII: runs of capitals, capitalised words, lower-case runs, digits."""
    return re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", value)


def _upper_snake_case(value: str) -> str:
    return "_".join(w.lower() for w in _lodash_words(value.strip())).upper()


def accepted(spec: dict[str, Any], value: str) -> bool:
    """Whether Twenty keeps `value` for the variable `spec` (a contract `env` entry)."""
    accepts = spec.get("accepts", {})
    kind = spec["type"]
    if kind == "enum":
        cast = _upper_snake_case(value) if accepts.get("cast") == "upper_snake_case" else value
        return cast in accepts["values"]
    if kind == "array":
        items = [item.strip() for item in value.split(",")]
        return bool(value) and all(item in accepts["values"] for item in items)
    if kind == "number":
        return re.fullmatch(r"\d+(\.\d+)?", value) is not None and float(value) > 0
    if kind == "boolean":
        return value in ("true", "false")
    if kind == "url":
        scheme = value.split("://", 1)[0] if "://" in value else ""
        protocols = accepts.get("protocols", ["http", "https"])
        return scheme in protocols
    if kind == "string":
        if "pattern" in accepts:  # class-validator's regex test (e.g. @IsAWSRegion)
            return re.search(accepts["pattern"], value) is not None
        return bool(value.strip()) or not accepts.get("non_empty")
    raise AssertionError(f"contract type {kind!r} of {spec['name']} is not checked here")


def _rendered_values(env: str) -> dict[str, set[str]]:
    """Every value each variable gets in any container of Twenty's image."""
    phases = render_phases(test_inputs(load_environment(env)))
    config = {m["metadata"]["name"]: m for m in phases["config"] if m["kind"] == "ConfigMap"}
    values: dict[str, set[str]] = {}
    for manifest in (m for ms in phases.values() for m in ms):
        if manifest["kind"] not in ("Deployment", "Job"):
            continue
        for container in manifest["spec"]["template"]["spec"]["containers"]:
            if not container["image"].startswith(twenty.contract()["image"] + ":"):
                continue
            for item in container.get("env", []):
                if "value" in item:
                    values.setdefault(item["name"], set()).add(str(item["value"]))
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                found = config.get(ref["name"])
                if found is None:
                    secret = [
                        m for m in phases["config"]
                        if m["kind"] == "ExternalSecret"
                        and m["spec"]["target"]["name"] == ref["name"]
                    ]  # fmt: skip
                    data = secret[0]["spec"]["target"]["template"]["data"] if secret else {}
                else:
                    data = found["data"]
                for name, value in data.items():
                    values.setdefault(name, set()).add(str(value))
    return values


@pytest.mark.parametrize("env", ENVS)
def test_every_rendered_setting_is_accepted_by_twenty(env: str) -> None:
    values = _rendered_values(env)
    assert "METER_DRIVER" in values and "STORAGE_TYPE" in values
    refused = [
        (name, value)
        for name, found in values.items()
        if name in SPECS
        for value in found
        if not value.startswith("{{") and not accepted(SPECS[name], value)
    ]
    assert not refused, f"{env}: Twenty drops or refuses {refused}"
    unknown = set(values) - {e["name"] for e in twenty.contract()["env"]}
    assert not unknown, f"{env}: variables the contract does not describe: {sorted(unknown)}"


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("METER_DRIVER", "prometheus", True),
        ("METER_DRIVER", "opentelemetry, prometheus", True),
        ("METER_DRIVER", "Prometheus", False),  # the metadata's display name, not a value
        ("METER_DRIVER", "prometheus,statsd", False),  # one unknown item drops the whole list
        ("METER_DRIVER", "", False),
        ("STORAGE_TYPE", "S_3", True),  # what the manifests set: the enum value
        (
            "STORAGE_TYPE",
            "s3",
            True,
        ),  # snakeCase('s3') = 's_3' -> S_3 (the cast: not read upstream)
        ("STORAGE_TYPE", "aws-s3", False),
        ("STORAGE_S3_REGION", "eu-west-1", True),
        ("STORAGE_S3_REGION", "us-gov-west-1", False),  # @IsAWSRegion's regex refuses it
        ("STORAGE_S3_REGION", "", False),
        ("EMAIL_DRIVER", "smtp", True),
        ("EMAIL_DRIVER", "ses", False),
        ("NODE_ENV", "production", True),
        ("NODE_ENV", "prod", False),
        ("REDIS_URL", "rediss://:token@host:6379", True),
        ("REDIS_URL", "https://host", False),
        ("PG_DATABASE_URL", "postgresql://u:p@h/db", True),
        ("PG_POOL_MAX_CONNECTIONS", "0", False),
        ("AI_STREAM_SHUTDOWN_DRAIN_MS", "300000", True),
    ],
)
def test_the_checks_follow_twentys_decorators(name: str, value: str, ok: bool) -> None:
    assert accepted(SPECS[name], value) is ok


def test_meter_driver_is_set_to_what_the_metrics_need() -> None:
    """The exporter the alert rules scrape starts only when the list holds `prometheus`."""
    metrics = twenty.contract()["metrics"]
    assert metrics["env"] == "METER_DRIVER"
    assert accepted(SPECS["METER_DRIVER"], metrics["value"])
    assert metrics["value"] in SPECS["METER_DRIVER"]["accepts"]["values"]


@pytest.mark.parametrize(("region", "refused"), [("sa-east-1", False), ("us-gov-west-1", True)])
def test_validate_refuses_a_region_twenty_refuses(region: str, refused: bool) -> None:
    """A real AWS region that fails Twenty's @IsAWSRegion pattern is a config error, not a
    server that stops at boot."""
    assert (twenty.region_problem(region) is not None) is refused
    data = yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text())
    data["region"] = region
    try:
        EnvironmentConfig.model_validate(data)
        errors = ""
    except ValidationError as error:
        errors = str(error)
    assert ("STORAGE_S3_REGION" in errors) is refused
