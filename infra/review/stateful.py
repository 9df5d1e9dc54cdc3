"""The resource types whose replacement, deletion or orphaning loses data or identity.

This is the ONE list the diff guard consults. A type belongs here when a new physical resource
is not interchangeable with the old one: it holds data (volumes, buckets, caches, secrets, keys
that encrypt data), or others depend on its identity (hosted zone name servers delegated by the
registrar, a certificate validated for the domain, the EKS cluster every workload runs on).
The estate's only EC2 instances are the database hosts (the primary and, with
`database.standby`, the standby), so the whole type is listed.
"""

from __future__ import annotations

STATEFUL_TYPES: frozenset[str] = frozenset(
    {
        "AWS::EC2::Instance",  # the self-managed PostgreSQL hosts (primary, standby)
        "AWS::EC2::Volume",  # their data volumes
        "AWS::Route53::HostedZone",
        "AWS::CertificateManager::Certificate",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::SecretsManager::Secret",
        "AWS::EKS::Cluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::ElastiCache::CacheCluster",
        "AWS::ElastiCache::ServerlessCache",
        "AWS::Backup::BackupVault",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",
        "AWS::EFS::FileSystem",
        "AWS::ECR::Repository",
        "AWS::Cognito::UserPool",
        # one per issuer and account, trusted by every environment's deploy role in the account
        "AWS::IAM::OIDCProvider",
    }
)


def is_stateful(resource_type: str | None) -> bool:
    return resource_type in STATEFUL_TYPES
