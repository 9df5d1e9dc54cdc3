"""The EKS control plane: private-subnet ENIs, restricted endpoint, full logging, KMS secrets."""

from __future__ import annotations

import importlib
import re
from typing import cast

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import KUBERNETES_VERSIONS, ClusterConfig
from infra.constructs.stateful import retained_key

ALL_LOG_TYPES = [
    eks.ClusterLoggingTypes.API,
    eks.ClusterLoggingTypes.AUDIT,
    eks.ClusterLoggingTypes.AUTHENTICATOR,
    eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
    eks.ClusterLoggingTypes.SCHEDULER,
]
ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
READ_ONLY_POLICY = "AmazonEKSViewPolicy"


def kubectl_layer(scope: Construct, version: str) -> lambda_.ILayerVersion:
    """The kubectl Lambda layer that matches `version` (table in infra.config)."""
    module, class_name = KUBERNETES_VERSIONS[version]
    layer: lambda_.ILayerVersion = getattr(importlib.import_module(module), class_name)(
        scope, "KubectlLayer"
    )
    return layer


def _entry_id(kind: str, arn: str) -> str:
    """A construct id that follows the role, not its position in the list."""
    return kind + re.sub(r"[^A-Za-z0-9]", "", arn.rsplit("/", 1)[-1].title())


class EksControlPlane(Construct):
    """`self.cluster` (Kubernetes version from config) and `self.secrets_key`.

    Managed node groups replace Auto Mode (`DefaultCapacityType.NODEGROUP`, no default
    capacity). The cluster creator (the CloudFormation role) gets no admin entry: humans come in
    through the configured access entries, CDK's kubectl Lambda through its own entry.
    """

    def __init__(
        self, scope: Construct, id: str, *, name: str, config: ClusterConfig, vpc: ec2.IVpc
    ) -> None:
        super().__init__(scope, id)
        self.secrets_key = retained_key(
            self,
            "SecretsKey",
            description=f"Envelope encryption of Kubernetes Secrets in EKS cluster {name}",
            logical_id="ClusterSecretsKey",
        )
        cidrs = [str(c) for c in config.public_endpoint_cidrs]
        endpoint = (
            eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*cidrs)
            if cidrs
            else eks.EndpointAccess.PRIVATE
        )
        self.cluster = eks.Cluster(
            self,
            "Cluster",
            cluster_name=name,
            version=eks.KubernetesVersion.of(config.kubernetes_version),
            vpc=vpc,
            vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            endpoint_access=endpoint,
            cluster_logging=ALL_LOG_TYPES,
            secrets_encryption_key=self.secrets_key,
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            default_capacity=0,
            bootstrap_cluster_creator_admin_permissions=False,
            bootstrap_self_managed_addons=False,
            kubectl_provider_options=eks.KubectlProviderOptions(
                kubectl_layer=kubectl_layer(self, config.kubernetes_version)
            ),
        )
        # The cluster's OIDC issuer as an IAM identity provider (native AWS::IAM::OIDCProvider,
        # feature flag in cdk.json), for any later workload that uses IRSA; controllers here use
        # Pod Identity.
        self.oidc_provider = self.cluster.open_id_connect_provider
        # jsii's Python ICluster protocol lists a member Cluster lacks (kubectl_provider_options),
        # so mypy refuses a Cluster where an ICluster is due; it is one at run time.
        self.handle = cast(eks.ICluster, self.cluster)
        # The control plane encrypts and decrypts Secrets' data keys with the key at run time.
        assert self.cluster.role is not None
        self.secrets_key.grant(
            self.cluster.role, "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants"
        )
        for arn in config.admin_role_arns:
            self.cluster.grant_access(
                _entry_id("Admin", arn),
                arn,
                [
                    eks.AccessPolicy.from_access_policy_name(
                        ADMIN_POLICY, access_scope_type=eks.AccessScopeType.CLUSTER
                    )
                ],
            )
        for arn in config.read_only_role_arns:
            self.cluster.grant_access(
                _entry_id("ReadOnly", arn),
                arn,
                [
                    eks.AccessPolicy.from_access_policy_name(
                        READ_ONLY_POLICY, access_scope_type=eks.AccessScopeType.CLUSTER
                    )
                ],
            )
