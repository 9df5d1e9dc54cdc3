"""checkov's CloudFormation results are judged by `make checkov` (its own target: a minute per
environment): only CDK's provider Lambdas may fail. Here, fast: the judge, and every checkov
skip in the synthesized templates has a reason and is listed in docs/security.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.checkov_report import judge, unexpected
from tests.conftest import ROOT, SynthesizedEstate


def _result(check_id: str, resource: str) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "check_name": "probe",
        "file_path": "/cdk.out/checkov/twenty-dev-cluster.template.json",
        "resource": resource,
    }


def test_only_cdk_internal_lambdas_may_fail(tmp_path: Path) -> None:
    internal = _result(
        "CKV_AWS_116", "AWS::Lambda::Function.ControlPlaneClusterKubectlProviderHandler4C29DBB3"
    )
    ours = _result("CKV_AWS_18", "AWS::S3::Bucket.FileBucket")
    results = [{"check_type": "cloudformation", "results": {"failed_checks": [internal, ours]}}]
    assert [f.resource for f in unexpected(results)] == ["AWS::S3::Bucket.FileBucket"]
    path = tmp_path / "checkov.json"
    path.write_text(json.dumps(results))
    code, lines = judge(path)
    assert code == 1 and lines[-1].startswith("FINDING: twenty-dev-cluster.template.json")
    path.write_text(json.dumps({"results": {"failed_checks": [internal]}}))
    assert judge(path)[0] == 0
    path.write_text("not json")
    assert judge(path)[0] == 2


def test_every_checkov_skip_has_a_reason_and_is_documented(
    synthesized: SynthesizedEstate,
) -> None:
    docs = (ROOT / "docs" / "security.md").read_text()
    skipped = set()
    for name in synthesized.stack_names:
        for resource in synthesized.template_json(name)["Resources"].values():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert len(skip["comment"]) >= 20, (name, skip)
                skipped.add(skip["id"])
    assert skipped, "the estate has its documented skips"
    for check_id in skipped:
        assert f"`{check_id}`" in docs, check_id
