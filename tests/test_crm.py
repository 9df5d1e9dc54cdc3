"""The crm stack in isolation: a test-only App with a minimal EKS cluster and stand-ins.

The cluster, edge and database stacks are built by other issues; here a small cluster stack and
simple stand-ins (target groups, a credentials secret) take their place, with the real network
and data stacks of dev. Synthesized once for the module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Acknowledgment, App, Stack, Validations, assertions
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.lambda_layer_kubectl_v35 import KubectlV35Layer
from cdk_nag import AwsSolutionsChecks

from infra.app import cdk_context
from infra.estate import build_estate
from infra.stacks.crm import CrmStack
from tests.conftest import ALL_CONFIGS

ENV = "dev"
_MANAGED = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
_ECR_PUBLIC = (
    '{"Fn::If":["ClusterKubectlProviderHandlerHasEcrPublic69E09706",{"Fn::Join":["",["arn:",'
    '{"Ref":"AWS::Partition"},":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},'
    '{"Ref":"AWS::NoValue"}]}'
)
# Findings of the stand-in platform stack (the EKS construct's kubectl handler, the stand-in
# secret): not ours to harden here; the cluster and database stacks own the real ones.
STAND_IN_FINDINGS = (
    _MANAGED + "AmazonEKSClusterPolicy]",
    _MANAGED + "service-role/AWSLambdaBasicExecutionRole]",
    _MANAGED + "service-role/AWSLambdaVPCAccessExecutionRole]",
    _MANAGED + "AmazonEC2ContainerRegistryReadOnly]",
    f"AwsSolutions-IAM4[Policy::{_ECR_PUBLIC}]",
    "AwsSolutions-IAM5[Resource::<ClusterKubectlProviderHandler2E05C68A.Arn>:*]",
    "AwsSolutions-L1",
    "AwsSolutions-SMG4",
)


@dataclass
class CrmSynth:
    template: dict[str, Any]
    stack: CrmStack
    outdir: Path

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
def crm(tmp_path_factory: pytest.TempPathFactory) -> CrmSynth:
    cfg = ALL_CONFIGS[ENV]
    outdir = tmp_path_factory.mktemp("crm.out")
    app = App(outdir=str(outdir), context=cdk_context())
    estate = build_estate(app, cfg)
    platform = Stack(app, "test-platform", env={"account": cfg.account, "region": cfg.region})
    cluster = eks.Cluster(
        platform,
        "Cluster",
        version=eks.KubernetesVersion.of(cfg.cluster.kubernetes_version),
        vpc=estate.network.vpc,
        default_capacity=0,
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        kubectl_provider_options=eks.KubectlProviderOptions(
            kubectl_layer=KubectlV35Layer(platform, "Kubectl")
        ),
    )

    def target_group(id: str) -> elbv2.ApplicationTargetGroup:
        return elbv2.ApplicationTargetGroup(
            platform, id, vpc=estate.network.vpc, port=3000,
            protocol=elbv2.ApplicationProtocol.HTTP, target_type=elbv2.TargetType.IP,
        )  # fmt: skip

    credentials = secretsmanager.Secret(
        platform,
        "DatabaseAppCredentials",
        secret_name=f"twenty/{ENV}/database-app-credentials",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template=json.dumps({"username": "twenty"}),
            generate_string_key="password",
            exclude_punctuation=True,
        ),
    )
    data = estate.data
    stack = CrmStack(
        app,
        site=cfg.site,
        domain_name=cfg.domain_name,
        workloads=cfg.workloads,
        network=cfg.network,
        cluster=cluster,
        secret_store_name="test-secret-store",
        frontend_target_group=target_group("FrontendTargetGroup"),
        backend_target_group=target_group("BackendTargetGroup"),
        database_host=f"test-database.{ENV}.internal",
        database_port=5432,
        database_name="twenty",
        database_credentials=credentials,
        file_bucket=data.file_bucket,
        redis_host=data.redis_host,
        redis_port=data.redis_port,
        redis_auth_token=data.redis_auth_token,
        app_secret=data.app_secret,
        encryption_key=data.encryption_key,
        crm_role=data.crm_role,
    )
    # cdk-nag runs as in the real app: a finding in the crm stack fails the module.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    for rule in STAND_IN_FINDINGS:
        Validations.of(platform).acknowledge(
            Acknowledgment(id=rule, reason="test stand-in for the cluster and database stacks")
        )
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return CrmSynth(template=template, stack=stack, outdir=outdir)


def _manifest_text(resource: dict[str, Any]) -> str:
    return json.dumps(resource["Properties"]["Manifest"])


def test_four_manifests_in_order(crm: CrmSynth) -> None:
    assert len(crm.resources("Custom::AWSCDK-EKS-KubernetesResource")) == 4
    namespace, _ = crm.manifest("Namespace")
    configuration, configuration_res = crm.manifest("Configuration")
    migration, migration_res = crm.manifest("Migration")
    _, workloads_res = crm.manifest("Workloads")
    (succeeded,) = [k for k in crm.template["Resources"] if k.startswith("MigrationSucceeded")]
    (association,) = crm.resources("AWS::EKS::PodIdentityAssociation")
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
                          '"kind":"NetworkPolicy"', '"kind":"ServiceAccount"'},
        "Migration": {'"kind":"Job"'},
        "Workloads": {'"kind":"Deployment"', '"kind":"Service"', '"kind":"TargetGroupBinding"',
                      '"kind":"HorizontalPodAutoscaler"', '"kind":"PodDisruptionBudget"'},
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
    ]
    assert props["ObjectType"] == "job"
    (job,) = crm.stack.phases["migration"]
    assert props["ObjectName"] == job["metadata"]["name"]
    assert props["ObjectName"].startswith("twenty-migrate-v1-14-0-")
    assert props["ObjectNamespace"] == f"twenty-{ENV}"
    assert props["JsonPath"] == ".status.succeeded"
    assert props["TimeoutSeconds"] == 14 * 60, "below the 15-minute Lambda limit"


def test_pod_identity_for_the_crm_service_account(crm: CrmSynth) -> None:
    (props,) = [v["Properties"] for v in crm.resources("AWS::EKS::PodIdentityAssociation").values()]
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
                 "EncryptionKey", "DatabaseAppCredentials"):  # fmt: skip
        assert name in text, name
    assert "test-secret-store" in text


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
    template.resource_count_is("AWS::EKS::PodIdentityAssociation", 1)
