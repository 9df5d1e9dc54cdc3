"""`twenty-<env>-data`: what the CRM keeps outside PostgreSQL: Redis, files, application secrets."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import RedisConfig, Site, StorageConfig
from infra.constructs.data_bucket import DataBucket
from infra.constructs.generated_secret import GeneratedSecret
from infra.constructs.redis_cache import RedisCache
from infra.constructs.stateful import retained_key
from infra.naming import (
    file_bucket_name,
    file_replication_role_name,
    key_alias_arn,
    partition_of,
    recovery_key_alias,
    secret_prefix,
)
from infra.stacks.base import EstateStack
from infra.stacks.recovery import recovery_key_statement

# Every secret of an environment is named under this prefix, so that the External Secrets
# operator's read permission can be scoped to `twenty/<env>/*`.


class DataStack(EstateStack):
    """Redis, the attachments bucket, the generated secrets and the CRM's Pod Identity role.

    It depends on the network stack only (Redis admits the network's workload security group),
    so it deploys beside the cluster. The crm stack associates `crm_role` with the CRM's service
    account and turns the secrets into Kubernetes Secrets through External Secrets.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        site: Site,
        redis: RedisConfig,
        storage: StorageConfig,
        vpc: ec2.IVpc,
        workload_security_group: ec2.ISecurityGroup,
        recovery_site: Site | None = None,
    ) -> None:
        """`recovery_site`: the recovery region's placement, if any; the file bucket replicates
        to the replica bucket of `twenty-<env>-recovery` there."""
        super().__init__(
            scope,
            site=site,
            part="data",
            description="Twenty CRM: Redis, file storage bucket, application secrets",
        )
        env = site.environment
        self.secret_prefix = secret_prefix(env)
        self.key = retained_key(
            self,
            "DataKey",
            description=f"twenty-{env}: encrypts Redis, the file bucket and the CRM's secrets",
            logical_id="DataKey",
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DecryptThroughSecretsManager",
                principals=[iam.AccountPrincipal(site.account)],
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:CallerAccount": site.account,
                        "kms:ViaService": f"secretsmanager.{site.region}.amazonaws.com",
                    }
                },
            )
        )

        def generated(id: str, name: str, description: str) -> GeneratedSecret:
            return GeneratedSecret(
                self,
                id,
                prefix=self.secret_prefix,
                name=name,
                description=description,
                key=self.key,
                logical_id=id,
            )

        self.redis_auth_token = generated(
            "RedisAuthToken", "redis-auth-token", "AUTH token of the CRM's Redis"
        ).secret
        self.app_secret = generated(
            "AppSecret", "app-secret", "Twenty APP_SECRET: signs sessions and tokens"
        ).secret
        self.encryption_key = generated(
            "EncryptionKey", "encryption-key", "Twenty ENCRYPTION_KEY: encrypts stored credentials"
        ).secret

        self.redis = RedisCache(
            self,
            "Redis",
            vpc=vpc,
            clients=workload_security_group,
            key=self.key,
            auth_token=self.redis_auth_token,
            redis=redis,
            name=f"twenty-{env}-redis",
        )
        self.files = DataBucket(
            self,
            "Files",
            bucket_name=file_bucket_name(site),
            key=self.key,
            logical_id="FileBucket",
            access_logs_logical_id="FileAccessLogs",
            access_log_prefix="files/",
            access_log_retention_days=storage.access_log_retention_days,
            noncurrent_version_retention_days=storage.noncurrent_version_retention_days,
        )
        self.file_bucket = self.files.bucket
        # Assumed by EKS Pod Identity for the CRM's service account only: the association
        # (namespace + service account -> this role) is made by the crm stack.
        self.crm_role = iam.Role(
            self,
            "CrmServiceAccountRole",
            assumed_by=iam.ServicePrincipal("pods.eks.amazonaws.com").with_session_tags(),
            description=f"twenty-{env}: the CRM's pods read and write the file bucket",
        )
        self._grant_files(self.crm_role)
        self.replication_role: iam.Role | None = None
        if recovery_site is not None:
            self.replication_role = self._replicate_files(recovery_site)

        CfnOutput(self, "RedisHost", value=self.redis.host)
        CfnOutput(self, "FileBucketName", value=self.file_bucket.bucket_name)
        CfnOutput(self, "CrmRoleArn", value=self.crm_role.role_arn)
        self._acknowledge_findings(redis)

    def _grant_files(self, role: iam.Role) -> None:
        """What Twenty's S3 driver calls on its bucket, and no more. Deleting is `DeleteObject`
        only: on the versioned bucket that leaves a delete marker and the old version stays
        restorable; `DeleteObjectVersion`, which destroys a version, is not granted (nor are
        object lock, version tagging or bucket writes, which `grant_read_write` would add)."""
        bucket = self.file_bucket
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListTheFileBucket",
                actions=["s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"],
                resources=[bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadWriteDeleteFiles",
                actions=[
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    # CopyObject (a move) copies the source's tags when it has any.
                    "s3:GetObjectTagging",
                    "s3:PutObjectTagging",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                resources=[bucket.arn_for_objects("*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseTheFileBucketKey",
                # SSE-KMS: a data key to write, Decrypt to read (and to complete a multipart
                # upload); through S3 only.
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}},
            )
        )

    # ---- recovery region (issue 22): the file bucket replicates there ----------------------
    def _replicate_files(self, recovery_site: Site) -> iam.Role:
        """S3 Replication of every new file version to the recovery region's replica bucket,
        encrypted there with that region's key. Delete markers are not replicated: a deletion
        here (a user's, or an attacker's) leaves the replica whole. Objects that existed before
        replication was turned on need one S3 Batch Replication job (region-loss runbook)."""
        env = recovery_site.environment
        partition = partition_of(recovery_site.region)
        replica_arn = f"arn:{partition}:s3:::{file_bucket_name(recovery_site)}"
        key_alias_arn_ = key_alias_arn(recovery_site, recovery_key_alias(env))
        role = iam.Role(
            self,
            "FileReplicationRole",
            role_name=file_replication_role_name(env),
            assumed_by=iam.ServicePrincipal("s3.amazonaws.com"),
            description=f"twenty-{env}: S3 replicates the file bucket to the recovery region",
        )
        bucket = self.file_bucket
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                resources=[bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                resources=[bucket.arn_for_objects("*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:ReplicateObject",
                    "s3:ReplicateTags",
                    "s3:ObjectOwnerOverrideToBucketOwner",
                ],
                resources=[f"{replica_arn}/*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}},
            )
        )
        key_statement = recovery_key_statement(recovery_site, actions=["kms:Encrypt"])
        role.add_to_policy(key_statement)
        cross_account = recovery_site.account != self.account
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.replication_configuration = s3.CfnBucket.ReplicationConfigurationProperty(
            role=role.role_arn,
            rules=[
                s3.CfnBucket.ReplicationRuleProperty(
                    id="RecoveryRegion",
                    status="Enabled",
                    priority=1,
                    filter=s3.CfnBucket.ReplicationRuleFilterProperty(prefix=""),
                    delete_marker_replication=s3.CfnBucket.DeleteMarkerReplicationProperty(
                        status="Disabled"
                    ),
                    source_selection_criteria=s3.CfnBucket.SourceSelectionCriteriaProperty(
                        sse_kms_encrypted_objects=s3.CfnBucket.SseKmsEncryptedObjectsProperty(
                            status="Enabled"
                        )
                    ),
                    destination=s3.CfnBucket.ReplicationDestinationProperty(
                        bucket=replica_arn,
                        account=recovery_site.account if cross_account else None,
                        access_control_translation=(
                            s3.CfnBucket.AccessControlTranslationProperty(owner="Destination")
                            if cross_account
                            else None
                        ),
                        encryption_configuration=s3.CfnBucket.EncryptionConfigurationProperty(
                            replica_kms_key_id=key_alias_arn_
                        ),
                    ),
                )
            ],
        )
        policy = role.node.find_child("DefaultPolicy")
        self.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::<FileBucket.Arn>/*]",
            "S3 replicates every object version of the file bucket; the grant covers its own "
            "objects only",
        )
        self.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{replica_arn}/*]",
            "Replicas are written under the keys of the source objects, in the replica bucket "
            "that holds nothing else",
        )
        self.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{key_statement.resources[0]}]",
            "The recovery region's key id is unknown at synth (another stack, region, maybe "
            "account); the condition kms:ResourceAliases limits the statement to its alias",
        )
        CfnOutput(self, "FileReplicaBucketName", value=file_bucket_name(recovery_site))
        return role

    @property
    def redis_host(self) -> str:
        return self.redis.host

    @property
    def redis_port(self) -> int:
        return self.redis.port

    @property
    def redis_node_ids(self) -> list[str]:
        """CacheClusterId of each cache node, for per-node alarms."""
        return self.redis.node_ids

    def _acknowledge_findings(self, redis: RedisConfig) -> None:
        """Every nag acknowledgement of this stack, each with the reason it does not apply."""
        rotation_reasons = {
            self.redis_auth_token: "Rotating the ElastiCache AUTH token needs a ROTATE/SET "
            "sequence on the replication group coordinated with every client; done as a runbook, "
            "not by a Secrets Manager rotation Lambda",
            self.app_secret: "Rotating APP_SECRET signs every user out and invalidates issued "
            "tokens; it is rotated deliberately during a maintenance window",
            self.encryption_key: "Rotating ENCRYPTION_KEY needs Twenty's FALLBACK_ENCRYPTION_KEY "
            "re-encryption procedure; an unattended rotation would make stored credentials "
            "unreadable",
        }
        for secret, reason in rotation_reasons.items():
            assert secret.node.default_child is not None
            self.acknowledge(secret.node.default_child, "AwsSolutions-SMG4", reason)
        if redis.nodes == 1:
            self.acknowledge(
                self.redis.replication_group,
                "AwsSolutions-AEC4",
                "This environment runs one cache node on purpose (config redis.nodes: 1, "
                "cost); prod runs two across zones with automatic failover",
            )
        policy = self.crm_role.node.find_child("DefaultPolicy").node.default_child
        assert policy is not None
        wildcards = {
            "Resource::<FileBucket.Arn>/*": "The CRM stores attachments under keys it chooses "
            "at run time; the grant covers the objects of its own bucket only, and deleting "
            "is s3:DeleteObject alone (a delete marker: old versions stay restorable)",
        }
        for finding, reason in wildcards.items():
            self.acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
