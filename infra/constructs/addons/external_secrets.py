"""External Secrets Operator: copies AWS Secrets Manager secrets into Kubernetes Secrets.

No secret value ever appears in a template or manifest: stacks create secrets in Secrets Manager
under this environment's prefix, and workloads declare ExternalSecrets against the store here.
What the operator may read is granted by the stack that declares the ExternalSecrets (crm).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.addons.helm import pinned_chart

NAMESPACE = "external-secrets"
SERVICE_ACCOUNT = "external-secrets"
STORE_NAME = "aws-secrets-manager"


class ExternalSecrets(Construct):
    """The ESO chart, its Pod Identity role, and a ClusterSecretStore for Secrets Manager.

    The role gets no permission here: the crm stack, which knows the exact secrets its
    ExternalSecrets reference, grants it `GetSecretValue` on those ARNs and nothing else (so never
    `database/admin`). The store serves ExternalSecrets in `namespaces` only (its `conditions`);
    ClusterExternalSecret and PushSecret, which we do not use, are switched off in the operator.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        chart_version: str,
        namespaces: Sequence[str],
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
        self.role: iam.IRole = self.service_account.role
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
                # Not used here; each would let a cluster-scoped object write Secrets into any
                # namespace (ClusterExternalSecret) or send Secrets out (PushSecret).
                "processClusterExternalSecret": False,
                "processPushSecret": False,
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
                        "provider": {"aws": {"service": "SecretsManager", "region": stack.region}},
                        # Only ExternalSecrets in these namespaces may use the store.
                        "conditions": [{"namespaces": list(namespaces)}],
                    },
                }
            ],
        )
        self.store.node.add_dependency(self.chart)
