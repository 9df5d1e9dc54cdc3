"""Inputs for rendering the manifests outside CDK: config values plus obvious test stand-ins.

The stand-ins mark where the other stacks' attributes go (ARNs, hosts); they are shaped like the
real thing so that schema checks and checkov see realistic manifests, and named `test-` so that
nobody mistakes them for a deployed resource.
"""

from __future__ import annotations

from infra.config import EnvironmentConfig
from infra.manifests import ManifestInputs


def test_inputs(cfg: EnvironmentConfig) -> ManifestInputs:
    env = cfg.name
    arn = f"arn:aws:elasticloadbalancing:{cfg.region}:{cfg.account}:targetgroup"
    return ManifestInputs(
        environment=env,
        domain_name=cfg.domain_name,
        region=cfg.region,
        workloads=cfg.workloads,
        secret_store_name=cfg.workloads.secret_store_name,
        file_bucket_name=f"twenty-{env}-files-{cfg.account}-{cfg.region}",
        redis_host=f"test-redis.{env}.cache.amazonaws.com",
        redis_port=6379,
        redis_auth_secret=f"twenty/{env}/redis-auth-token",
        app_secret=f"twenty/{env}/app-secret",
        encryption_key_secret=f"twenty/{env}/encryption-key",
        database_host=f"test-database.{env}.internal",
        # An address of the first private subnet (the host's subnet is one of them).
        database_address=str(next(cfg.network.private_subnets[0].hosts()) + 9),
        database_port=5432,
        database_name="twenty",
        database_secret=f"twenty/{env}/database-app-credentials",
        database_ca_secret=f"twenty/{env}/database/ca-certificate",
        smtp_secret=f"twenty/{env}/smtp",
        # The example instance id of the EC2 documentation.
        database_instance_id="i-1234567890abcdef0",
        frontend_target_group_arn=f"{arn}/test-frontend/0123456789abcdef",
        backend_target_group_arn=f"{arn}/test-backend/0123456789abcdef",
        public_subnet_cidrs=[str(c) for c in cfg.network.public_subnets],
        private_subnet_cidrs=[str(c) for c in cfg.network.private_subnets],
        email=cfg.email,
    )


test_inputs.__test__ = False  # type: ignore[attr-defined]  # a helper, not a pytest test
