"""The database stack of every environment: the host, its volume, access and backups (DB-*)."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from infra.config import EnvironmentConfig
from infra.review.stateful import is_stateful
from tests.conftest import SynthesizedEstate


def _resources(synthesized: SynthesizedEstate, env: str, kind: str) -> dict[str, dict]:
    template = synthesized.template_json(f"twenty-{env}-database")
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _resource(synthesized: SynthesizedEstate, env: str, logical_id: str) -> dict:
    return synthesized.template_json(f"twenty-{env}-database")["Resources"][logical_id]


def test_stateful_resources_retained_under_pinned_ids(synthesized: SynthesizedEstate, env: str):
    pinned = {
        "DatabaseInstance": "AWS::EC2::Instance",
        "DataVolume": "AWS::EC2::Volume",
        "AppCredentialsSecret": "AWS::SecretsManager::Secret",
        "AdminCredentialsSecret": "AWS::SecretsManager::Secret",
        "PgBackRestBucket": "AWS::S3::Bucket",
        "DatabaseBackupVault": "AWS::Backup::BackupVault",
        "StorageKey": "AWS::KMS::Key",
        "SecretsKey": "AWS::KMS::Key",
    }
    for logical_id, kind in pinned.items():
        resource = _resource(synthesized, env, logical_id)
        assert resource["Type"] == kind
        assert resource["DeletionPolicy"] == "Retain", logical_id
        assert resource["UpdateReplacePolicy"] == "Retain", logical_id
    attachment = _resource(synthesized, env, "DataVolumeAttachment")
    assert attachment["Properties"]["VolumeId"] == {"Ref": "DataVolume"}
    assert attachment["Properties"]["InstanceId"] == {"Ref": "DatabaseInstance"}


def test_instance_hardening(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    props = _resource(synthesized, env, "DatabaseInstance")["Properties"]
    database = cfg.database
    assert props["InstanceType"] == database.instance_type
    assert props["AvailabilityZone"] == database.availability_zone
    assert props["ImageId"] == database.ami_ids[cfg.region]
    assert props["DisableApiTermination"] is True
    assert props["Monitoring"] is True
    assert props["MetadataOptions"]["HttpTokens"] == "required"
    assert props["MetadataOptions"]["InstanceMetadataTags"] == "enabled"
    assert "KeyName" not in props, "no SSH key: Session Manager only"
    [interface] = props["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is False
    [root] = props["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True
    assert root["Ebs"]["KmsKeyId"] == {"Fn::GetAtt": ["StorageKey", "Arn"]}
    tags = {t["Key"]: t["Value"] for t in props["Tags"]}
    assert tags["TwentyDataVolumeId"] == {"Ref": "DataVolume"}


def test_instance_in_the_configured_private_subnet(synthesized: SynthesizedEstate, env: str, cfg):
    props = _resource(synthesized, env, "DatabaseInstance")["Properties"]
    subnet = props["NetworkInterfaces"][0]["SubnetId"]["Fn::GetStackOutput"]
    zone_index = cfg.availability_zones.index(cfg.database.availability_zone) + 1
    assert subnet["StackName"] == f"twenty-{env}-network"
    assert f"PrivateSubnet{zone_index}" in subnet["OutputName"]


def test_data_volume_follows_config(synthesized: SynthesizedEstate, env: str, cfg):
    props = _resource(synthesized, env, "DataVolume")["Properties"]
    database = cfg.database
    assert props["VolumeType"] == "gp3"
    assert props["Size"] == database.data_volume_size_gib
    assert props["Iops"] == database.data_volume_iops
    assert props["Throughput"] == database.data_volume_throughput_mibps
    assert props["AvailabilityZone"] == database.availability_zone
    assert props["Encrypted"] is True
    assert props["KmsKeyId"] == {"Fn::GetAtt": ["StorageKey", "Arn"]}
    tags = {t["Key"]: t["Value"] for t in props["Tags"]}
    assert tags["twenty-backup"] == f"{env}-database"


def test_auto_recovery_alarm(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    synthesized.template(env, "database").has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "StatusCheckFailed_System",
            "Namespace": "AWS/EC2",
            "Dimensions": [{"Name": "InstanceId", "Value": {"Ref": "DatabaseInstance"}}],
            "AlarmActions": [f"arn:aws:automate:{cfg.region}:ec2:recover"],
            "Statistic": "Maximum",
            "Threshold": 1,
        },
    )


def test_security_group_admits_postgres_from_workloads_only(synthesized, env: str, cfg):
    ingress = list(_resources(synthesized, env, "AWS::EC2::SecurityGroupIngress").values())
    # With a standby, the other rules admit the database hosts themselves (replication) and a
    # fenced host cloning the new primary: groups of this stack, never an address range.
    from_stack = [r for r in ingress if "Fn::GetAtt" in r["Properties"]["SourceSecurityGroupId"]]
    assert len(from_stack) == (2 if cfg.database.standby.enabled else 0)
    assert all(r["Properties"]["FromPort"] == 5432 for r in from_stack)
    [rule] = [r for r in ingress if r not in from_stack]
    props = rule["Properties"]
    assert (props["IpProtocol"], props["FromPort"], props["ToPort"]) == ("tcp", 5432, 5432)
    source = props["SourceSecurityGroupId"]["Fn::GetStackOutput"]
    assert source["StackName"] == f"twenty-{env}-network"
    assert "WorkloadSecurityGroup" in source["OutputName"]
    groups = _resources(synthesized, env, "AWS::EC2::SecurityGroup")
    [group] = [g for g in groups.values() if "fenced" not in g["Properties"]["GroupDescription"]]
    assert "SecurityGroupIngress" not in group["Properties"]
    resolver = f"{cfg.network.vpc_cidr.network_address + 2}/32"
    egress = sorted(
        (e["IpProtocol"], e["FromPort"], e["ToPort"], e["CidrIp"])
        for e in group["Properties"]["SecurityGroupEgress"]
    )
    replication_egress = _resources(synthesized, env, "AWS::EC2::SecurityGroupEgress")
    # to the other host (replication) and from the fence to the primary (clone)
    assert len(replication_egress) == (2 if cfg.database.standby.enabled else 0)
    assert egress == sorted(
        [
            ("tcp", 443, 443, "0.0.0.0/0"),
            ("udp", 53, 53, resolver),
            ("tcp", 53, 53, resolver),
            ("udp", 123, 123, "0.0.0.0/0"),
        ]
    )


def test_backup_plan_daily_with_configured_retention(synthesized, env: str, cfg):
    template = synthesized.template(env, "database")
    template.has_resource_properties(
        "AWS::Backup::BackupPlan",
        {
            "BackupPlan": {
                "BackupPlanRule": [
                    Match.object_like(
                        {
                            "ScheduleExpression": "cron(0 5 * * ? *)",
                            "Lifecycle": {
                                "DeleteAfterDays": cfg.database.backup.snapshot_retention_days
                            },
                            "TargetBackupVault": {
                                "Fn::GetAtt": ["DatabaseBackupVault", "BackupVaultName"]
                            },
                        }
                    )
                ]
            }
        },
    )
    template.has_resource_properties(
        "AWS::Backup::BackupSelection",
        {
            "BackupSelection": Match.object_like(
                {
                    "ListOfTags": [
                        {
                            "ConditionKey": "twenty-backup",
                            "ConditionType": "STRINGEQUALS",
                            "ConditionValue": f"{env}-database",
                        }
                    ],
                }
            )
        },
    )
    vault = _resource(synthesized, env, "DatabaseBackupVault")["Properties"]
    assert "EncryptionKeyArn" in vault


def test_pgbackrest_bucket(synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig):
    props = _resource(synthesized, env, "PgBackRestBucket")["Properties"]
    assert props["BucketName"] == f"twenty-{env}-pgbackrest-{cfg.account}-{cfg.region}"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    [rule] = props["LifecycleConfiguration"]["Rules"]
    backup = cfg.database.backup
    assert rule["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": backup.bucket_ia_transition_days}
    ]
    assert rule["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": backup.bucket_noncurrent_expiry_days
    }
    policies = _resources(synthesized, env, "AWS::S3::BucketPolicy").values()
    ssl_only = [
        p
        for p in policies
        if p["Properties"]["Bucket"] == {"Ref": "PgBackRestBucket"}
        and any(
            s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            and s["Effect"] == "Deny"
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        )
    ]
    assert ssl_only


def test_secrets_generated_under_the_environment_prefix(synthesized, env: str):
    for logical_id, user in (("AppCredentialsSecret", "app"), ("AdminCredentialsSecret", "admin")):
        props = _resource(synthesized, env, logical_id)["Properties"]
        assert props["Name"] == f"twenty/{env}/database/{user}"
        assert props["KmsKeyId"] == {"Fn::GetAtt": ["SecretsKey", "Arn"]}
        assert props["GenerateSecretString"]["GenerateStringKey"] == "password"
        assert "SecretString" not in props


def _mentions_of_password(node: object, key: str = "") -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            found += _mentions_of_password(v, k)
    elif isinstance(node, list):
        for item in node:
            found += _mentions_of_password(item, key)
    if "password" in key.lower() or (isinstance(node, str) and "password" in node.lower()):
        found.append((key, node))
    return found


def test_no_secret_value_in_the_template(synthesized: SynthesizedEstate, env: str, cfg):
    """The only mentions of a password are the generator's settings, never a value."""
    template = synthesized.template_json(f"twenty-{env}-database")
    assert '"SecretString"' not in json.dumps(template)
    mentions = _mentions_of_password(template["Resources"])
    generated = 3 if cfg.database.standby.enabled else 2  # app, admin (, replication)
    assert sorted(mentions, key=str) == sorted(
        [("GenerateStringKey", "password"), ("PasswordLength", 40)] * generated, key=str
    )


def _host_secrets(cfg: EnvironmentConfig) -> tuple[str, ...]:
    names = ("AdminCredentialsSecret", "AppCredentialsSecret", "CaCertificateSecret")
    if cfg.database.standby.enabled:
        names += ("ReplicationCredentialsSecret", "CaKeySecret")
    return names


def test_host_role_reads_only_its_secrets(synthesized: SynthesizedEstate, env: str, cfg):
    policies = _resources(synthesized, env, "AWS::IAM::Policy").values()
    assert len(policies) == (2 if cfg.database.standby.enabled else 1), "one per host"
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        secret_reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
        resources = sorted(
            json.dumps(r)
            for s in secret_reads
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        )
        assert resources == sorted(json.dumps({"Ref": name}) for name in _host_secrets(cfg))
        assert not any(s["Action"] == "s3:*" or s["Action"] == "*" for s in statements)


def test_ca_certificate_secret_is_empty_retained_and_writable_by_the_host(
    synthesized: SynthesizedEstate, env: str, cfg
):
    secrets = _resources(synthesized, env, "AWS::SecretsManager::Secret")
    written = {"CaCertificateSecret": f"twenty/{env}/database/ca-certificate"}
    if cfg.database.standby.enabled:
        written["CaKeySecret"] = f"twenty/{env}/database/ca-key"
    for logical_id, name in written.items():
        secret = secrets[logical_id]
        assert secret["Properties"]["Name"] == name
        assert not {"SecretString", "GenerateSecretString"} & set(secret["Properties"])
        assert secret["DeletionPolicy"] == "Retain"
    for policy in _resources(synthesized, env, "AWS::IAM::Policy").values():
        writes = [
            s
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if "secretsmanager:PutSecretValue" in s["Action"]
        ]
        resources = [r for s in writes for r in _as_list(s["Resource"])]
        assert sorted(map(json.dumps, resources)) == sorted(
            json.dumps({"Ref": logical_id}) for logical_id in written
        )


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def test_stack_exposes_the_contract(synthesized: SynthesizedEstate, env: str):
    stack = synthesized.estates[env].database
    assert stack.port == 5432
    assert stack.database_name == "twenty"
    assert stack.app_credentials.secret_name
    assert stack.instance is not None and stack.data_volume is not None
    assert stack.admin_credentials is not stack.app_credentials


# --------------------------------------------------------------------------- standby (issue 21)


def test_standby_host_in_the_other_zone_retained_under_pinned_ids(synthesized, env, cfg):
    instances = _resources(synthesized, env, "AWS::EC2::Instance")
    volumes = _resources(synthesized, env, "AWS::EC2::Volume")
    if not cfg.database.standby.enabled:
        assert set(instances) == {"DatabaseInstance"} and set(volumes) == {"DataVolume"}
        return
    assert set(instances) == {"DatabaseInstance", "StandbyDatabaseInstance"}
    assert set(volumes) == {"DataVolume", "StandbyDataVolume"}
    other_zone = next(z for z in cfg.availability_zones if z != cfg.database.availability_zone)
    primary, standby = instances["DatabaseInstance"], instances["StandbyDatabaseInstance"]
    assert standby["Properties"]["AvailabilityZone"] == other_zone
    assert volumes["StandbyDataVolume"]["Properties"]["AvailabilityZone"] == other_zone
    for logical_id in ("StandbyDatabaseInstance", "StandbyDataVolume", "PrivateZone"):
        resource = _resource(synthesized, env, logical_id)
        assert is_stateful(resource["Type"]), "the diff guard blocks its replacement"
        assert resource["DeletionPolicy"] == "Retain", logical_id
        assert resource["UpdateReplacePolicy"] == "Retain", logical_id
    standby_volume = volumes["StandbyDataVolume"]["Properties"]
    assert standby_volume["Encrypted"] is True
    assert standby_volume["Size"] == cfg.database.data_volume_size_gib
    same = ("InstanceType", "ImageId", "DisableApiTermination", "MetadataOptions")
    for key in same:
        assert standby["Properties"][key] == primary["Properties"][key], key
    attachment = _resource(synthesized, env, "StandbyDataVolumeAttachment")["Properties"]
    assert attachment["VolumeId"] == {"Ref": "StandbyDataVolume"}
    assert attachment["InstanceId"] == {"Ref": "StandbyDatabaseInstance"}
    for logical_id, member in (("DatabaseInstance", "db1"), ("StandbyDatabaseInstance", "db2")):
        tags = {t["Key"]: t["Value"] for t in instances[logical_id]["Properties"]["Tags"]}
        assert tags["TwentyDatabaseMember"] == member
        assert tags["TwentyDatabaseWriter"] == cfg.database.standby.writer


def test_stable_name_points_at_the_configured_writer(synthesized, env, cfg):
    [zone] = _resources(synthesized, env, "AWS::Route53::HostedZone").values()
    assert zone["Properties"]["Name"] == f"{env}.internal."
    assert zone["DeletionPolicy"] == "Retain"
    records = _resources(synthesized, env, "AWS::Route53::RecordSet")
    writer = records["WriterRecord"]["Properties"]
    assert (writer["Name"], writer["Type"]) == (f"db.{env}.internal.", "CNAME")
    assert writer["ResourceRecords"] == [f"{cfg.database.standby.writer}.{env}.internal"]
    assert int(writer["TTL"]) <= 30, "failover moves it: resolvers must not keep it long"
    members = {"Db1Record": "DatabaseInstance"}
    if cfg.database.standby.enabled:
        members["Db2Record"] = "StandbyDatabaseInstance"
    for logical_id, instance in members.items():
        record = records[logical_id]["Properties"]
        assert record["Type"] == "A"
        assert record["ResourceRecords"] == [{"Fn::GetAtt": [instance, "PrivateIp"]}]
    assert set(records) == {"WriterRecord", *members}
    assert synthesized.estates[env].database.host == f"db.{env}.internal"


def test_replication_commands_are_fixed_ssm_documents(synthesized, env, cfg):
    """Issue 23's rule: what failover sends is a named Command document with one fixed step
    and no parameter, never AWS-RunShellScript."""
    documents = _resources(synthesized, env, "AWS::SSM::Document")
    prefix = f"twenty-{env}-db-"
    by_name = {
        d["Properties"]["Name"]: d["Properties"]
        for d in documents.values()
        if d["Properties"]["Name"].startswith(prefix)
    }
    if not cfg.database.standby.enabled:
        assert by_name == {}
        return
    assert set(by_name) == {f"{prefix}{sub}" for sub in ("status", "promote", "rebuild-standby")}
    for name, props in by_name.items():
        assert props["DocumentType"] == "Command"
        content = props["Content"]
        assert "parameters" not in content, name
        [step] = content["mainSteps"]
        subcommand = name.removeprefix(f"twenty-{env}-db-")
        assert step["inputs"]["runCommand"] == [
            f"/usr/local/sbin/twenty-db-replication {subcommand}"
        ]
    assert "AWS-RunShellScript" not in json.dumps(
        synthesized.template_json(f"twenty-{env}-database")
    )


def test_failover_policy_names_only_the_documents_and_hosts(synthesized, env, cfg):
    policies = {
        logical_id: policy
        for logical_id, policy in _resources(synthesized, env, "AWS::IAM::ManagedPolicy").items()
        if policy["Properties"]["ManagedPolicyName"] == f"twenty-{env}-database-failover"
    }
    if not cfg.database.standby.enabled:
        assert policies == {}
        return
    [policy] = policies.values()
    assert policy["Properties"]["ManagedPolicyName"] == f"twenty-{env}-database-failover"
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    [send] = [s for s in statements if s["Action"] == "ssm:SendCommand"]
    text = json.dumps(send["Resource"])
    for subcommand in ("status", "promote", "rebuild-standby"):
        assert f":document/twenty-{env}-db-{subcommand}" in text
    assert text.count(":document/") == 3 and text.count(":instance/") == 2
    assert "AWS-RunShellScript" not in json.dumps(policy)
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [sorted(s["Action"]) for s in wildcard] == [
        [
            "ec2:DescribeInstances",
            "route53:GetChange",
            "ssm:DescribeInstanceInformation",
            "ssm:GetCommandInvocation",
        ]
    ]
