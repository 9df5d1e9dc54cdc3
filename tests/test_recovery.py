"""The recovery region: `twenty-<env>-recovery` and what the primary stacks send there.

Every environment with a `recovery` section: the stack is placed in the recovery region (and
account), repo2's bucket has Object Lock at least as long as pgBackRest keeps backups, both
vaults are locked (compliance with a grace in production, governance elsewhere), the snapshot
plan copies into the recovery vault by its derived ARN, the file bucket replicates there with
the replica's key and without delete markers, and the host may use repo2. The names the primary
stacks derive are the names the recovery stack creates: a drift between them is a failure here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import EnvironmentConfig
from infra.naming import (
    backup_vault_arn,
    file_bucket_name,
    file_replication_role_name,
    key_alias_arn,
    pgbackrest_bucket_name,
    recovery_key_alias,
    recovery_vault_name,
    stack_parts,
)
from tests.conftest import ALL_CONFIGS, CONFIGS, SynthesizedEstate

RECOVERING = [name for name, cfg in sorted(CONFIGS.items()) if cfg.recovery is not None]


@pytest.fixture(params=RECOVERING or [pytest.param(None, marks=pytest.mark.skip("no recovery"))])
def renv(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rcfg(renv: str) -> EnvironmentConfig:
    return CONFIGS[renv]


def _template(synthesized: SynthesizedEstate, env: str, part: str) -> dict[str, Any]:
    return synthesized.template_json(f"twenty-{env}-{part}")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _logical_id_of_bucket(template: dict[str, Any], name: str) -> str:
    [logical_id] = [
        k
        for k, v in _of_type(template, "AWS::S3::Bucket").items()
        if v["Properties"].get("BucketName") == name
    ]
    return logical_id


def test_production_has_a_recovery_region() -> None:
    for cfg in CONFIGS.values():
        if cfg.is_production:
            assert cfg.recovery is not None and cfg.recovery.region != cfg.region
            assert cfg.recovery.lock_mode == "compliance"


def test_recovery_stack_is_in_the_recovery_region(synthesized: SynthesizedEstate, rcfg) -> None:
    manifest = synthesized.manifest["artifacts"]
    assert rcfg.recovery is not None
    account = rcfg.recovery.account or rcfg.account
    artifact = manifest[f"twenty-{rcfg.name}-recovery"]
    assert artifact["environment"] == f"aws://{account}/{rcfg.recovery.region}"
    assert "recovery" in stack_parts(rcfg)
    # The stacks that name its resources deploy after it.
    for part in ("database", "data"):
        assert (
            f"twenty-{rcfg.name}-recovery" in manifest[f"twenty-{rcfg.name}-{part}"]["dependencies"]
        ), part


def test_repo2_bucket_has_object_lock_covering_the_retention(
    synthesized: SynthesizedEstate, rcfg: EnvironmentConfig
) -> None:
    site = rcfg.recovery_site
    assert site is not None and rcfg.recovery is not None
    template = _template(synthesized, rcfg.name, "recovery")
    bucket = template["Resources"][_logical_id_of_bucket(template, pgbackrest_bucket_name(site))]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["ObjectLockEnabled"] is True
    retention = props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention["Mode"] == rcfg.recovery.lock_mode.upper()
    assert retention["Days"] >= rcfg.database.backup.pgbackrest_retention_days
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": ["RecoveryKey", "Arn"]
    }
    # TLS only: the bucket policy denies any request without aws:SecureTransport.
    policies = [
        p
        for p in _of_type(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"]
        == {"Ref": _logical_id_of_bucket(template, props["BucketName"])}
    ]
    [policy] = policies
    denies = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert denies


def test_recovery_key_alias_is_the_derived_one(synthesized: SynthesizedEstate, rcfg) -> None:
    template = _template(synthesized, rcfg.name, "recovery")
    [alias] = _of_type(template, "AWS::KMS::Alias").values()
    assert alias["Properties"]["AliasName"] == recovery_key_alias(rcfg.name)
    assert alias["Properties"]["TargetKeyId"] == {"Fn::GetAtt": ["RecoveryKey", "Arn"]}
    key = template["Resources"]["RecoveryKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def _lock_expected(cfg: EnvironmentConfig) -> dict[str, int]:
    assert cfg.recovery is not None
    lock = {
        "MinRetentionDays": cfg.database.backup.snapshot_retention_days,
        "MaxRetentionDays": cfg.recovery.max_retention_days,
    }
    if cfg.recovery.lock_mode == "compliance":
        lock["ChangeableForDays"] = cfg.recovery.compliance_grace_days
    return lock


def test_both_vaults_are_locked(synthesized: SynthesizedEstate, rcfg: EnvironmentConfig) -> None:
    recovery = _template(synthesized, rcfg.name, "recovery")
    [vault] = _of_type(recovery, "AWS::Backup::BackupVault").values()
    assert vault["Properties"]["BackupVaultName"] == recovery_vault_name(rcfg.name)
    assert vault["Properties"]["LockConfiguration"] == _lock_expected(rcfg)
    assert vault["DeletionPolicy"] == "Retain"
    primary = _template(synthesized, rcfg.name, "database")["Resources"]["DatabaseBackupVault"]
    assert primary["Properties"]["LockConfiguration"] == _lock_expected(rcfg)
    # Compliance mode only in production: a test environment's lock can still be lifted.
    assert ("ChangeableForDays" in vault["Properties"]["LockConfiguration"]) == (
        rcfg.recovery is not None and rcfg.recovery.lock_mode == "compliance"
    )


def test_snapshot_plan_copies_into_the_recovery_vault(
    synthesized: SynthesizedEstate, rcfg: EnvironmentConfig
) -> None:
    site = rcfg.recovery_site
    assert site is not None
    database = _template(synthesized, rcfg.name, "database")
    [plan] = _of_type(database, "AWS::Backup::BackupPlan").values()
    [rule] = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    [copy] = rule["CopyActions"]
    arn = copy["DestinationBackupVaultArn"]
    assert arn == backup_vault_arn(site, recovery_vault_name(rcfg.name))
    assert f":backup:{site.region}:{site.account}:" in arn
    assert site.region != rcfg.region
    retention = rcfg.database.backup.snapshot_retention_days
    assert copy["Lifecycle"] == {"DeleteAfterDays": retention}


def test_file_bucket_replicates_without_delete_markers(
    synthesized: SynthesizedEstate, rcfg: EnvironmentConfig
) -> None:
    site = rcfg.recovery_site
    assert site is not None
    data = _template(synthesized, rcfg.name, "data")
    props = data["Resources"]["FileBucket"]["Properties"]
    replication = props["ReplicationConfiguration"]
    [rule] = replication["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    destination = rule["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::{file_bucket_name(site)}"
    assert destination["EncryptionConfiguration"]["ReplicaKmsKeyID"] == key_alias_arn(
        site, recovery_key_alias(rcfg.name)
    )
    # The replica bucket exists under that name in the recovery stack, versioned (replication
    # needs versioning on both sides).
    recovery = _template(synthesized, rcfg.name, "recovery")
    replica = recovery["Resources"][_logical_id_of_bucket(recovery, file_bucket_name(site))]
    assert replica["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    # The replication role: named as the recovery account's bucket policy expects, and allowed
    # to encrypt only with the key carrying the recovery alias.
    [role_id] = [
        k
        for k, v in _of_type(data, "AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == file_replication_role_name(rcfg.name)
    ]
    assert replication["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    statements = _role_statements(data, role_id)
    [encrypt] = [s for s in statements if s["Action"] == "kms:Encrypt"]
    assert encrypt["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": recovery_key_alias(rcfg.name)}
    }
    assert encrypt["Resource"] == f"arn:aws:kms:{site.region}:{site.account}:key/*"


def _role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in _of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_database_host_may_use_repo2(synthesized: SynthesizedEstate, rcfg) -> None:
    site = rcfg.recovery_site
    database = _template(synthesized, rcfg.name, "database")
    text = json.dumps(database)
    bucket_arn = f"arn:aws:s3:::{pgbackrest_bucket_name(site)}"
    roles = [
        k
        for k, v in _of_type(database, "AWS::IAM::Role").items()
        if "ec2.amazonaws.com" in json.dumps(v["Properties"]["AssumeRolePolicyDocument"])
    ]
    # one host role per database host (with a standby, either may be the primary that backs up)
    assert len(roles) == (2 if rcfg.database.standby.enabled else 1)
    for role_id in roles:
        statements = _role_statements(database, role_id)
        resources = [r for s in statements for r in _as_list(s["Resource"])]
        assert bucket_arn in resources and f"{bucket_arn}/*" in resources, role_id
    assert recovery_key_alias(rcfg.name) in text


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_environment_without_recovery_has_no_copies(synthesized: SynthesizedEstate) -> None:
    for name, cfg in CONFIGS.items():
        if cfg.recovery is not None:
            continue
        assert f"twenty-{name}-recovery" not in synthesized.stack_names
        data = _template(synthesized, name, "data")
        assert "ReplicationConfiguration" not in data["Resources"]["FileBucket"]["Properties"]
        database = _template(synthesized, name, "database")
        [plan] = _of_type(database, "AWS::Backup::BackupPlan").values()
        assert "CopyActions" not in plan["Properties"]["BackupPlan"]["BackupPlanRule"][0]


def test_environment_region_ignores_the_recovery_stack(synthesized: SynthesizedEstate) -> None:
    """Cost and diff read an environment's region from the assembly: the recovery stack's
    region must not stand in for it (no price file, wrong prices)."""

    from infra.review.assembly import regions_by_environment

    regions = regions_by_environment(Path(synthesized.assembly.directory))
    for name, cfg in CONFIGS.items():
        assert regions[name] == cfg.region, name


def test_recovery_stack_listed_last_still_not_the_region(tmp_path: Path) -> None:
    from infra.review.assembly import regions_by_environment

    def stack(name: str, region: str) -> dict[str, Any]:
        return {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://333333333333/{region}",
            "properties": {"stackName": name},
        }

    manifest = {
        "artifacts": {
            "twenty-prod-network": stack("twenty-prod-network", "sa-east-1"),
            "twenty-prod-recovery": stack("twenty-prod-recovery", "us-east-1"),
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert regions_by_environment(tmp_path) == {"prod": "sa-east-1"}


def test_separate_backup_account_admits_the_estate_account_only_to_write() -> None:
    """recovery.account: the recovery stack's resource policies admit the estate's account
    (the replication role by name, as a condition: it is created after this stack)."""
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import cdk_context
    from infra.stacks.recovery import RecoveryStack

    prod = ALL_CONFIGS["prod"]
    assert prod.recovery is not None
    cfg = prod.model_copy(
        update={"recovery": prod.recovery.model_copy(update={"account": "444444444444"})}
    )
    stack = RecoveryStack(App(context=cdk_context()), cfg=cfg)
    assert (stack.account, stack.region) == ("444444444444", prod.recovery.region)
    template = Template.from_stack(stack).to_json()
    text = json.dumps(template)
    root = {"AWS": f"arn:aws:iam::{prod.account}:root"}
    statements = [
        s
        for r in template["Resources"].values()
        for doc in (
            r["Properties"].get("PolicyDocument"),
            r["Properties"].get("KeyPolicy"),
            r["Properties"].get("AccessPolicy"),
        )
        if isinstance(doc, dict)
        for s in doc["Statement"]
        if s.get("Principal") == root
    ]
    sids = {s.get("Sid") for s in statements}
    assert {
        "PrimaryAccountWritesCopies",
        "PrimaryAccountPgBackRest",
        "PrimaryAccountReplicates",
        "PrimaryAccountCopiesIn",
    } <= sids
    [replicates] = [s for s in statements if s.get("Sid") == "PrimaryAccountReplicates"]
    assert replicates["Condition"] == {
        "ArnEquals": {
            "aws:PrincipalArn": f"arn:aws:iam::{prod.account}:role/"
            f"{file_replication_role_name(prod.name)}"
        }
    }
    # Write and read only: deleting a version, a key or a recovery point is nobody's right here.
    granted = {
        a
        for s in statements
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert granted <= {
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",  # a delete marker only: Object Lock keeps the version
        "s3:ReplicateObject",
        "s3:ReplicateTags",
        "s3:ObjectOwnerOverrideToBucketOwner",
        "s3:GetBucketVersioning",
        "backup:CopyIntoBackupVault",
    }, granted
    assert "444444444444" in text


def test_separate_backup_account_replication_hands_the_replicas_over() -> None:
    """Replicas in another account are owned by it (AccessControlTranslation), addressed to it."""
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import cdk_context
    from infra.estate import EstateParts

    prod = ALL_CONFIGS["prod"]
    assert prod.recovery is not None
    cfg = prod.model_copy(
        update={"recovery": prod.recovery.model_copy(update={"account": "444444444444"})}
    )
    data = Template.from_stack(EstateParts(App(context=cdk_context()), cfg).data).to_json()
    [rule] = data["Resources"]["FileBucket"]["Properties"]["ReplicationConfiguration"]["Rules"]
    destination = rule["Destination"]
    assert destination["Account"] == "444444444444"
    assert destination["AccessControlTranslation"] == {"Owner": "Destination"}
    assert destination["Bucket"] == (
        f"arn:aws:s3:::twenty-prod-files-444444444444-{prod.recovery.region}"
    )
    assert (
        ":444444444444:alias/twenty-prod-recovery"
        in (destination["EncryptionConfiguration"]["ReplicaKmsKeyID"])
    )
