"""The S3 bucket of the CRM's attachments and the bucket that receives its access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StorageConfig


class FileBucket(Construct):
    """`self.bucket`: KMS-encrypted, versioned, private, SSL-only, retained; `self.access_logs`.

    Versioning keeps an overwritten or deleted attachment for `noncurrent_version_retention_days`
    so a mistake in the CRM can be undone; older versions expire to bound the cost.
    """

    def __init__(
        self, scope: Construct, id: str, *, name: str, key: kms.IKey, storage: StorageConfig
    ) -> None:
        super().__init__(scope, id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=f"{name}-access-logs",
            # S3 server access logging can only deliver into SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # No explicit ownership: with the serverAccessLogsUseBucketPolicy flag (cdk.json)
            # delivery is granted by bucket policy and S3's default (owner enforced) applies.
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(storage.access_log_retention_days))
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="files/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(
                        storage.noncurrent_version_retention_days
                    ),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        for bucket, logical_id in (
            (self.bucket, "FileBucket"),
            (self.access_logs, "FileAccessLogs"),
        ):
            cfn = bucket.node.default_child
            assert isinstance(cfn, s3.CfnBucket)
            cfn.override_logical_id(logical_id)
