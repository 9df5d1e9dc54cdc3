"""An ElastiCache (Valkey or Redis OSS) replication group for Twenty's cache and BullMQ queues."""

from __future__ import annotations

from aws_cdk import CfnDeletionPolicy, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import RedisConfig

REDIS_PORT = 6379


class RedisCache(Construct):
    """`self.replication_group` in the private subnets, reachable on 6379 from `clients` only.

    `maxmemory-policy noeviction`: BullMQ keeps its queues in Redis, and an evicted key is a lost
    job; a full cache must fail writes loudly instead. Encrypted at rest (`key`) and in transit
    (TLS required), with an AUTH token from `auth_token` (a dynamic reference: CloudFormation
    reads the value at deploy time, the template only names the secret).
    One node has no failover; two or more spread across zones with automatic failover.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        clients: ec2.ISecurityGroup,
        key: kms.IKey,
        auth_token: secretsmanager.ISecret,
        redis: RedisConfig,
        name: str,
    ) -> None:
        super().__init__(scope, id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"{name}: admits Redis clients (EKS nodes) on {REDIS_PORT}",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(
            clients, ec2.Port.tcp(REDIS_PORT), "Redis from the EKS nodes"
        )
        subnets = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description=f"{name}: private subnets",
            subnet_ids=vpc.select_subnets(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            ).subnet_ids,
        )
        parameters = elasticache.CfnParameterGroup(
            self,
            "Parameters",
            cache_parameter_group_family=redis.parameter_group_family,
            description=f"{name}: noeviction, BullMQ must never lose a job to eviction",
            properties={"maxmemory-policy": "noeviction"},
        )
        replicated = redis.nodes > 1
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description=f"{name}: cache and job queues of Twenty",
            engine=redis.engine,
            engine_version=redis.engine_version,
            cache_node_type=redis.node_type,
            num_cache_clusters=redis.nodes,
            automatic_failover_enabled=replicated,
            multi_az_enabled=replicated,
            cache_subnet_group_name=subnets.ref,
            cache_parameter_group_name=parameters.ref,
            security_group_ids=[self.security_group.security_group_id],
            port=REDIS_PORT,
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=auth_token.secret_value.unsafe_unwrap(),
            snapshot_retention_limit=redis.snapshot_retention_days,
            auto_minor_version_upgrade=True,
        )
        # Retain, not Snapshot: a stack deletion must never delete the queues; snapshots are
        # taken daily anyway (snapshot_retention_days) for point restores.
        self.replication_group.cfn_options.deletion_policy = CfnDeletionPolicy.RETAIN
        self.replication_group.cfn_options.update_replace_policy = CfnDeletionPolicy.RETAIN
        # ElastiCache names the member clusters <group id>-001, -002, ...: the CacheClusterId
        # dimension of each node's CloudWatch metrics.
        self.node_ids = [
            Fn.join("-", [self.replication_group.ref, f"{n:03d}"])
            for n in range(1, redis.nodes + 1)
        ]
        self.replication_group.override_logical_id("RedisReplicationGroup")

    @property
    def host(self) -> str:
        """DNS name of the primary endpoint (follows a failover)."""
        return self.replication_group.attr_primary_end_point_address

    @property
    def port(self) -> int:
        return REDIS_PORT
