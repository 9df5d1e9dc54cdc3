"""The EC2 host of PostgreSQL and the EBS volume holding its data directory."""

from __future__ import annotations

import base64

from aws_cdk import Duration, RemovalPolicy, Resource, Size, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import DatabaseConfig
from infra.constructs.stateful import pin_logical_id
from infra.database_host import DATA_VOLUME_TAG


def _pin(construct: Resource, logical_id: str) -> None:
    """Retain on delete and on replacement, under a logical id that refactors cannot move."""
    construct.apply_removal_policy(RemovalPolicy.RETAIN)
    pin_logical_id(construct, logical_id)


class DatabaseInstance(Construct):
    """`self.instance` in `subnet` and `self.data_volume`, attached, both retained.

    The AMI is pinned per region (`MachineImage.generic_linux`): a new Ubuntu AMI never replaces
    the host by itself. No SSH key and no public address: Session Manager is the way in. The
    data volume is separate from the root volume so the host can be replaced around the data.
    A CloudWatch alarm recovers the instance on a failed system status check.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        database: DatabaseConfig,
        region: str,
        vpc: ec2.IVpc,
        subnet: ec2.ISubnet,
        security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        user_data_gzip: bytes,
        backup_tag: tuple[str, str],
        availability_zone: str | None = None,
        logical_id_prefix: str = "",
    ) -> None:
        """`availability_zone` defaults to `database.availability_zone` (db1); the standby (db2)
        passes the other zone and `logical_id_prefix="Standby"`, so its pinned ids differ."""
        super().__init__(scope, id)
        zone = availability_zone or database.availability_zone
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="The database host: SSM sessions, its secrets, its backups, its logs",
        )
        self.data_volume = ec2.Volume(
            self,
            "DataVolume",
            availability_zone=zone,
            size=Size.gibibytes(database.data_volume_size_gib),
            volume_type=ec2.EbsDeviceVolumeType.GP3,
            iops=database.data_volume_iops,
            throughput=database.data_volume_throughput_mibps,
            encrypted=True,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        _pin(self.data_volume, f"{logical_id_prefix}DataVolume")
        Tags.of(self.data_volume).add(*backup_tag)
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=[subnet]),
            availability_zone=zone,
            instance_type=ec2.InstanceType(database.instance_type),
            machine_image=ec2.MachineImage.generic_linux({region: database.ami_ids[region]}),
            role=self.role,
            security_group=security_group,
            associate_public_ip_address=False,
            http_endpoint=True,
            http_tokens=ec2.HttpTokens.REQUIRED,
            http_put_response_hop_limit=1,
            instance_metadata_tags=True,
            detailed_monitoring=True,
            disable_api_termination=True,
            ebs_optimized=True,
            ssm_session_permissions=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/sda1",
                    volume=ec2.BlockDeviceVolume.ebs(
                        database.root_volume_size_gib,
                        encrypted=True,
                        kms_key=key,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                    ),
                )
            ],
        )
        _pin(self.instance, f"{logical_id_prefix}DatabaseInstance")
        # cloud-init unpacks gzip; compressed, the whole host configuration fits EC2's 16 KiB.
        self.instance.instance.add_property_override(
            "UserData", base64.b64encode(user_data_gzip).decode()
        )
        Tags.of(self.instance).add(DATA_VOLUME_TAG, self.data_volume.volume_id)
        attachment = ec2.CfnVolumeAttachment(
            self,
            "DataVolumeAttachment",
            instance_id=self.instance.instance_id,
            volume_id=self.data_volume.volume_id,
            device="/dev/sdf",
        )
        attachment.override_logical_id(f"{logical_id_prefix}DataVolumeAttachment")
        self.recovery_alarm = cloudwatch.Alarm(
            self,
            "SystemStatusAlarm",
            alarm_description="System status check failed: EC2 recovers the database host",
            metric=cloudwatch.Metric(
                namespace="AWS/EC2",
                metric_name="StatusCheckFailed_System",
                dimensions_map={"InstanceId": self.instance.instance_id},
                statistic="Maximum",
                period=Duration.minutes(1),
            ),
            threshold=1,
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
        )
        self.recovery_alarm.add_alarm_action(
            cw_actions.Ec2Action(cw_actions.Ec2InstanceAction.RECOVER)
        )
