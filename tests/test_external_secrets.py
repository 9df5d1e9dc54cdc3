"""External Secrets reads exactly the secrets the CRM's ExternalSecrets name, never the
database's admin password, through a store only the CRM's namespace may use; the custom
resources validate against the CRDs' schemas (tests/schemas/crds/, copies with provenance)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from infra.manifests import render_manifests
from tests.conftest import CONFIGS, ENVIRONMENTS, SynthesizedEstate
from tests.manifest_inputs import test_inputs

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "crds"
# The secrets the CRM's pods read, by the logical id of the secret in its producing stack.
CRM_SECRETS = {
    "AppCredentialsSecret",
    "CaCertificateSecret",
    "AppSecret",
    "EncryptionKey",
    "RedisAuthToken",
    "SmtpCredentialsSecret",
}


def _schema(group: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / group / name).read_text())
    return schema


def _read_policy(synthesized: SynthesizedEstate, env: str) -> dict[str, Any]:
    template = synthesized.template_json(f"twenty-{env}-crm")
    (policy,) = [
        r for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and k.startswith("ExternalSecretsReadPolicy")
    ]  # fmt: skip
    return policy


def _statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def _producer_resource(synthesized: SynthesizedEstate, reference: dict[str, Any]) -> str:
    """The logical id (pinned prefix) of the resource a cross-stack reference points at."""
    output = reference["Fn::GetStackOutput"]
    producer = synthesized.template_json(output["StackName"])
    value = producer["Outputs"][output["OutputName"]]["Value"]
    logical_id: str = value["Ref"]
    return logical_id


def _secret_names(synthesized: SynthesizedEstate, arns: list[Any]) -> set[str]:
    return {_producer_resource(synthesized, arn) for arn in arns}


@pytest.fixture(params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_role_reads_exactly_the_external_secrets_keys(
    synthesized: SynthesizedEstate, env: str
) -> None:
    crm = synthesized.estates[env].crm
    manifests = crm.resolved_manifests()
    keys = [
        item["remoteRef"]["key"]
        for m in manifests
        if m["kind"] == "ExternalSecret"
        for item in m["spec"]["data"]
    ]
    statements = _statements(_read_policy(synthesized, env))
    read = statements["ReadTheCrmSecrets"]
    assert sorted(read["Action"]) == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    ]
    as_text = sorted({json.dumps(k, sort_keys=True) for k in keys})
    assert sorted(json.dumps(r, sort_keys=True) for r in read["Resource"]) == as_text
    decrypt = statements["DecryptTheCrmSecretsThroughSecretsManager"]
    context = decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"]
    assert sorted(json.dumps(c, sort_keys=True) for c in context) == as_text
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == (
        f"secretsmanager.{CONFIGS[env].region}.amazonaws.com"
    )


def test_role_never_reads_the_database_admin_password(
    synthesized: SynthesizedEstate, env: str
) -> None:
    read = _statements(_read_policy(synthesized, env))["ReadTheCrmSecrets"]
    names = _secret_names(synthesized, read["Resource"])
    assert not any(n.startswith("AdminCredentials") for n in names), names
    assert {_pinned(n) for n in names} == CRM_SECRETS
    assert "*" not in json.dumps(read["Resource"])


def _pinned(logical_id: str) -> str:
    """CDK appends an 8-hex-digit hash to unpinned logical ids; pinned ones have none."""
    if len(logical_id) > 8 and all(c in "0123456789ABCDEF" for c in logical_id[-8:]):
        return logical_id[:-8]
    return logical_id


def test_the_policy_belongs_to_the_operators_role(synthesized: SynthesizedEstate, env: str) -> None:
    policy = _read_policy(synthesized, env)
    (role,) = policy["Properties"]["Roles"]
    assert "ExternalSecretsServiceAccountRole" in _producer_resource(synthesized, role)


def test_admin_secret_exists_and_is_left_out(synthesized: SynthesizedEstate, env: str) -> None:
    """Guard: the admin secret is in the estate, so the check above could fail."""
    database = synthesized.template_json(f"twenty-{env}-database")
    assert "AdminCredentialsSecret" in database["Resources"]


def test_custom_resources_validate_against_the_crd_schemas(env: str) -> None:
    cfg = CONFIGS[env]
    external = _schema("external-secrets.io", "externalsecret_v1.json")
    checked = 0
    for manifest in render_manifests(test_inputs(cfg)):
        if manifest["kind"] == "ExternalSecret":
            jsonschema.validate(manifest, external)
            assert manifest["spec"]["secretStoreRef"]["kind"] == "ClusterSecretStore"
            checked += 1
    assert checked >= 3


def test_cluster_store_validates_and_serves_the_crm_namespace_only(
    synthesized: SynthesizedEstate, env: str
) -> None:
    schema = _schema("external-secrets.io", "clustersecretstore_v1.json")
    template = synthesized.template_json(f"twenty-{env}-cluster")
    stores = [
        m
        for r in template["Resources"].values()
        if r["Type"] == "Custom::AWSCDK-EKS-KubernetesResource"
        and isinstance(r["Properties"]["Manifest"], str)
        for m in json.loads(r["Properties"]["Manifest"])
        if m["kind"] == "ClusterSecretStore"
    ]
    (store,) = stores
    jsonschema.validate(store, schema)
    # The CRM's namespace (and any other namespace that declares ExternalSecrets, by name).
    (condition,) = store["spec"]["conditions"]
    assert f"twenty-{env}" in condition["namespaces"] and "default" not in condition["namespaces"]
    bad = json.loads(json.dumps(store))
    bad["spec"]["conditions"] = [{"namespaces": f"twenty-{env}"}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_operator_ignores_cluster_external_secrets_and_push_secrets(
    synthesized: SynthesizedEstate, env: str
) -> None:
    template = synthesized.template_json(f"twenty-{env}-cluster")
    (chart,) = [
        r["Properties"] for r in template["Resources"].values()
        if r["Type"] == "Custom::AWSCDK-EKS-HelmChart"
        and r["Properties"]["Chart"] == "external-secrets"
    ]  # fmt: skip
    values = json.loads(chart["Values"])
    assert values["processClusterExternalSecret"] is False
    assert values["processPushSecret"] is False
