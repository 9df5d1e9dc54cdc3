"""One tier of EKS worker nodes: a managed node group on a hardened launch template."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import NodeGroupConfig

ROOT_DEVICE = "/dev/xvda"  # root device of the EKS-optimized AL2023 AMIs


def node_role(scope: Construct, id: str) -> iam.Role:
    """What a node itself needs: join the cluster and pull images. The CNI's EC2 permissions
    are on the vpc-cni add-on's Pod Identity role, not here."""
    return iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description="EKS worker nodes: join the cluster, pull images from ECR",
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSWorkerNodePolicy"),
            iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEC2ContainerRegistryPullOnly"),
        ],
    )


class TierNodeGroup(Construct):
    """`self.nodegroup`: nodes labelled `tier=<tier>` in the given subnets.

    The launch template requires IMDSv2 with hop limit 1 (pods cannot reach the node's
    credentials), encrypts a gp3 root volume, turns on detailed monitoring, and lists the
    security groups explicitly: EKS adds none itself when a launch template names some, so the
    cluster security group is passed in together with the workload group.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        tier: str,
        config: NodeGroupConfig,
        role: iam.IRole,
        security_groups: Sequence[ec2.ISecurityGroup],
        tags: dict[str, str],
    ) -> None:
        super().__init__(scope, id)
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            http_endpoint=True,
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            http_put_response_hop_limit=1,
            detailed_monitoring=True,
            security_group=security_groups[0],
            block_devices=[
                ec2.BlockDevice(
                    device_name=ROOT_DEVICE,
                    volume=ec2.BlockDeviceVolume.ebs(
                        config.root_volume_size_gib,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        encrypted=True,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        for group in security_groups[1:]:
            self.launch_template.add_security_group(group)
        self.nodegroup = eks.Nodegroup(
            self,
            "Nodegroup",
            cluster=cluster,
            ami_type=eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
            instance_types=[ec2.InstanceType(t) for t in config.instance_types],
            min_size=config.min_size,
            desired_size=config.desired_size,
            max_size=config.max_size,
            labels={"tier": tier},
            node_role=role,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            launch_template_spec=eks.LaunchTemplateSpec(
                id=self.launch_template.launch_template_id or "",
                version=self.launch_template.latest_version_number,
            ),
            tags=tags,
        )
