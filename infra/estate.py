"""Builds the stacks of one environment and wires each stack's outputs into the next.

Dependencies follow the resources a stack uses, so an environment deploys in few waves:
network and dns first; then the stacks that only need those, in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.redis_cache import REDIS_PORT
from infra.naming import OPTIONAL_PARTS, STACK_PARTS, stack_parts
from infra.stacks.base import EstateStack
from infra.stacks.cicd import CicdStack
from infra.stacks.cluster import ClusterStack
from infra.stacks.crm import CrmStack
from infra.stacks.data import DataStack
from infra.stacks.database import DatabaseStack
from infra.stacks.dns import DnsStack
from infra.stacks.edge import EdgeStack
from infra.stacks.monitoring import MonitoringStack
from infra.stacks.network import NetworkStack
from infra.stacks.recovery import RecoveryStack

__all__ = ["OPTIONAL_PARTS", "STACK_PARTS", "Estate", "build_estate", "stack_parts"]


@dataclass
class Estate:
    """The stacks of one environment, by part."""

    config: EnvironmentConfig
    network: NetworkStack
    dns: DnsStack
    edge: EdgeStack
    cluster: ClusterStack
    database: DatabaseStack
    data: DataStack
    crm: CrmStack
    monitoring: MonitoringStack
    cicd: CicdStack | None = None
    recovery: RecoveryStack | None = None

    @property
    def stacks(self) -> list[EstateStack]:
        optional = [s for s in (self.cicd, self.recovery) if s is not None]
        return [
            self.network,
            self.dns,
            self.edge,
            self.cluster,
            self.database,
            self.data,
            self.crm,
            self.monitoring,
            *optional,
        ]


class EstateParts:
    """Builds each stack of `cfg`'s environment under `scope` on first use, with the stacks
    it reads from: the one place the stacks are wired together. `build_estate` uses every
    part; the reviewers' diff scenarios build only the parts a change touches."""

    def __init__(self, scope: Construct, cfg: EnvironmentConfig) -> None:
        self.scope = scope
        self.cfg = cfg

    def get(self, part: str) -> EstateStack:
        """The stack of `part` (one of STACK_PARTS), built if it is not yet."""
        if part not in STACK_PARTS:
            raise ValueError(f"unknown stack part {part!r}; one of {', '.join(STACK_PARTS)}")
        stack: EstateStack = getattr(self, part)
        return stack

    @cached_property
    def network(self) -> NetworkStack:
        return NetworkStack(self.scope, site=self.cfg.site, network=self.cfg.network)

    @cached_property
    def dns(self) -> DnsStack:
        cfg = self.cfg
        return DnsStack(
            self.scope, site=cfg.site, domain_name=cfg.domain_name, dns=cfg.dns, email=cfg.email
        )

    @cached_property
    def edge(self) -> EdgeStack:
        network, dns = self.network, self.dns
        return EdgeStack(
            self.scope,
            site=self.cfg.site,
            edge=self.cfg.edge,
            vpc=network.vpc,
            workload_security_group=network.workload_security_group,
            zone=dns.zone,
            certificate=dns.certificate,
        )

    @cached_property
    def cluster(self) -> ClusterStack:
        network = self.network
        return ClusterStack(
            self.scope,
            site=self.cfg.site,
            cluster=self.cfg.cluster,
            vpc=network.vpc,
            workload_security_group=network.workload_security_group,
            private_subnet_cidrs=[str(c) for c in self.cfg.network.private_subnets],
            redis_port=REDIS_PORT,
        )

    @cached_property
    def database(self) -> DatabaseStack:
        network = self.network
        stack = DatabaseStack(
            self.scope,
            site=self.cfg.site,
            network=self.cfg.network,
            database=self.cfg.database,
            vpc=network.vpc,
            workload_security_group=network.workload_security_group,
            recovery=self.cfg.recovery,
            recovery_site=self.cfg.recovery_site,
        )
        self._after_recovery(stack)
        return stack

    @cached_property
    def data(self) -> DataStack:
        network = self.network
        stack = DataStack(
            self.scope,
            site=self.cfg.site,
            redis=self.cfg.redis,
            storage=self.cfg.storage,
            vpc=network.vpc,
            workload_security_group=network.workload_security_group,
            recovery_site=self.cfg.recovery_site,
        )
        self._after_recovery(stack)
        return stack

    @cached_property
    def recovery(self) -> RecoveryStack | None:
        """The off-region copies' stack, where config has a `recovery` section; it reads no
        other stack and deploys in the first wave, in the recovery region."""
        if self.cfg.recovery is None:
            return None
        return RecoveryStack(self.scope, cfg=self.cfg)

    def _after_recovery(self, stack: EstateStack) -> None:
        """`stack` names resources of the recovery stack (no reference CDK could see): deploy
        it after that stack, whose bucket, vault and key must exist first."""
        if self.recovery is not None:
            stack.add_stack_dependency(
                self.recovery, "names the recovery region's bucket/vault/key"
            )

    @cached_property
    def crm(self) -> CrmStack:
        cfg, cluster, edge = self.cfg, self.cluster, self.edge
        database, data, dns = self.database, self.data, self.dns
        return CrmStack(
            self.scope,
            site=cfg.site,
            domain_name=cfg.domain_name,
            workloads=cfg.workloads,
            network=cfg.network,
            cluster=cluster.control_plane.handle,
            secret_store_name=cluster.secret_store_name,
            frontend_target_group=edge.frontend_target_group,
            backend_target_group=edge.backend_target_group,
            database_host=database.host,
            database_address=database.instance.instance_private_ip,
            database_port=database.port,
            database_name=database.database_name,
            database_credentials=database.app_credentials,
            database_ca_certificate=database.ca_certificate,
            database_instance_id=database.instance.instance_id,
            email=cfg.email,
            smtp_credentials=dns.mail.smtp_secret,
            file_bucket=data.file_bucket,
            redis_host=data.redis_host,
            redis_port=data.redis_port,
            redis_auth_token=data.redis_auth_token,
            app_secret=data.app_secret,
            encryption_key=data.encryption_key,
            crm_role=data.crm_role,
            secret_reader_role=cluster.external_secrets.role,
            target_registrar_role=cluster.load_balancer_controller.role,
        )

    @cached_property
    def cicd(self) -> CicdStack | None:
        """The OIDC deploy role's stack, where config has a `cicd` section; it reads no other
        stack, so it deploys in the first wave."""
        cfg = self.cfg
        if cfg.cicd is None or cfg.github_environment is None:
            return None
        return CicdStack(
            self.scope,
            site=cfg.site,
            cicd=cfg.cicd,
            github_environment=cfg.github_environment,
            recovery_site=cfg.recovery_site,
        )

    @cached_property
    def monitoring(self) -> MonitoringStack:
        edge, database, data = self.edge, self.database, self.data
        network, dns, cluster = self.network, self.dns, self.cluster
        return MonitoringStack(
            self.scope,
            site=self.cfg.site,
            monitoring=self.cfg.monitoring,
            load_balancer=edge.load_balancer,
            target_groups={
                "frontend": edge.frontend_target_group,
                "backend": edge.backend_target_group,
            },
            database_instance=database.instance,
            database_standby=self.cfg.database.standby,
            backup_vault=database.backup_vault,
            redis_node_ids=data.redis_node_ids,
            cluster=cluster.control_plane.handle,
            cluster_name=cluster.cluster.cluster_name,
            cluster_arn=cluster.cluster.cluster_arn,
            cluster_security_group_id=cluster.cluster.cluster_security_group_id,
            private_subnet_ids=[s.subnet_id for s in network.vpc.private_subnets],
            certificate=dns.certificate,
            web_acl_metric_name=edge.web_acl_metric_name,
        )


def build_estate(scope: Construct, cfg: EnvironmentConfig) -> Estate:
    """Create every stack of `cfg`'s environment under `scope` (an App or a Stage)."""
    parts = EstateParts(scope, cfg)
    return Estate(
        config=cfg,
        network=parts.network,
        dns=parts.dns,
        edge=parts.edge,
        cluster=parts.cluster,
        database=parts.database,
        data=parts.data,
        crm=parts.crm,
        monitoring=parts.monitoring,
        cicd=parts.cicd,
        recovery=parts.recovery,
    )
