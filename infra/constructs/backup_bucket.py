"""The S3 bucket holding pgBackRest's repository: the database's off-host history."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


class BackupBucket(Construct):
    """`self.bucket`: versioned, KMS-encrypted, private, TLS-only, retained, access-logged.

    Versioning with a noncurrent-version window lets an overwritten or deleted backup be
    recovered; the bucket outlives the stack because it is the last copy of the data.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket_name: str,
        key: kms.IKey,
        ia_transition_days: int,
        noncurrent_expiry_days: int,
    ) -> None:
        super().__init__(scope, id)
        # Server access logs: S3 can deliver them only to an S3-managed-key bucket.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="pgbackrest/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="Tiering",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(ia_transition_days),
                        )
                    ],
                    noncurrent_version_expiration=Duration.days(noncurrent_expiry_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.override_logical_id("PgBackRestBucket")
