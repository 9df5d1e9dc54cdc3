"""Rendered manifests against the pinned Twenty release (infra/twenty/contract.yaml)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra import prometheus, twenty
from infra.config import EnvironmentConfig
from infra.config.loader import load_environment
from infra.config.workloads import JOB_WAIT_SECONDS
from infra.manifests import TEMPLATE_DIR, migration_script, render_phases
from tests.manifest_inputs import test_inputs

ENVS = ["dev", "qa", "prod"]


@pytest.fixture(scope="module", params=ENVS)
def env_cfg(request: pytest.FixtureRequest) -> tuple[EnvironmentConfig, dict[str, Any]]:
    cfg = load_environment(request.param)
    return cfg, render_phases(test_inputs(cfg))


def _containers(phases: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    pods = [
        m["spec"]["template"]["spec"]
        for ms in phases.values()
        for m in ms
        if m["kind"] in ("Deployment", "Job")
    ]
    # The contract is Twenty's: only containers of its image (not the backup gate's AWS CLI).
    image = twenty.contract()["image"]
    return [c for p in pods for c in p["containers"] if c["image"].split(":")[0] == image]


def _pods(phases: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        m["spec"]["template"]["spec"]
        for ms in phases.values()
        for m in ms
        if m["kind"] in ("Deployment", "Job")
    ]


def _env_names(container: dict[str, Any], phases: dict[str, list[dict[str, Any]]]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        for m in phases["config"]:
            if m["metadata"]["name"] == ref["name"] and m["kind"] == "ConfigMap":
                names |= set(m["data"])
            if m["kind"] == "ExternalSecret" and m["spec"]["target"]["name"] == ref["name"]:
                names |= set(m["spec"]["target"]["template"]["data"])
    return names


# Commits the search index lists under twentyhq/twenty that are forks': 41d24255 (tabs and
# double quotes throughout, the whole server in one commit) and 00c31a5b (a Dockerfile with
# another vendor's lines, `CMD node dist/src/main`). Never cited, not even by their 8-digit prefix.
FORK_COMMITS = (
    "41d242555963991041c474c5267df7d174c6a972",
    "00c31a5b52e2e24949f39a26aa1c73cf935f4c33",
)
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def _cites(entry: dict[str, Any]) -> bool:
    """An upstream fact names its file and commit; an unread one says why it is unverified."""
    if entry.get("verified", True) is False:
        return bool(entry.get("source")) and bool(entry.get("why"))
    return bool(entry.get("source")) and bool(_COMMIT.match(str(entry.get("commit", ""))))


def test_every_contract_entry_cites_its_upstream_commit() -> None:
    c = twenty.contract()
    assert c["repository"] == "twentyhq/twenty"
    twenty_env = [e for e in c["env"] if e["reader"] == "twenty"]
    facts = twenty_env + c["routes"] + c["health"]
    facts += c["metrics"]["series"] + c["metrics"]["sources"] + c["upgrade"]["sources"]
    facts += c["commands"]["sources"]
    for entry in facts:
        assert _cites(entry), entry
    for entry in c["env"]:
        assert entry.get("source"), entry
    # Every command the manifests run is declared by a cited upstream file.
    declared = {name for source in c["commands"]["sources"] for name in source["for"]}
    commands = {
        k for k, v in c["commands"].items() if isinstance(v, str) and k != "first_start_marker"
    }
    assert commands | {"first_start_marker"} <= declared


def test_every_cited_commit_is_a_full_upstream_commit() -> None:
    """Every 40-digit hash in the contract is well formed and none is a known fork's; a fork
    commit (or its 8-digit prefix) appears nowhere, comments included."""
    text = twenty.CONTRACT_PATH.read_text()
    for fork in FORK_COMMITS:
        assert fork[:8] not in text, f"the contract cites fork commit {fork[:8]}"
    cited = set(re.findall(r"\b[0-9a-f]{40}\b", text))
    assert len(cited) >= 20
    assert not cited & set(FORK_COMMITS)
    for key in re.findall(r"(\w*commit): ['\"]?([^'\",}\s]+)", text):
        assert _COMMIT.match(key[1]), key


def test_metrics_facts_cite_their_sources() -> None:
    metrics = twenty.contract()["metrics"]
    assert metrics["port"] == 9464 and metrics["path"] == "/metrics"
    assert set(metrics["processes"]) == {"server", "worker"}
    assert "packages/twenty-server/src/instrument.ts" in {s["source"] for s in metrics["sources"]}
    # The variable that switches the exporter on is itself a contract entry (so it may be set).
    assert metrics["env"] in {e["name"] for e in twenty.contract()["env"]}
    for series in metrics["series"]:
        assert series["source"] and series["type"] in {"counter", "gauge", "histogram"}, series
        assert series["type"] != "counter" or series["name"].endswith("_total"), series


def _rule_names(text: str) -> set[str]:
    return set(re.findall(r"alert: (\w+)", text))


def test_unverified_facts_the_estate_relies_on_have_a_runtime_check() -> None:
    """What no upstream copy states and the estate still relies on names the check that catches
    it at run time; an alert named there exists in the rules."""
    c = twenty.contract()
    rules = "".join(p.read_text() for p in prometheus.rule_files())
    assert c["version_verified"] is False and c["version_runtime_check"]
    assert c["pools_verified"] is False and c["pools_runtime_check"]
    runtime = c["runtime"]
    assert runtime["workdir_verified"] is False and runtime["workdir_runtime_check"]
    assert runtime["uid_verified"] is False and runtime["uid_runtime_check"]
    metrics = c["metrics"]
    assert metrics["value_verified"] is False
    meter = next(e for e in c["env"] if e["name"] == metrics["env"])
    assert metrics["value"] in meter["unverified_values"]
    for check in (metrics["value_runtime_check"], meter["runtime_check"]):
        (alert,) = re.findall(r"\balert (\w+)", check)
        assert alert in _rule_names(rules), check
    for entry in c["env"]:
        if entry.get("verified", True) is False:
            assert entry.get("why_safe") or entry.get("runtime_check"), entry["name"]


def test_no_rule_or_template_uses_an_unverified_series_or_queue_name() -> None:
    """Series read only in a fork's copy, and the queue names (read only at an older release),
    are written in no alert rule, dashboard or manifest template: the worker's queue-depth
    triggers take the names from the contract, where `queues.why_safe` says what a wrong list
    costs, and the alert on stuck queues sums Twenty's own gauge over every queue."""
    c = twenty.contract()
    unverified = [s["name"] for s in c["metrics"]["series"] if s.get("verified", True) is False]
    assert unverified
    assert c["queues"]["verified"] is False and c["queues"]["why_safe"]
    names = unverified + list(c["queues"]["names"])
    files = [*prometheus.rule_files(), *prometheus.dashboard_files(), prometheus.SCRAPE_CONFIG]
    files += sorted(TEMPLATE_DIR.rglob("*.j2"))
    for path in files:
        text = path.read_text()
        used = [name for name in names if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)]
        assert not used, f"{path.name} uses {used}, which no upstream copy at the pin states"


def test_casts_not_read_upstream_are_not_needed(env_cfg) -> None:
    """Where the cast decorator has no upstream copy, the manifests set the enum value itself,
    so Twenty keeps it whatever the cast does to other spellings."""
    _, phases = env_cfg
    (config,) = [
        m
        for m in phases["config"]
        if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "twenty-config"
    ]
    for entry in twenty.contract()["env"]:
        if entry.get("cast_verified", True) is False:
            assert entry["rendered_as_enum_value"] is True, entry["name"]
            assert config["data"][entry["name"]] in entry["accepts"]["values"], entry["name"]


def test_meter_driver_only_where_the_process_exports(env_cfg) -> None:
    """METER_DRIVER acts in the server and the worker (they import instrument.ts): it is set
    on exactly the containers that declare the exporter's port, with the value instrument.ts
    matches exactly (split on ',', no trimming)."""
    _, phases = env_cfg
    metrics = twenty.contract()["metrics"]
    for container in _containers(phases):
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        ports = {p["containerPort"] for p in container.get("ports", [])}
        assert (metrics["env"] in env) is (metrics["port"] in ports), container["name"]
        if metrics["env"] in env:
            assert metrics["value"] in env[metrics["env"]].split(",")


def test_every_env_var_set_is_read(env_cfg) -> None:
    _, phases = env_cfg
    known = {e["name"] for e in twenty.contract()["env"]}
    for container in _containers(phases):
        unread = _env_names(container, phases) - known
        assert not unread, (
            f"{container['name']} sets {sorted(unread)}, which the pinned release does not read"
        )
        assert not _env_names(container, phases) & set(twenty.contract()["not_read"])


def test_every_required_env_var_is_set(env_cfg) -> None:
    _, phases = env_cfg
    required = {e["name"] for e in twenty.contract()["env"] if e["required"]}
    for container in _containers(phases):
        missing = required - _env_names(container, phases)
        assert not missing, f"{container['name']} lacks {sorted(missing)}"


def test_nothing_relies_on_unverified_image_facts(env_cfg) -> None:
    """The entrypoint and psql are unverified upstream: every container of Twenty's image runs
    an explicit command (so the entrypoint and its DISABLE_* flags never run), and no script
    calls psql."""
    _, phases = env_cfg
    runtime = twenty.contract()["runtime"]
    assert runtime["entrypoint_verified"] is False and runtime["psql_in_image_verified"] is False
    flags = set(runtime["entrypoint_flags"])
    for container in _containers(phases):
        assert container.get("command"), f"{container['name']} would run the image's entrypoint"
        assert not {e["name"] for e in container.get("env", [])} & flags
        assert not re.search(r"(^|[\s;&|($])psql\b", " ".join(container["command"])), container[
            "name"
        ]
    for pod in _pods(phases):
        for init in pod.get("initContainers", []):
            assert init.get("command"), init["name"]


def test_routes_are_the_api_path_enum() -> None:
    """The server's prefixes come from Twenty's ApiPath enum, one entry per member, in order."""
    c = twenty.contract()
    assert c["routes_source"]["repository"] == "twentyhq/twenty"
    api = [r for r in c["routes"] if r["api"]]
    assert [r["line"] for r in api] == list(range(2, 2 + len(api)))
    assert all(r["member"].startswith("ApiPath.") and r["prefix"].startswith("/") for r in api)
    assert {"/file", "/file-upload", "/public-assets", "/.well-known", "/healthz"} <= {
        r["prefix"] for r in api
    }


def test_pool_size_and_budget_follow_config(env_cfg) -> None:
    cfg, phases = env_cfg
    for d in (m for m in phases["workloads"] if m["kind"] == "Deployment"):
        (container,) = d["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        pool = getattr(cfg.workloads, d["metadata"]["name"]).db_pool_size
        assert env["PG_POOL_MAX_CONNECTIONS"] == str(pool)
    assert cfg.connection_budget().fits


def test_migration_job_runs_the_contract_commands(env_cfg) -> None:
    """setup (fresh database only) -> flush -> upgrade -> flush -> cron registration."""
    _, phases = env_cfg
    (job,) = phases["migration"]
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    commands = twenty.contract()["commands"]
    steps = [line for line in script.splitlines() if line.startswith(("yarn", "if "))]
    assert steps == [
        f'if [ "$fresh" = true ]; then {commands["setup"]}; fi',
        commands["cache_flush"],
        commands["upgrade"],
        commands["cache_flush"],
        commands["cron_registration"],
    ]
    assert script.startswith("set -eu\n")


def test_the_deploy_outwaits_the_migration_job(env_cfg) -> None:
    _, phases = env_cfg
    (job,) = phases["migration"]
    assert 0 < job["spec"]["activeDeadlineSeconds"] <= JOB_WAIT_SECONDS - 60


def test_worker_grace_period_exceeds_its_drain(env_cfg) -> None:
    _, phases = env_cfg
    (worker,) = [
        m for m in phases["workloads"]
        if m["kind"] == "Deployment" and m["metadata"]["name"] == "worker"
    ]  # fmt: skip
    pod = worker["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    drain_seconds = int(env["AI_STREAM_SHUTDOWN_DRAIN_MS"]) / 1000
    assert pod["terminationGracePeriodSeconds"] >= drain_seconds + 15


@pytest.mark.parametrize(
    ("deployed", "target", "refused"),
    [
        ("v2.20.0", "v2.33.0", False),
        ("v1.23.0", "v2.33.0", False),
        ("v1.14.0", "v2.33.0", True),
        ("v1.14.0", "v1.15.0", False),
        ("v2.33.0", "v2.32.0", True),
        ("v2.33.0", "v2.33.0", False),
    ],
)
def test_upgrade_rule(deployed: str, target: str, refused: bool) -> None:
    assert (twenty.upgrade_problem(deployed, target) is not None) is refused


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ("echo true", ["database:init:prod", *["command:prod"] * 4]),
        ("echo false", ["command:prod"] * 4),
        ("echo 'database-is-fresh: refused' >&2; exit 1", []),
    ],
)
def test_migration_script_runs_in_a_posix_shell(
    tmp_path: Path, probe: str, expected: list[str]
) -> None:
    """The Job's script under /bin/sh with stand-ins for node and yarn: setup only on a fresh
    database, the four commands in order, and nothing at all when the probe fails."""
    calls = tmp_path / "calls"
    for name, body in (("node", f"cat >/dev/null\n{probe}"), ("yarn", f'echo "$*" >>{calls}')):
        stub = tmp_path / name
        stub.write_text(f"#!/bin/sh\n{body}\n")
        stub.chmod(0o755)
    result = subprocess.run(
        ["/bin/sh", "-c", migration_script()],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
    )
    ran = calls.read_text().splitlines() if calls.exists() else []
    assert [line.split()[0] for line in ran] == expected, result.stderr
    assert (result.returncode == 0) is bool(expected)
    if expected:
        assert ran[-4:] == [
            "command:prod cache:flush",
            "command:prod upgrade",
            "command:prod cache:flush",
            "command:prod cron:register:all",
        ]
