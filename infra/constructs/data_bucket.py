"""An S3 bucket of data the estate cannot recreate (attachments, database backups).

KMS-encrypted, versioned, private, TLS-only and retained, with server access logs in a bucket of
its own. Versioning keeps an overwritten or deleted object for a bounded window, so a mistake
can be undone; older versions expire to bound the cost. Both logical ids are pinned: a refactor
of the construct tree must never replace the bucket (and orphan its data).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.access_log_bucket import AccessLogBucket
from infra.constructs.stateful import pin_logical_id


class DataBucket(Construct):
    """`self.bucket` and `self.access_logs` (the bucket its server access logs go to)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket_name: str,
        key: kms.IKey,
        logical_id: str,
        access_logs_logical_id: str,
        access_log_prefix: str,
        access_log_retention_days: int,
        noncurrent_version_retention_days: int,
        infrequent_access_after_days: int | None = None,
        object_lock: s3.ObjectLockRetention | None = None,
    ) -> None:
        """`object_lock`: S3 Object Lock's default retention of every new object version (the
        bucket is created with Object Lock on; it cannot be turned on later by CloudFormation)."""
        super().__init__(scope, id)
        # Server access logs can only be delivered into an SSE-S3 bucket; delivery is granted by
        # bucket policy (cdk.json serverAccessLogsUseBucketPolicy), so no ACLs are needed.
        self.access_logs = AccessLogBucket(
            self,
            "AccessLogs",
            logical_id=access_logs_logical_id,
            expiration_days=access_log_retention_days,
            retain=True,
        ).bucket
        transitions = (
            [
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=Duration.days(infrequent_access_after_days),
                )
            ]
            if infrequent_access_after_days is not None
            else None
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
            server_access_logs_prefix=access_log_prefix,
            object_lock_enabled=True if object_lock is not None else None,
            object_lock_default_retention=object_lock,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="Versions",
                    transitions=transitions,
                    noncurrent_version_expiration=Duration.days(noncurrent_version_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        pin_logical_id(self.bucket, logical_id)
