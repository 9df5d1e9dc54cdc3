"""An EKS managed add-on at a pinned version, optionally with a Pod Identity role."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct


class ManagedAddon(Construct):
    """`AWS::EKS::Addon` that takes over (OVERWRITE) what EKS or a previous install left behind.

    `configuration_values` follow the add-on's own schema
    (`aws eks describe-addon-configuration`); `service_account` + `role` bind the add-on's pods to
    an IAM role through EKS Pod Identity.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        addon_name: str,
        version: str,
        configuration_values: dict[str, Any] | None = None,
        service_account: str | None = None,
        role: iam.IRole | None = None,
    ) -> None:
        super().__init__(scope, id)
        associations = None
        if service_account and role:
            associations = [
                eks.CfnAddon.PodIdentityAssociationProperty(
                    role_arn=role.role_arn, service_account=service_account
                )
            ]
        self.resource = eks.CfnAddon(
            self,
            "Resource",
            addon_name=addon_name,
            cluster_name=cluster.cluster_name,
            addon_version=version,
            resolve_conflicts="OVERWRITE",
            preserve_on_delete=False,
            configuration_values=(
                json.dumps(configuration_values, sort_keys=True) if configuration_values else None
            ),
            pod_identity_associations=associations,
        )


def pod_identity_role(scope: Construct, id: str, *, description: str) -> iam.Role:
    """A role only EKS Pod Identity may assume (it tags the session with the pod's identity)."""
    return iam.Role(
        scope,
        id,
        assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
        description=description,
    )
