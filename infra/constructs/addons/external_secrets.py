"""External Secrets Operator: copies AWS Secrets Manager secrets into Kubernetes Secrets.

No secret value ever appears in a template or manifest: stacks create secrets in Secrets Manager
under this environment's prefix, and workloads declare ExternalSecrets against the store here.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.addons.helm import pinned_chart

NAMESPACE = "external-secrets"
SERVICE_ACCOUNT = "external-secrets"
STORE_NAME = "aws-secrets-manager"


class ExternalSecrets(Construct):
    """The ESO chart, its Pod Identity role, and a ClusterSecretStore for Secrets Manager.

    The role may read only secrets whose name starts with `secret_name_prefix` (e.g.
    `twenty/dev/`), and decrypt only through Secrets Manager for those secrets, so a store in
    one environment can never read another environment's secrets.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        chart_version: str,
        secret_name_prefix: str,
        replicas: int,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.store_name = STORE_NAME
        namespace = eks.KubernetesManifest(
            self,
            "Namespace",
            cluster=cluster,
            manifest=[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}],
        )
        self.service_account = eks.ServiceAccount(
            self,
            "ServiceAccount",
            cluster=cluster,
            name=SERVICE_ACCOUNT,
            namespace=NAMESPACE,
            identity_type=eks.IdentityType.POD_IDENTITY,
        )
        self.service_account.node.add_dependency(namespace)
        self.secret_arn_pattern = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{secret_name_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:ListSecretVersionIds",
                ],
                resources=[self.secret_arn_pattern],
            )
        )
        any_key = stack.format_arn(service="kms", resource="key", resource_name="*")
        # Wildcard resources of the role, for the stack's nag acknowledgements.
        self.wildcard_resources = [self.secret_arn_pattern, any_key]
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[any_key],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{stack.region}.amazonaws.com"
                    },
                    "StringLike": {"kms:EncryptionContext:SecretARN": self.secret_arn_pattern},
                },
            )
        )
        self.chart = pinned_chart(
            self,
            cluster=cluster,
            repository="https://charts.external-secrets.io",
            chart="external-secrets",
            version=chart_version,
            namespace=NAMESPACE,
            values={
                "installCRDs": True,
                "replicaCount": replicas,
                "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
            },
        )
        self.chart.node.add_dependency(self.service_account)
        self.store = eks.KubernetesManifest(
            self,
            "ClusterSecretStore",
            cluster=cluster,
            manifest=[
                {
                    "apiVersion": "external-secrets.io/v1",
                    "kind": "ClusterSecretStore",
                    "metadata": {"name": STORE_NAME},
                    "spec": {
                        "provider": {"aws": {"service": "SecretsManager", "region": stack.region}}
                    },
                }
            ],
        )
        self.store.node.add_dependency(self.chart)
