"""The commands honour AWS_ENDPOINT_URL: `preflight` run as a process against a moto_server
that this test starts on 127.0.0.1 (a free port), seeded through the same endpoint.

moto_server serves STS, EC2 (a Canonical Ubuntu 24.04 image given to it by MOTO_AMIS_PATH),
CloudFormation, SSM and Route53. It has no EC2 quotas (its Service Quotas knows only VPC), so
preflight reports exactly that one check and exits 1; every other check passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.naming import permissions_boundary_name
from infra.ops.preflight import CANONICAL_OWNER
from tests.conftest import ROOT
from tests.ops.conftest import FAKE_CREDENTIALS, NOBLE, REGION, deployable_text
from tests.pg_harness import free_port

AMI = "ami-0a1b2c3d4e5f60718"
SSM_PARAMETER = "/cdk-bootstrap/hnb659fds/version"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    amis = tmp_path_factory.mktemp("moto") / "amis.json"
    image = {
        "ami_id": AMI,
        "name": NOBLE,
        "owner_id": CANONICAL_OWNER,
        "architecture": "x86_64",
        "state": "available",
        "public": True,
        "root_device_type": "ebs",
        "root_device_name": "/dev/sda1",
        "virtualization_type": "hvm",
        "hypervisor": "xen",
        "image_type": "machine",
        "description": "Canonical, Ubuntu, 24.04, amd64 noble image",
    }
    amis.write_text(json.dumps([image]))
    port = free_port()
    env = {**os.environ, **FAKE_CREDENTIALS, "MOTO_AMIS_PATH": str(amis)}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on {url}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_preflight_against_moto_server(endpoint: str, tmp_path: Path) -> None:
    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint)

    cfn, ssm = client("cloudformation"), client("ssm")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"BootstrapVersion": {"Value": "30"}},
    }
    cfn.create_stack(StackName="CDKToolkit", TemplateBody=json.dumps(template))
    ssm.put_parameter(Name=SSM_PARAMETER, Value="30", Type="String")
    # What `make bootstrap` creates before a first deploy (infra/deploy/bootstrap.py).
    boundary = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    client("iam").create_policy(
        PolicyName=permissions_boundary_name("dev"), PolicyDocument=json.dumps(boundary)
    )

    for path in (ROOT / "config").glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "dev.yaml").write_text(deployable_text("dev", ami=AMI))
    stack = {
        "type": "aws:cloudformation:stack",
        "properties": {
            "requiresBootstrapStackVersion": 6,
            "bootstrapStackVersionSsmParameter": SSM_PARAMETER,
        },
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {"twenty-dev-dns": stack}}))

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k in FAKE_CREDENTIALS}
    env.update(FAKE_CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
    args = ["preflight", "--env", "dev", "--config-dir", str(tmp_path), "--assembly", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "infra", *args, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    results = {c["check"]: (c["ok"], c["detail"]) for c in report["checks"]}
    assert results["account"] == (True, "123456789012")
    assert results["cdk bootstrap"] == (True, "CDKToolkit version 30, the stacks need >= 6")
    assert results["ami"] == (True, f"{AMI}: {NOBLE}")
    assert results["region"][0] and results["dns delegation"][0]
    failed = [c for c, (ok, _) in results.items() if not ok]
    assert failed == ["quotas"], results
    assert "GetAWSDefaultServiceQuota" in results["quotas"][1]
    assert done.returncode == 1
