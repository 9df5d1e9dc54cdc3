"""An S3 bucket that receives access logs (from an ALB, or S3 server access logs).

Both log deliveries support only SSE-S3 (not KMS) encryption, so the bucket uses S3-managed keys;
it is private, SSL-only, versioned (a deleted log stays recoverable until it would have expired)
and expires old logs. Its logical id is pinned so that a refactor of the
construct tree can never replace it (and orphan or delete the logs).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.stateful import pin_logical_id
from infra.nag import skip_checkov


class AccessLogBucket(Construct):
    """`self.bucket`: encrypted, public access blocked, SSL-only, expiring after N days."""

    def __init__(
        self, scope: Construct, id: str, *, logical_id: str, expiration_days: int, retain: bool
    ) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            # A deleted or overwritten log stays recoverable for as long as logs are kept: an
            # intruder who can delete objects cannot make the access record disappear at once.
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(expiration_days),
                    noncurrent_version_expiration=Duration.days(expiration_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        pin_logical_id(self.bucket, logical_id)
        skip_checkov(
            self.bucket,
            "CKV_AWS_18",
            "This bucket is the access-log destination; logging it would log its own log "
            "deliveries (S3 advises against a bucket logging into itself)",
        )
