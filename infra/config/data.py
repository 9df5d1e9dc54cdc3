"""The data services beside the cluster: the Redis/Valkey cache and the file bucket."""

from __future__ import annotations

from pydantic import (
    Field,
    model_validator,
)

from infra.config.base import Strict, SubfieldError


class RedisConfig(Strict):
    """The ElastiCache replication group Twenty uses for its cache and BullMQ queues."""

    engine: str = Field(default="valkey", description="valkey or redis (Redis OSS).")
    engine_version: str = Field(
        default="8.0", description="Engine version: 7.2/8.0 for valkey, 7.1 for redis."
    )
    node_type: str = Field(description="Cache node type, e.g. cache.t4g.micro.")
    nodes: int = Field(
        ge=1,
        le=6,
        description="Nodes: 1 (dev, qa) or 2+ (a primary and replicas across zones, with "
        "automatic failover and multi-AZ).",
    )
    snapshot_retention_days: int = Field(
        default=1, ge=0, le=35, description="Days of daily snapshots kept (0 turns them off)."
    )

    @model_validator(mode="after")
    def _engine_known(self) -> RedisConfig:
        supported = {"valkey": ("7.2", "8.0"), "redis": ("7.0", "7.1")}
        if self.engine not in supported:
            raise SubfieldError([("engine", f"{self.engine!r} must be valkey or redis")])
        if self.engine_version not in supported[self.engine]:
            versions = " or ".join(supported[self.engine])
            raise SubfieldError(
                [
                    (
                        "engine_version",
                        f"{self.engine_version!r} must be {versions} for {self.engine}",
                    )
                ]
            )
        return self

    @property
    def parameter_group_family(self) -> str:
        """valkey8, valkey7 or redis7: the family of the engine's major version."""
        return f"{self.engine}{self.engine_version.split('.')[0]}"


class StorageConfig(Strict):
    """The S3 bucket of attachments and its access logs."""

    noncurrent_version_retention_days: int = Field(
        default=90,
        ge=1,
        description="Days an overwritten or deleted file version is kept before expiry.",
    )
    access_log_retention_days: int = Field(
        default=365, ge=1, description="Days the bucket's server access logs are kept."
    )
