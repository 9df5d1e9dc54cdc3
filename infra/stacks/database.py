"""`twenty-<env>-database`: the PostgreSQL host on EC2 and its two backup layers (seed DB-*)."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import DatabaseConfig, NetworkConfig, RecoveryConfig, Site
from infra.constructs.data_bucket import DataBucket
from infra.constructs.database_instance import DatabaseInstance
from infra.constructs.database_security_group import DatabaseSecurityGroup
from infra.constructs.encrypted_log_group import EncryptedLogGroup
from infra.constructs.generated_credentials import GeneratedCredentials
from infra.constructs.ssm_command_document import SsmCommandDocument
from infra.constructs.stateful import pin_logical_id, retained_key
from infra.constructs.volume_backup_plan import VolumeBackupPlan, vault_lock
from infra.database_host import (
    ADMIN_ROLE,
    APP_ROLE,
    DATABASE_NAME,
    PGBACKREST_INFO,
    PGBACKREST_INFO_DOCUMENT,
    PGBACKREST_INFO_TIMEOUT_SECONDS,
    PORT,
    HostInputs,
    Repository,
    metrics_namespace,
    render_host,
)
from infra.naming import (
    backup_vault_arn,
    partition_of,
    pgbackrest_bucket_name,
    recovery_vault_name,
    secret_name,
    ssm_document_name,
)
from infra.restore_document import restore_document, restore_document_name
from infra.stacks.base import EstateStack
from infra.stacks.recovery import recovery_key_statement

BACKUP_TAG_KEY = "twenty-backup"


def backup_bucket_name(site: Site) -> str:
    """Globally unique and known at synth, so the host's pgBackRest config is a constant."""
    return pgbackrest_bucket_name(site)


def repo2_of(recovery_site: Site | None) -> Repository | None:
    """pgBackRest's repo2: the recovery region's bucket, where one is configured."""
    if recovery_site is None:
        return None
    return Repository(bucket=pgbackrest_bucket_name(recovery_site), region=recovery_site.region)


def log_group_name(environment: str) -> str:
    return f"/twenty/{environment}/database"


class DatabaseStack(EstateStack):
    """One PostgreSQL host in a private subnet, its data volume, credentials and backups.

    Later stacks use `host`, `port`, `database_name` and `app_credentials` (the CRM) and nothing
    else; the EKS nodes reach it because they wear the network's workload security group.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        site: Site,
        network: NetworkConfig,
        database: DatabaseConfig,
        vpc: ec2.IVpc,
        workload_security_group: ec2.ISecurityGroup,
        recovery: RecoveryConfig | None = None,
        recovery_site: Site | None = None,
    ) -> None:
        """`recovery`/`recovery_site`: the recovery region's config and placement, if any
        (pgBackRest's repo2 and the snapshot copies go there, reached by derived names)."""
        super().__init__(
            scope, site=site, part="database", description="Twenty CRM: PostgreSQL host, backups"
        )
        env = site.environment
        self.port = PORT
        self.database_name = DATABASE_NAME
        self.storage_key = retained_key(
            self,
            "StorageKey",
            description="Encrypts the database volumes and pgBackRest",
            logical_id="StorageKey",
        )
        self.secrets_key = retained_key(
            self,
            "SecretsKey",
            description="Encrypts the database credentials",
            logical_id="SecretsKey",
        )
        self.app_credentials = GeneratedCredentials(
            self,
            "AppCredentials",
            secret_name=secret_name(env, "database", "app"),
            username=APP_ROLE,
            key=self.secrets_key,
            logical_id="AppCredentialsSecret",
            description="Twenty application role of the database (read by the CRM's pods)",
        ).secret
        self.admin_credentials = GeneratedCredentials(
            self,
            "AdminCredentials",
            secret_name=secret_name(env, "database", "admin"),
            username=ADMIN_ROLE,
            key=self.secrets_key,
            logical_id="AdminCredentialsSecret",
            description="PostgreSQL superuser of the database host (break-glass administration)",
        ).secret
        # The host's CA certificate (public, but delivered like every other value the pods read:
        # External Secrets, twenty/<env>/*). Created empty: the host writes it at first boot.
        self.ca_certificate = secretsmanager.Secret(
            self,
            "CaCertificate",
            secret_name=secret_name(env, "database", "ca-certificate"),
            description="PEM certificate of the database host's CA (written by the host; the "
            "CRM's pods verify the server with it)",
            encryption_key=self.secrets_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        ca_secret = self.ca_certificate.node.default_child
        assert isinstance(ca_secret, secretsmanager.CfnSecret)
        # Neither SecretString nor GenerateSecretString: CloudFormation creates the secret with
        # no value (CDK would otherwise generate a random password into it).
        ca_secret.add_property_deletion_override("GenerateSecretString")
        pin_logical_id(self.ca_certificate, "CaCertificateSecret")
        self.backups = DataBucket(
            self,
            "PgBackRest",
            bucket_name=backup_bucket_name(site),
            key=self.storage_key,
            logical_id="PgBackRestBucket",
            access_logs_logical_id="PgBackRestAccessLogs",
            access_log_prefix="pgbackrest/",
            access_log_retention_days=database.backup.access_log_retention_days,
            noncurrent_version_retention_days=database.backup.bucket_noncurrent_expiry_days,
            infrequent_access_after_days=database.backup.bucket_ia_transition_days,
        )
        self.logs = EncryptedLogGroup(
            self, "PostgresLogs", retention=database.log_retention_days, purpose="PostgreSQL"
        )
        cfn_log_group = self.logs.log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.log_group_name = log_group_name(env)
        rendered = render_host(
            inputs=HostInputs(
                environment=env,
                region=site.region,
                vpc_cidr=str(network.vpc_cidr),
                log_group_name=log_group_name(env),
                backup_bucket_name=backup_bucket_name(site),
                app_secret_name=secret_name(env, "database", "app"),
                admin_secret_name=secret_name(env, "database", "admin"),
                ca_secret_name=secret_name(env, "database", "ca-certificate"),
                repo2=repo2_of(recovery_site),
            ),
            database=database,
        )
        # ---- restore (issue 22): the fixed-step document `python -m infra restore` sends
        self.restore_document = ssm.CfnDocument(
            self,
            "RestoreDocument",
            name=restore_document_name(env),
            document_type="Command",
            document_format="JSON",
            update_method="NewVersion",
            content=restore_document(
                rendered.restore_script, repositories=2 if recovery_site is not None else 1
            ),
        )
        self.security_group = DatabaseSecurityGroup(
            self,
            "Access",
            vpc=vpc,
            vpc_cidr=network.vpc_cidr,
            clients=workload_security_group,
            port=PORT,
        ).security_group
        subnet = next(
            s for s in vpc.private_subnets if s.availability_zone == database.availability_zone
        )
        self.host_parts = DatabaseInstance(
            self,
            "Host",
            database=database,
            region=site.region,
            vpc=vpc,
            subnet=subnet,
            security_group=self.security_group,
            key=self.storage_key,
            user_data_gzip=rendered.user_data_gzip(),
            backup_tag=(BACKUP_TAG_KEY, f"{env}-database"),
        )
        self.instance = self.host_parts.instance
        self.data_volume = self.host_parts.data_volume
        self.host = self.instance.instance_private_dns_name
        # ---- recovery region (issue 22): snapshot copies into the locked vault there
        self.snapshots = VolumeBackupPlan(
            self,
            "Snapshots",
            tag_key=BACKUP_TAG_KEY,
            tag_value=f"{env}-database",
            retention_days=database.backup.snapshot_retention_days,
            copy_to_vault_arn=(
                backup_vault_arn(recovery_site, recovery_vault_name(env))
                if recovery_site is not None
                else None
            ),
            lock=(
                vault_lock(recovery, min_retention_days=database.backup.snapshot_retention_days)
                if recovery is not None
                else None
            ),
        )
        self.backup_vault = self.snapshots.vault
        self._grant_host(self.host_parts.role, metrics_namespace=metrics_namespace(env))
        self.pgbackrest_info = self._pgbackrest_info_document(env)
        if recovery_site is not None:
            self._grant_repo2(self.host_parts.role, recovery_site)
        CfnOutput(self, "InstanceId", value=self.instance.instance_id)
        CfnOutput(self, "HostName", value=self.host)
        CfnOutput(self, "AppCredentialsSecretArn", value=self.app_credentials.secret_arn)
        CfnOutput(self, "CaCertificateSecretArn", value=self.ca_certificate.secret_arn)
        CfnOutput(self, "BackupBucketName", value=self.backups.bucket.bucket_name)
        CfnOutput(self, "RestoreDocumentName", value=restore_document_name(env))
        self._acknowledge_findings()

    def _pgbackrest_info_document(self, env: str) -> iam.ManagedPolicy:
        """`python -m infra verify` reads `pgbackrest info` through this document (its one fixed
        command), and the managed policy is all an operator's role needs to run it: attach it
        instead of a right to send AWS-RunShellScript, which is any root command on the host."""
        document = SsmCommandDocument(
            self,
            "PgBackRestInfoDocument",
            document_name=ssm_document_name(env, PGBACKREST_INFO_DOCUMENT),
            description=f"twenty-{env}: pgBackRest's backup list as JSON (python -m infra verify)",
            commands=[PGBACKREST_INFO],
            timeout_seconds=PGBACKREST_INFO_TIMEOUT_SECONDS,
            step_name="pgBackRestInfo",
        )
        instance_arn = self.format_arn(
            service="ec2", resource="instance", resource_name=self.instance.instance_id
        )
        policy = iam.ManagedPolicy(
            self,
            "PgBackRestInfoPolicy",
            managed_policy_name=ssm_document_name(env, PGBACKREST_INFO_DOCUMENT),
            description=f"twenty-{env}: run the pgbackrest-info document on the database host "
            "and read its output (for the role that runs python -m infra verify)",
            statements=document.send_statements(instance_arn, sid="ReadPgBackRestInfo"),
        )
        self.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ssm:GetCommandInvocation supports no resource-level permissions (Service "
            "Authorization Reference, Systems Manager); it only reads command results. "
            "ssm:SendCommand is limited to the pgbackrest-info document (one fixed read-only "
            "command, no parameters) and the database host",
        )
        CfnOutput(self, "PgBackRestInfoDocumentName", value=document.document_name)
        CfnOutput(self, "PgBackRestInfoPolicyArn", value=policy.managed_policy_arn)
        return policy

    def _grant_host(self, role: iam.IRole, *, metrics_namespace: str) -> None:
        """What the host does with its role: read its passwords, write backups, ship logs."""
        self.app_credentials.grant_read(role)
        self.admin_credentials.grant_read(role)
        self.ca_certificate.grant_read(role)
        self.ca_certificate.grant_write(role)
        # pgBackRest lists, reads, writes and expires objects; nothing else on the bucket.
        bucket = self.backups.bucket
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects("*")],
            )
        )
        self.storage_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        self.logs.log_group.grant_write(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": metrics_namespace}},
            )
        )

    # ---- recovery region (issue 22): pgBackRest repo2 ------------------------------------
    def _grant_repo2(self, role: iam.IRole, recovery_site: Site) -> None:
        """pgBackRest on repo2, the recovery region's Object Lock bucket: the same actions as on
        repo1. Its KMS key is created in another stack (and region): named through its alias
        (kms:ResourceAliases), since its key id is not known at synth."""
        bucket_arn = (
            f"arn:{partition_of(recovery_site.region)}:s3:::{pgbackrest_bucket_name(recovery_site)}"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[f"{bucket_arn}/*"],
            )
        )
        key_statement = recovery_key_statement(
            recovery_site, actions=["kms:Decrypt", "kms:GenerateDataKey"]
        )
        role.add_to_principal_policy(key_statement)
        policy = self.host_parts.role.node.find_child("DefaultPolicy")
        self.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/*]",
            "pgBackRest names its backup and WAL objects itself, under repo2's bucket in the "
            "recovery region that holds nothing else",
        )
        self.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{key_statement.resources[0]}]",
            "The recovery region's key id is unknown at synth (another stack, region, maybe "
            "account); the condition kms:ResourceAliases limits the statement to its alias",
        )

    def _acknowledge_findings(self) -> None:
        """Every nag acknowledgement of this stack, each with the reason it does not apply."""
        host = self.host_parts
        self.acknowledge(
            self.ca_certificate,
            "AwsSolutions-SMG4",
            "A CA certificate is public material, not a credential; it changes only when the "
            "host's CA is replaced (docs/runbooks/database.md)",
        )
        for credentials in (self.app_credentials, self.admin_credentials):
            self.acknowledge(
                credentials,
                "AwsSolutions-SMG4",
                "A rotation Lambda cannot change the password inside PostgreSQL on a private host "
                "without network access to it; rotation is a runbook step that updates the role "
                "and the secret together (docs/runbooks/database.md)",
            )
        self.acknowledge(
            host.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AmazonSSMManagedInstanceCore]",
            "Session Manager is the only way into the host (no SSH key); AWS maintains this "
            "policy's exact SSM action list as the agent evolves",
        )
        policy = host.role.node.find_child("DefaultPolicy")
        self.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::<PgBackRestBucket.Arn>/*]",
            "pgBackRest names its backup and WAL objects itself, under this one bucket that "
            "holds nothing else",
        )
        self.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource type; the statement is limited by a "
            "condition to the host's own metric namespace",
        )
        self.acknowledge(
            self.snapshots.plan.node.find_child("TaggedVolumes").node.find_child("Role"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
            "AWS Backup's own service policy: the snapshot and copy actions it needs change with "
            "the service, which AWS keeps current in this policy",
        )
        for construct in (host.data_volume, host.instance):
            self.acknowledge(
                construct,
                "CloudFormation-Validate::W3010",
                "The host and its data volume must be in the same, configured zone: synth makes "
                "no lookup and the volume must never move to another zone",
            )
        self.acknowledge(
            host.instance,
            "CloudFormation-Validate::W9010",
            "The AMI is pinned per region in config on purpose: a newer AMI must never replace "
            "the database host by itself (docs/runbooks/database.md)",
        )
