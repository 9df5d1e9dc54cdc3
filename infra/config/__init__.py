"""Typed, validated configuration of one environment, loaded from `config/<name>.yaml`.

Every per-environment value of the estate lives in these models, one module per component
(mirroring `infra/stacks/`); stacks receive the slice they need and never read YAML. A bad file
produces `ConfigError` whose lines each name the file, the field and the fix, so
`python -m infra validate` and `cdk synth` can print them and exit 2.
"""

from infra.config.base import (
    CONFIG_DIR,
    LOG_RETENTION_DAYS,
    ConfigError,
    Site,
    Strict,
    SubfieldError,
    check_log_retention,
    check_sizes,
)
from infra.config.cicd import CicdConfig, GitHubRepositoryConfig
from infra.config.cluster import (
    ALB_CONTROLLER_POLICIES,
    KUBERNETES_VERSIONS,
    AddonVersionsConfig,
    ClusterConfig,
    NodeGroupConfig,
    NodeGroupsConfig,
    alb_controller_policy_file,
)
from infra.config.data import RedisConfig, StorageConfig
from infra.config.database import (
    POSTGRES_VERSIONS,
    UBUNTU_RELEASES,
    DatabaseBackupConfig,
    DatabaseConfig,
    DatabaseStandbyConfig,
    DatabaseTuningConfig,
)
from infra.config.dns import DnsConfig
from infra.config.edge import (
    COMMON_RULE_SET_RULES,
    MAX_FRONTEND_PATHS,
    PATHS_PER_RULE,
    TLS_POLICIES,
    WAF_MAX_RATE_LIMIT,
    WAF_MIN_RATE_LIMIT,
    AccessLogsConfig,
    EdgeConfig,
    HealthCheckConfig,
    TargetGroupConfig,
    TlsPolicy,
    WafConfig,
)
from infra.config.email import SES_SMTP_PORTS, EmailConfig, smtp_endpoint
from infra.config.environment import REQUIRED_TAGS, EnvironmentConfig
from infra.config.loader import (
    display_path,
    environment_files,
    load_all,
    load_config,
    load_environment,
    validate_files,
)
from infra.config.monitoring import GrafanaConfig, MonitoringConfig, ServiceLevelConfig
from infra.config.network import NetworkConfig
from infra.config.recovery import RecoveryConfig
from infra.config.workloads import (
    NodeOverheadConfig,
    ProbeConfig,
    ProbesConfig,
    WorkloadConfig,
    WorkloadsConfig,
)

__all__ = [
    "ALB_CONTROLLER_POLICIES",
    "COMMON_RULE_SET_RULES",
    "CONFIG_DIR",
    "KUBERNETES_VERSIONS",
    "LOG_RETENTION_DAYS",
    "MAX_FRONTEND_PATHS",
    "PATHS_PER_RULE",
    "POSTGRES_VERSIONS",
    "REQUIRED_TAGS",
    "SES_SMTP_PORTS",
    "TLS_POLICIES",
    "UBUNTU_RELEASES",
    "WAF_MAX_RATE_LIMIT",
    "WAF_MIN_RATE_LIMIT",
    "AccessLogsConfig",
    "AddonVersionsConfig",
    "CicdConfig",
    "ClusterConfig",
    "ConfigError",
    "DatabaseBackupConfig",
    "DatabaseConfig",
    "DatabaseStandbyConfig",
    "DatabaseTuningConfig",
    "DnsConfig",
    "EdgeConfig",
    "EmailConfig",
    "EnvironmentConfig",
    "GitHubRepositoryConfig",
    "GrafanaConfig",
    "HealthCheckConfig",
    "MonitoringConfig",
    "NetworkConfig",
    "NodeGroupConfig",
    "NodeGroupsConfig",
    "NodeOverheadConfig",
    "ProbeConfig",
    "ProbesConfig",
    "RecoveryConfig",
    "RedisConfig",
    "ServiceLevelConfig",
    "Site",
    "StorageConfig",
    "Strict",
    "SubfieldError",
    "TargetGroupConfig",
    "TlsPolicy",
    "WafConfig",
    "WorkloadConfig",
    "WorkloadsConfig",
    "alb_controller_policy_file",
    "check_log_retention",
    "check_sizes",
    "display_path",
    "environment_files",
    "load_all",
    "load_config",
    "load_environment",
    "smtp_endpoint",
    "validate_files",
]
