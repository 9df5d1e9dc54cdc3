"""`twenty-<env>-crm`: the CRM itself, as Kubernetes manifests applied to the cluster by CDK.

The manifests are rendered from `k8s/*.yaml.j2` with the other stacks' attributes (CDK tokens,
resolved by CloudFormation at deploy time) and applied in four ordered steps: the namespace;
identity, configuration, External Secrets and network policies; the migration Job, which must
*complete* before the last step; the workloads. A review copy with every reference resolved to
its CloudFormation expression is written to `<cdk.out>/k8s/<env>/` on each synth.
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
from infra.manifests import ManifestInputs, migration_job_name, render_phases, write_manifests
from infra.stacks.base import EstateStack

# The service account of backend, worker and migration (k8s/10-serviceaccounts.yaml.j2).
CRM_SERVICE_ACCOUNT = "twenty"
# How long the deploy waits for the migration Job. The wait runs inside one invocation of the
# kubectl handler Lambda, which stops at 15 minutes, so this stays below that. A longer first
# migration keeps running in the cluster; re-running the deploy then finds the Job succeeded.
MIGRATION_TIMEOUT = Duration.minutes(14)


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
        frontend_target_group: elbv2.IApplicationTargetGroup,
        backend_target_group: elbv2.IApplicationTargetGroup,
        database_host: str,
        database_port: int,
        database_name: str,
        database_credentials: secretsmanager.ISecret,
        database_ca_certificate: secretsmanager.ISecret,
        email: EmailConfig,
        smtp_credentials: secretsmanager.ISecret,
        file_bucket: s3.IBucket,
        redis_host: str,
        redis_port: int,
        redis_auth_token: secretsmanager.ISecret,
        app_secret: secretsmanager.ISecret,
        encryption_key: secretsmanager.ISecret,
        crm_role: iam.IRole,
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
            database_port=database_port,
            database_name=database_name,
            database_secret=database_credentials.secret_arn,
            database_ca_secret=database_ca_certificate.secret_arn,
            smtp_secret=smtp_credentials.secret_arn,
            frontend_target_group_arn=frontend_target_group.target_group_arn,
            backend_target_group_arn=backend_target_group.target_group_arn,
            public_subnet_cidrs=[str(c) for c in network.public_subnets],
            private_subnet_cidrs=[str(c) for c in network.private_subnets],
            email=email,
        )
        self.phases = render_phases(self.inputs)
        namespace = self.inputs.namespace

        def apply(id: str, phase: str) -> eks.KubernetesManifest:
            return eks.KubernetesManifest(
                self, id, cluster=cluster, manifest=self.phases[phase], overwrite=True
            )

        self.namespace = apply("Namespace", "namespace")
        self.configuration = apply("Configuration", "config")
        self.configuration.node.add_dependency(self.namespace)
        self.pod_identity = eks.CfnPodIdentityAssociation(
            self,
            "CrmPodIdentity",
            cluster_name=cluster.cluster_name,
            namespace=namespace,
            service_account=CRM_SERVICE_ACCOUNT,
            role_arn=crm_role.role_arn,
        )
        self.migration = apply("Migration", "migration")
        self.migration.node.add_dependency(self.configuration, self.pod_identity)
        # kubectl apply returns as soon as the Job exists; this waits until it has succeeded
        # (the query retries until .status.succeeded has a value or the timeout passes).
        self.migration_done = eks.KubernetesObjectValue(
            self,
            "MigrationSucceeded",
            cluster=cluster,
            object_type="job",
            object_name=migration_job_name(self.phases),
            object_namespace=namespace,
            json_path=".status.succeeded",
            timeout=MIGRATION_TIMEOUT,
        )
        self.migration_done.node.add_dependency(self.migration)
        self.workloads = apply("Workloads", "workloads")
        self.workloads.node.add_dependency(self.migration_done, self.pod_identity)
        stage = Stage.of(self)
        assert stage is not None
        self.node.add_validation(_ReviewCopy(self, Path(stage.outdir) / "k8s" / site.environment))

    def resolved_manifests(self) -> list[dict[str, Any]]:
        """The manifests with every token as its CloudFormation expression (for review)."""
        resolved: list[dict[str, Any]] = [
            self.resolve(m) for ms in self.phases.values() for m in ms
        ]
        return resolved
