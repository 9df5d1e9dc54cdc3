"""The crm stack of dev, from the session's one synth of the estate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions

from infra.stacks.crm import CrmStack
from tests.conftest import SynthesizedEstate

ENV = "dev"


@dataclass
class CrmSynth:
    template: dict[str, Any]
    stack: CrmStack
    outdir: Path
    secret_store_name: str

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == kind}

    def manifest(self, logical_prefix: str) -> tuple[str, dict[str, Any]]:
        (item,) = [
            (k, v)
            for k, v in self.resources("Custom::AWSCDK-EKS-KubernetesResource").items()
            if k.startswith(logical_prefix)
        ]
        return item


@pytest.fixture(scope="module")
def crm(synthesized: SynthesizedEstate) -> CrmSynth:
    if ENV not in synthesized.estates:
        pytest.skip(f"TWENTY_TEST_ENVS excludes {ENV}")
    estate = synthesized.estates[ENV]
    return CrmSynth(
        template=synthesized.template_json(estate.crm.stack_name),
        stack=estate.crm,
        outdir=Path(synthesized.assembly.directory),
        secret_store_name=estate.cluster.secret_store_name,
    )


def _manifest_text(resource: dict[str, Any]) -> str:
    return json.dumps(resource["Properties"]["Manifest"])


def test_five_manifests_in_order(crm: CrmSynth) -> None:
    assert len(crm.resources("Custom::AWSCDK-EKS-KubernetesResource")) == 5
    namespace, _ = crm.manifest("Namespace")
    configuration, configuration_res = crm.manifest("Configuration")
    migration, migration_res = crm.manifest("Migration")
    _, workloads_res = crm.manifest("Workloads")
    (succeeded,) = [k for k in crm.template["Resources"] if k.startswith("MigrationSucceeded")]
    (association,) = [
        k for k in crm.resources("AWS::EKS::PodIdentityAssociation") if k.startswith("CrmPod")
    ]
    assert namespace in configuration_res["DependsOn"]
    assert configuration in migration_res["DependsOn"]
    assert association in migration_res["DependsOn"]
    assert migration in crm.template["Resources"][succeeded]["DependsOn"]
    assert succeeded in workloads_res["DependsOn"]
    assert association in workloads_res["DependsOn"]


def test_phases_hold_the_right_kinds(crm: CrmSynth) -> None:
    expected = {
        "Namespace": {'"kind":"Namespace"'},
        "Configuration": {'"kind":"ConfigMap"', '"kind":"ExternalSecret"',
                          '"kind":"NetworkPolicy"', '"kind":"ServiceAccount"',
                          # (",metadata": a ScaledObject's authenticationRef names the kind too)
                          '"kind":"TriggerAuthentication","metadata"',
                          '"kind":"ClusterTriggerAuthentication","metadata"'},
        "UpgradeBackup": {'"kind":"Job"'},
        "Migration": {'"kind":"Job"'},
        "Workloads": {'"kind":"Deployment"', '"kind":"Service"', '"kind":"TargetGroupBinding"',
                      '"kind":"ScaledObject"', '"kind":"PodDisruptionBudget"'},
    }  # fmt: skip
    every = set().union(*expected.values())
    for prefix, kinds in expected.items():
        _, resource = crm.manifest(prefix)
        text = _manifest_text(resource).replace("\\", "")
        for kind in every:
            assert (kind in text) == (kind in kinds), (prefix, kind)


def test_migration_wait_queries_the_job(crm: CrmSynth) -> None:
    (props,) = [
        v["Properties"]
        for k, v in crm.template["Resources"].items()
        if k.startswith("MigrationSucceeded") and "ObjectName" in v.get("Properties", {})
    ]  # the backup gate's wait: tests/test_upgrade_backup.py
    assert props["ObjectType"] == "job"
    (job,) = crm.stack.phases["migration"]
    assert props["ObjectName"] == job["metadata"]["name"]
    assert props["ObjectName"].startswith("twenty-migrate-v2-33-0-")
    assert props["ObjectNamespace"] == f"twenty-{ENV}"
    assert props["JsonPath"] == ".status.succeeded"
    assert props["TimeoutSeconds"] == 14 * 60, "below the 15-minute Lambda limit"


def test_pod_identity_for_the_crm_service_account(crm: CrmSynth) -> None:
    (props,) = [
        v["Properties"]
        for k, v in crm.resources("AWS::EKS::PodIdentityAssociation").items()
        if k.startswith("CrmPodIdentity")
    ]
    assert props["Namespace"] == f"twenty-{ENV}"
    assert props["ServiceAccount"] == "twenty"
    assert "CrmServiceAccountRole" in json.dumps(props["RoleArn"])


def test_references_flow_from_the_other_stacks(crm: CrmSynth) -> None:
    _, workloads = crm.manifest("Workloads")
    text = _manifest_text(workloads)
    assert "FrontendTargetGroup" in text and "BackendTargetGroup" in text
    _, configuration = crm.manifest("Configuration")
    text = _manifest_text(configuration)
    for name in ("FileBucket", "RedisReplicationGroup", "RedisAuthToken", "AppSecret",
                 "EncryptionKey", "AppCredentialsSecret"):  # fmt: skip
        assert name in text, name
    stores = {
        m["spec"]["secretStoreRef"]["name"]
        for m in crm.stack.phases["config"]
        if m["kind"] == "ExternalSecret"
    }
    assert stores == {crm.secret_store_name}


def test_no_secret_value_in_the_template(crm: CrmSynth) -> None:
    text = json.dumps(crm.template)
    assert "resolve:secretsmanager" not in text, "the crm stack only names secrets"
    assert "SecretString" not in text


def test_review_copy_written_with_resolved_references(crm: CrmSynth) -> None:
    files = sorted((crm.outdir / "k8s" / ENV).glob("*.yaml"))
    names = [f.name for f in files]
    assert names[0] == "00-namespace-twenty-dev.yaml"
    assert any("deployment-backend" in n for n in names)
    assert len(files) == sum(len(ms) for ms in crm.stack.phases.values())
    binding = next(f for f in files if "targetgroupbinding-frontend" in f.name).read_text()
    assert "${Token" not in binding and "FrontendTargetGroup" in binding


def test_assertions_template_loads(crm: CrmSynth) -> None:
    template = assertions.Template.from_json(crm.template, skip_cyclical_dependencies_check=True)
    # The CRM's service account, and the backup gate's (tests/test_upgrade_backup.py).
    template.resource_count_is("AWS::EKS::PodIdentityAssociation", 2)


def test_request_rate_triggers_name_the_edge_target_groups(crm: CrmSynth) -> None:
    """The deployed dimension is each target group's own TargetGroupFullName (an edge stack
    output), never an ARN split in CloudFormation (Fn::Split takes no Fn::GetStackOutput)."""
    _, resource = crm.manifest("Workloads")
    parts = resource["Properties"]["Manifest"]["Fn::Join"][1]
    dimensions = [
        parts[i + 1]["Fn::GetStackOutput"]
        for i, part in enumerate(parts[:-1])
        if isinstance(part, str) and part.endswith('"dimensionValue":"')
    ]
    assert [(d["StackName"], d["OutputName"].split("TargetGroup")[0]) for d in dimensions] == [
        (f"twenty-{ENV}-edge", "PublishOutputFnGetAttFrontend"),
        (f"twenty-{ENV}-edge", "PublishOutputFnGetAttBackend"),
    ]
    assert all("TargetGroupFullName" in d["OutputName"] for d in dimensions)
