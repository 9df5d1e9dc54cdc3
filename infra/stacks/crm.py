"""`twenty-<env>-crm`: the CRM itself, as Kubernetes manifests applied to the cluster by CDK.

The manifests are rendered from `k8s/*.yaml.j2` with the other stacks' attributes (CDK tokens,
resolved by CloudFormation at deploy time) and applied in five ordered steps: the namespace;
identity, configuration, External Secrets and network policies; the upgrade's backup gate Job
(a pgBackRest backup on the database host through SSM Run Command) and the migration Job, each
of which must *succeed* before the next step; the workloads. A review copy with every
reference resolved to its CloudFormation expression is written to `<cdk.out>/k8s/<env>/` on
each synth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Duration, Stage
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IValidation

from infra.config import EmailConfig, NetworkConfig, Site, WorkloadsConfig
from infra.config.workloads import JOB_WAIT_SECONDS
from infra.constructs.addons.aws_load_balancer_controller import AwsLoadBalancerController
from infra.constructs.ssm_command_document import SsmCommandDocument
from infra.manifests import (
    ManifestInputs,
    backup_job_name,
    migration_job_name,
    render_phases,
    upgrade_backup_document_name,
    upgrade_backup_host_script,
    write_manifests,
)
from infra.stacks.base import EstateStack

# The service account of backend, worker and migration (k8s/10-serviceaccounts.yaml.j2).
CRM_SERVICE_ACCOUNT = "twenty"
# The service account of the upgrade's backup gate (k8s/14-upgrade-backup-access.yaml.j2).
BACKUP_SERVICE_ACCOUNT = "twenty-upgrade-backup"
# How long the deploy waits for each Job (backup gate, migration). The wait runs inside one
# invocation of the kubectl handler Lambda, which stops at 15 minutes, so this stays below that.
# A longer first migration keeps running in the cluster; re-running the deploy then finds the
# Job succeeded. The gate gives up before this (config workloads.upgrade_backup.timeout_seconds).
JOB_TIMEOUT = Duration.seconds(JOB_WAIT_SECONDS)


@jsii.implements(IValidation)
class _ReviewCopy:
    """Writes the resolved manifests when the app synthesizes (after references are final)."""

    def __init__(self, stack: CrmStack, directory: Path) -> None:
        self._stack = stack
        self._directory = directory

    def validate(self) -> list[str]:
        write_manifests(self._stack.resolved_manifests(), self._directory)
        return []


class CrmStack(EstateStack):
    """Applies the CRM's manifests in order and gives its service account the file bucket role."""

    def __init__(
        self,
        scope: Construct,
        *,
        site: Site,
        domain_name: str,
        workloads: WorkloadsConfig,
        network: NetworkConfig,
        cluster: eks.ICluster,
        secret_store_name: str,
        frontend_target_group: elbv2.ApplicationTargetGroup,
        backend_target_group: elbv2.ApplicationTargetGroup,
        database_host: str,
        database_address: str,
        database_port: int,
        database_name: str,
        database_credentials: secretsmanager.ISecret,
        database_ca_certificate: secretsmanager.ISecret,
        email: EmailConfig,
        smtp_credentials: secretsmanager.ISecret,
        database_instance_id: str,
        file_bucket: s3.IBucket,
        redis_host: str,
        redis_port: int,
        redis_auth_token: secretsmanager.ISecret,
        app_secret: secretsmanager.ISecret,
        encryption_key: secretsmanager.ISecret,
        crm_role: iam.IRole,
        secret_reader_role: iam.IRole,
        target_registrar_role: iam.IRole,
    ) -> None:
        super().__init__(
            scope, site=site, part="crm", description="Twenty CRM: Kubernetes manifests on EKS"
        )
        self.inputs = ManifestInputs(
            environment=site.environment,
            domain_name=domain_name,
            region=site.region,
            workloads=workloads,
            secret_store_name=secret_store_name,
            file_bucket_name=file_bucket.bucket_name,
            redis_host=redis_host,
            redis_port=redis_port,
            # ARNs: External Secrets accepts them as keys, and they are exact across stacks.
            redis_auth_secret=redis_auth_token.secret_arn,
            app_secret=app_secret.secret_arn,
            encryption_key_secret=encryption_key.secret_arn,
            database_host=database_host,
            database_address=database_address,
            database_port=database_port,
            database_name=database_name,
            database_secret=database_credentials.secret_arn,
            database_ca_secret=database_ca_certificate.secret_arn,
            smtp_secret=smtp_credentials.secret_arn,
            database_instance_id=database_instance_id,
            frontend_target_group_arn=frontend_target_group.target_group_arn,
            backend_target_group_arn=backend_target_group.target_group_arn,
            public_subnet_cidrs=[str(c) for c in network.public_subnets],
            private_subnet_cidrs=[str(c) for c in network.private_subnets],
            email=email,
            # CloudWatch's TargetGroup dimension for the ScaledObjects' request-rate triggers.
            frontend_target_group_full_name=frontend_target_group.target_group_full_name,
            backend_target_group_full_name=backend_target_group.target_group_full_name,
        )
        self.phases = render_phases(self.inputs)
        namespace = self.inputs.namespace

        def apply(id: str, phase: str) -> eks.KubernetesManifest:
            return eks.KubernetesManifest(
                self, id, cluster=cluster, manifest=self.phases[phase], overwrite=True
            )

        self.namespace = apply("Namespace", "namespace")
        self.secret_reads = self._secret_reader_policy(site, secret_reader_role)
        self.configuration = apply("Configuration", "config")
        self.configuration.node.add_dependency(self.namespace, self.secret_reads)
        self.pod_identity = eks.CfnPodIdentityAssociation(
            self,
            "CrmPodIdentity",
            cluster_name=cluster.cluster_name,
            namespace=namespace,
            service_account=CRM_SERVICE_ACCOUNT,
            role_arn=crm_role.role_arn,
        )
        self.backup_document = SsmCommandDocument(
            self,
            "UpgradeBackupDocument",
            document_name=upgrade_backup_document_name(site.environment),
            description=f"twenty-{site.environment}: the upgrade's backup gate; a pgBackRest "
            "backup on the database host (k8s/scripts/upgrade-backup-host.sh.j2)",
            commands=upgrade_backup_host_script().splitlines(),
            # The host stops the backup when the gate stops waiting for it.
            timeout_seconds=workloads.upgrade_backup.timeout_seconds,
            step_name="pgBackRestBackup",
        )
        self.backup_role = self._backup_role(site, database_instance_id, self.backup_document)
        self.backup_pod_identity = eks.CfnPodIdentityAssociation(
            self,
            "UpgradeBackupPodIdentity",
            cluster_name=cluster.cluster_name,
            namespace=namespace,
            service_account=BACKUP_SERVICE_ACCOUNT,
            role_arn=self.backup_role.role_arn,
        )
        self.backup = apply("UpgradeBackup", "backup")
        # The role with its policy (same stack): the gate's first call must not beat the grant.
        self.backup.node.add_dependency(
            self.configuration, self.backup_pod_identity, self.backup_role, self.backup_document
        )
        self.backup_done = self._wait_for_job(
            "UpgradeBackupSucceeded", cluster, backup_job_name(self.phases), self.backup
        )
        self.migration = apply("Migration", "migration")
        self.migration.node.add_dependency(self.configuration, self.pod_identity, self.backup_done)
        self.migration_done = self._wait_for_job(
            "MigrationSucceeded", cluster, migration_job_name(self.phases), self.migration
        )
        # The load balancer controller's only writes: the bindings' own target groups.
        self.target_registrations = iam.Policy(
            self,
            "TargetGroupBindingPolicy",
            roles=[target_registrar_role],
            statements=[
                AwsLoadBalancerController.target_statement(
                    [frontend_target_group.target_group_arn, backend_target_group.target_group_arn]
                )
            ],
        )
        self.workloads = apply("Workloads", "workloads")
        self.workloads.node.add_dependency(
            self.migration_done, self.pod_identity, self.target_registrations
        )
        stage = Stage.of(self)
        assert stage is not None
        self.node.add_validation(_ReviewCopy(self, Path(stage.outdir) / "k8s" / site.environment))

    def external_secret_keys(self) -> list[str]:
        """The Secrets Manager ARNs the ExternalSecrets reference (`remoteRef.key`), in order."""
        keys = [
            item["remoteRef"]["key"]
            for manifests in self.phases.values()
            for manifest in manifests
            if manifest["kind"] == "ExternalSecret"
            for item in manifest["spec"].get("data", [])
        ]
        return list(dict.fromkeys(keys))

    def _secret_reader_policy(self, site: Site, role: iam.IRole) -> iam.Policy:
        """External Secrets' whole grant: read the secrets this stack's ExternalSecrets name (by
        ARN, derived from the manifests) and decrypt them through Secrets Manager only; never
        another secret of the environment, such as the database's admin password."""
        secrets = self.external_secret_keys()
        any_key = self.format_arn(service="kms", resource="key", resource_name="*")
        policy = iam.Policy(
            self,
            "ExternalSecretsReadPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadTheCrmSecrets",
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=secrets,
                ),
                iam.PolicyStatement(
                    sid="DecryptTheCrmSecretsThroughSecretsManager",
                    actions=["kms:Decrypt"],
                    resources=[any_key],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{site.region}.amazonaws.com",
                            "kms:EncryptionContext:SecretARN": secrets,
                        },
                    },
                ),
            ],
        )
        self.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{any_key}]",
            "kms:Decrypt only through Secrets Manager (kms:ViaService) and only for the "
            "secrets this stack's ExternalSecrets name (kms:EncryptionContext:SecretARN, exact "
            "ARNs); the keys belong to the database, data and dns stacks",
        )
        return policy

    def _wait_for_job(
        self, id: str, cluster: eks.ICluster, name: str, job: eks.KubernetesManifest
    ) -> eks.KubernetesObjectValue:
        """kubectl apply returns as soon as the Job exists; this waits until it has succeeded
        (the query retries until .status.succeeded has a value or the timeout passes)."""
        done = eks.KubernetesObjectValue(
            self,
            id,
            cluster=cluster,
            object_type="job",
            object_name=name,
            object_namespace=self.inputs.namespace,
            json_path=".status.succeeded",
            timeout=JOB_TIMEOUT,
        )
        done.node.add_dependency(job)
        return done

    def _backup_role(self, site: Site, instance_id: str, document: SsmCommandDocument) -> iam.Role:
        """The backup gate's role: send the backup document (fixed steps, no parameters) to the
        database host and read the command's result; nothing else (not another instance, not
        another document, so no other command)."""
        role = iam.Role(
            self,
            "UpgradeBackupRole",
            assumed_by=iam.ServicePrincipal("pods.eks.amazonaws.com").with_session_tags(),
            description=f"twenty-{site.environment}: the upgrade's backup gate runs pgBackRest "
            "on the database host through SSM Run Command",
        )
        instance_arn = self.format_arn(
            service="ec2", resource="instance", resource_name=instance_id
        )
        for statement in document.send_statements(
            instance_arn, sid="RunTheBackupOnTheDatabaseHost"
        ):
            role.add_to_policy(statement)
        policy = role.node.find_child("DefaultPolicy").node.default_child
        assert policy is not None
        self.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ssm:GetCommandInvocation supports no resource-level permissions (Service "
            "Authorization Reference, Systems Manager); it only reads command results. "
            "ssm:SendCommand is limited to the document twenty-<env>-upgrade-backup, whose "
            "steps are the fixed backup script with no parameters, and to the database host",
        )
        return role

    def resolved_manifests(self) -> list[dict[str, Any]]:
        """The manifests with every token as its CloudFormation expression (for review)."""
        resolved: list[dict[str, Any]] = [
            self.resolve(m) for ms in self.phases.values() for m in ms
        ]
        return resolved
