"""`twenty-<env>-database`: the PostgreSQL host on EC2 and its two backup layers (seed DB-*)."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import DatabaseConfig, EnvironmentConfig, NetworkConfig, RecoveryConfig, Site
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
    MEMBER_TAG,
    MEMBERS,
    PGBACKREST_INFO,
    PGBACKREST_INFO_DOCUMENT,
    PGBACKREST_INFO_TIMEOUT_SECONDS,
    PORT,
    REPLICATION_DOCUMENTS,
    REPLICATION_ROLE,
    REPLICATION_SCRIPT,
    WRITER_TAG,
    HostInputs,
    ReplicationInputs,
    Repository,
    member_name,
    metrics_namespace,
    other_member,
    private_zone_name,
    render_host,
    replication_document_name,
    writer_name,
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
# Bound of each twenty-db-replication step on a host (status, promote, rebuild's clone).
REPLICATION_DOCUMENT_TIMEOUT_SECONDS = 900
# TTLs of the private names: the stable name moves at failover, so resolvers keep it briefly.
WRITER_TTL_SECONDS = 10
MEMBER_TTL_SECONDS = 60


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


def member_zone(site: Site, database: DatabaseConfig, member: str) -> str:
    """db1 lives in `database.availability_zone`, db2 (the standby) in the other zone."""
    if member == MEMBERS[0]:
        return database.availability_zone
    return next(z for z in site.availability_zones if z != database.availability_zone)


def member_subnet_cidr(
    site: Site, network: NetworkConfig, database: DatabaseConfig, member: str
) -> str:
    """The private subnet of `member`'s zone (config lists subnets in zone order)."""
    index = site.availability_zones.index(member_zone(site, database, member))
    return str(network.private_subnets[index])


def host_inputs(
    site: Site,
    network: NetworkConfig,
    database: DatabaseConfig,
    member: str = MEMBERS[0],
    *,
    recovery_site: Site | None = None,
) -> HostInputs:
    """What `member`'s files depend on besides the database config: the one derivation, shared
    by the stack and the tests that render the same files."""
    env = site.environment
    standby = database.standby.enabled
    peer_cidr = member_subnet_cidr(site, network, database, other_member(member))
    return HostInputs(
        environment=env,
        region=site.region,
        vpc_cidr=str(network.vpc_cidr),
        log_group_name=log_group_name(env),
        backup_bucket_name=backup_bucket_name(site),
        app_secret_name=secret_name(env, "database", "app"),
        admin_secret_name=secret_name(env, "database", "admin"),
        ca_secret_name=secret_name(env, "database", "ca-certificate"),
        replication=ReplicationInputs(
            member=member, peer_cidr=peer_cidr, primary_host=writer_name(env)
        )
        if standby
        else None,
        replication_secret_name=secret_name(env, "database", "replication") if standby else "",
        ca_key_secret_name=secret_name(env, "database", "ca-key") if standby else "",
        certificate_names=(writer_name(env), member_name(env, member)),
        repo2=repo2_of(recovery_site),
    )


def config_host_inputs(cfg: EnvironmentConfig, member: str = MEMBERS[0]) -> HostInputs:
    return host_inputs(cfg.site, cfg.network, cfg.database, member, recovery_site=cfg.recovery_site)


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
        self.database_config = database
        self.replication_credentials: secretsmanager.ISecret | None = None
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
        self.ca_certificate = self._host_written_secret(
            "CaCertificate",
            name=secret_name(env, "database", "ca-certificate"),
            description="PEM certificate of the database host's CA (written by the host; the "
            "CRM's pods verify the server with it)",
        )
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
        access = DatabaseSecurityGroup(
            self,
            "Access",
            vpc=vpc,
            vpc_cidr=network.vpc_cidr,
            clients=workload_security_group,
            port=PORT,
            replication=database.standby.enabled,
        )
        self.security_group = access.security_group
        self.quarantine_security_group = access.quarantine
        members = MEMBERS if database.standby.enabled else MEMBERS[:1]
        if database.standby.enabled:
            self._standby_secrets(env)
        self.members: dict[str, DatabaseInstance] = {}
        restore_script = ""
        for member in members:
            zone = member_zone(site, database, member)
            rendered = render_host(
                inputs=host_inputs(site, network, database, member, recovery_site=recovery_site),
                database=database,
            )
            parts = DatabaseInstance(
                self,
                "Host" if member == MEMBERS[0] else "StandbyHost",
                database=database,
                region=site.region,
                vpc=vpc,
                subnet=next(s for s in vpc.private_subnets if s.availability_zone == zone),
                security_group=self.security_group,
                key=self.storage_key,
                user_data_gzip=rendered.user_data_gzip(),
                backup_tag=(BACKUP_TAG_KEY, f"{env}-database"),
                availability_zone=zone,
                logical_id_prefix="" if member == MEMBERS[0] else "Standby",
            )
            if member == MEMBERS[0]:
                restore_script = rendered.restore_script  # the same on either host
            Tags.of(parts.instance).add(WRITER_TAG, database.standby.writer)
            Tags.of(parts.instance).add(MEMBER_TAG, member)
            self.members[member] = parts
        self.host_parts = self.members[MEMBERS[0]]
        # The primary by config: where the upgrade's backup gate and the host alarms point.
        writer = self.members[database.standby.writer]
        self.instance = writer.instance
        self.data_volume = writer.data_volume
        self.zone = self._private_names(env, vpc, database)
        # Twenty connects to the stable name, which `python -m infra failover` moves.
        self.host = writer_name(env)
        # ---- restore (issue 22): the fixed-step document `python -m infra restore` sends
        self.restore_document = ssm.CfnDocument(
            self,
            "RestoreDocument",
            name=restore_document_name(env),
            document_type="Command",
            document_format="JSON",
            update_method="NewVersion",
            content=restore_document(
                restore_script, repositories=2 if recovery_site is not None else 1
            ),
        )
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
        for parts in self.members.values():
            self._grant_host(parts.role, metrics_namespace=metrics_namespace(env))
            if recovery_site is not None:
                self._grant_repo2(parts.role, recovery_site)
        self.pgbackrest_info = self._pgbackrest_info_document(env)
        if database.standby.enabled:
            self._replication_documents(env)
            self.failover_policy = self._failover_policy(env, site)
        CfnOutput(self, "InstanceId", value=self.instance.instance_id)
        for member, parts in self.members.items():
            CfnOutput(self, f"{member.capitalize()}InstanceId", value=parts.instance.instance_id)
        CfnOutput(self, "HostName", value=self.host)
        CfnOutput(self, "PrivateZoneId", value=self.zone.hosted_zone_id)
        CfnOutput(self, "SecurityGroupId", value=self.security_group.security_group_id)
        if self.quarantine_security_group is not None:
            CfnOutput(
                self,
                "QuarantineSecurityGroupId",
                value=self.quarantine_security_group.security_group_id,
            )
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

    # --- streaming standby (issue 21) -------------------------------------------------------
    def _standby_secrets(self, env: str) -> None:
        """The replication role's password and the CA both hosts share (database hosts only)."""
        self.replication_credentials = GeneratedCredentials(
            self,
            "ReplicationCredentials",
            secret_name=secret_name(env, "database", "replication"),
            username=REPLICATION_ROLE,
            key=self.secrets_key,
            logical_id="ReplicationCredentialsSecret",
            description="Replication role of the database hosts (read by the hosts only)",
        ).secret
        self.ca_key = self._host_written_secret(
            "CaKey",
            name=secret_name(env, "database", "ca-key"),
            description="The database CA's key and certificate, written by the first host and "
            "read by the other, so both serve certificates of one CA (hosts only)",
        )

    def _host_written_secret(
        self, construct_id: str, *, name: str, description: str
    ) -> secretsmanager.Secret:
        """A retained secret on the stack's secrets key that a database host fills at first
        boot; its logical id is pinned (`<construct id>Secret`)."""
        secret = secretsmanager.Secret(
            self,
            construct_id,
            secret_name=name,
            description=description,
            encryption_key=self.secrets_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        cfn = secret.node.default_child
        assert isinstance(cfn, secretsmanager.CfnSecret)
        # Neither SecretString nor GenerateSecretString: CloudFormation creates the secret with
        # no value (CDK would otherwise generate a random password into it).
        cfn.add_property_deletion_override("GenerateSecretString")
        pin_logical_id(secret, f"{construct_id}Secret")
        return secret

    def _private_names(
        self, env: str, vpc: ec2.IVpc, database: DatabaseConfig
    ) -> route53.PrivateHostedZone:
        """`<env>.internal`: one name per host and the stable name of the primary.

        The stable name is a CNAME with a short TTL to the writer's name, from config
        `database.standby.writer`; failover UPSERTs it and rewrites that config line.
        """
        zone = route53.PrivateHostedZone(
            self, "PrivateZone", zone_name=private_zone_name(env), vpc=vpc
        )
        zone.apply_removal_policy(RemovalPolicy.RETAIN)
        pin_logical_id(zone, "PrivateZone")
        for member, parts in self.members.items():
            record = route53.ARecord(
                self,
                f"{member.capitalize()}Record",
                zone=zone,
                record_name=member_name(env, member) + ".",
                target=route53.RecordTarget.from_ip_addresses(parts.instance.instance_private_ip),
                ttl=Duration.seconds(MEMBER_TTL_SECONDS),
            )
            pin_logical_id(record, f"{member.capitalize()}Record")
        writer = route53.CnameRecord(
            self,
            "WriterRecord",
            zone=zone,
            record_name=writer_name(env) + ".",
            domain_name=member_name(env, database.standby.writer),
            ttl=Duration.seconds(WRITER_TTL_SECONDS),
        )
        pin_logical_id(writer, "WriterRecord")
        return zone

    def _replication_documents(self, env: str) -> None:
        """The commands failover and rebuild-standby send through SSM Run Command: one Command
        document per subcommand of twenty-db-replication, fixed steps, no parameter, so a
        caller allowed to send them can run exactly these and nothing else."""
        for subcommand, what in REPLICATION_DOCUMENTS.items():
            suffix = "".join(w.capitalize() for w in subcommand.split("-"))
            document = SsmCommandDocument(
                self,
                f"Document{suffix}",
                document_name=replication_document_name(env, subcommand),
                description=f"twenty-{env} database: {what}",
                commands=[f"{REPLICATION_SCRIPT} {subcommand}"],
                timeout_seconds=REPLICATION_DOCUMENT_TIMEOUT_SECONDS,
                step_name=subcommand.replace("-", ""),
            )
            document.document.override_logical_id(f"ReplicationDocument{suffix}")

    def _failover_policy(self, env: str, site: Site) -> iam.ManagedPolicy:
        """What `failover` and `rebuild-standby` need, and no more: the three documents on the
        two hosts (never AWS-RunShellScript), the fence on those hosts and groups, the stable
        name's zone. Not attached: operators attach it to their role or permission set."""
        arn = f"arn:{self.partition}"
        instances = [
            f"{arn}:ec2:{site.region}:{site.account}:instance/{parts.instance.instance_id}"
            for parts in self.members.values()
        ]
        groups = [
            f"{arn}:ec2:{site.region}:{site.account}:security-group/{group.security_group_id}"
            for group in (self.security_group, self.quarantine_security_group)
            if group is not None
        ]
        documents = [
            f"{arn}:ssm:{site.region}:{site.account}:document/"
            f"{replication_document_name(env, subcommand)}"
            for subcommand in REPLICATION_DOCUMENTS
        ]
        policy = iam.ManagedPolicy(
            self,
            "FailoverPolicy",
            managed_policy_name=f"twenty-{env}-database-failover",
            description="python -m infra failover / rebuild-standby for twenty-" + env,
            statements=[
                iam.PolicyStatement(
                    actions=["ssm:SendCommand"], resources=[*documents, *instances]
                ),
                iam.PolicyStatement(
                    actions=["ec2:ModifyInstanceAttribute"], resources=[*instances, *groups]
                ),
                iam.PolicyStatement(
                    actions=["ec2:StopInstances", "ec2:StartInstances"], resources=instances
                ),
                iam.PolicyStatement(
                    actions=["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"],
                    resources=[self.zone.hosted_zone_arn],
                ),
                iam.PolicyStatement(
                    actions=["cloudformation:DescribeStacks"], resources=[self.stack_id]
                ),
                # No resource-level permissions exist for these reads.
                iam.PolicyStatement(
                    actions=[
                        "ssm:GetCommandInvocation",
                        "ssm:DescribeInstanceInformation",
                        "ec2:DescribeInstances",
                        "route53:GetChange",
                    ],
                    resources=["*"],
                ),
            ],
        )
        self.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ssm:GetCommandInvocation, ssm:DescribeInstanceInformation, ec2:DescribeInstances and "
            "route53:GetChange have no "
            "resource-level permissions; every change is limited to the hosts, groups, "
            "documents and zone of this stack",
        )
        return policy

    # -------------------------------------------------------------------------------------------

    def _grant_host(self, role: iam.IRole, *, metrics_namespace: str) -> None:
        """What the host does with its role: read its passwords, write backups, ship logs."""
        self.app_credentials.grant_read(role)
        self.admin_credentials.grant_read(role)
        self.ca_certificate.grant_read(role)
        self.ca_certificate.grant_write(role)
        if self.database_config.standby.enabled:
            assert self.replication_credentials is not None
            self.replication_credentials.grant_read(role)
            self.ca_key.grant_read(role)
            self.ca_key.grant_write(role)
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
        policy = role.node.find_child("DefaultPolicy")
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
        for public in (
            self.ca_certificate,
            *([self.ca_key] if self.replication_credentials else []),
        ):
            self.acknowledge(
                public,
                "AwsSolutions-SMG4",
                "The database CA (certificate, and its key for the hosts only) changes only when "
                "the CA is replaced (docs/runbooks/database.md); rotating it on a schedule would "
                "break every client's verification",
            )
        credentials: list[secretsmanager.ISecret] = [self.app_credentials, self.admin_credentials]
        if self.replication_credentials is not None:
            credentials.append(self.replication_credentials)
        for secret in credentials:
            self.acknowledge(
                secret,
                "AwsSolutions-SMG4",
                "A rotation Lambda cannot change the password inside PostgreSQL on a private host "
                "without network access to it; rotation is a runbook step that updates the role "
                "and the secret together (docs/runbooks/database.md)",
            )
        for host in self.members.values():
            self._acknowledge_host(host)
        self.acknowledge(
            self.snapshots.plan.node.find_child("TaggedVolumes").node.find_child("Role"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
            "AWS Backup's own service policy: the snapshot and copy actions it needs change with "
            "the service, which AWS keeps current in this policy",
        )

    def _acknowledge_host(self, host: DatabaseInstance) -> None:
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
