"""Builds the stacks of one environment and wires each stack's outputs into the next.

Dependencies follow the resources a stack uses, so an environment deploys in few waves:
network and dns first; then the stacks that only need those, in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from infra.config import EnvironmentConfig
from infra.stacks.base import EstateStack
from infra.stacks.cluster import ClusterStack
from infra.stacks.crm import CrmStack
from infra.stacks.data import DataStack
from infra.stacks.database import DatabaseStack
from infra.stacks.dns import DnsStack
from infra.stacks.edge import EdgeStack
from infra.stacks.monitoring import MonitoringStack
from infra.stacks.network import NetworkStack

# Every environment has one stack per part, named twenty-<env>-<part>.
STACK_PARTS = ("network", "dns", "edge", "cluster", "database", "data", "crm", "monitoring")


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

    @property
    def stacks(self) -> list[EstateStack]:
        return [
            self.network,
            self.dns,
            self.edge,
            self.cluster,
            self.database,
            self.data,
            self.crm,
            self.monitoring,
        ]


def build_estate(scope: Construct, cfg: EnvironmentConfig) -> Estate:
    """Create every stack of `cfg`'s environment under `scope` (an App or a Stage)."""
    site = cfg.site
    network = NetworkStack(scope, site=site, network=cfg.network)
    dns = DnsStack(scope, site=site, domain_name=cfg.domain_name, dns=cfg.dns)
    edge = EdgeStack(
        scope,
        site=site,
        edge=cfg.edge,
        vpc=network.vpc,
        workload_security_group=network.workload_security_group,
        zone=dns.zone,
        certificate=dns.certificate,
    )
    cluster = ClusterStack(
        scope,
        site=site,
        cluster=cfg.cluster,
        vpc=network.vpc,
        workload_security_group=network.workload_security_group,
    )
    database = DatabaseStack(
        scope,
        site=site,
        network=cfg.network,
        database=cfg.database,
        vpc=network.vpc,
        workload_security_group=network.workload_security_group,
    )
    data = DataStack(
        scope,
        site=site,
        redis=cfg.redis,
        storage=cfg.storage,
        vpc=network.vpc,
        workload_security_group=network.workload_security_group,
    )
    crm = CrmStack(
        scope,
        site=site,
        domain_name=cfg.domain_name,
        workloads=cfg.workloads,
        network=cfg.network,
        cluster=cluster.control_plane.handle,
        secret_store_name=cluster.secret_store_name,
        frontend_target_group=edge.frontend_target_group,
        backend_target_group=edge.backend_target_group,
        database_host=database.host,
        database_port=database.port,
        database_name=database.database_name,
        database_credentials=database.app_credentials,
        file_bucket=data.file_bucket,
        redis_host=data.redis_host,
        redis_port=data.redis_port,
        redis_auth_token=data.redis_auth_token,
        app_secret=data.app_secret,
        encryption_key=data.encryption_key,
        crm_role=data.crm_role,
    )
    monitoring = MonitoringStack(
        scope,
        site=site,
        monitoring=cfg.monitoring,
        load_balancer=edge.load_balancer,
        target_groups={
            "frontend": edge.frontend_target_group,
            "backend": edge.backend_target_group,
        },
        database_instance=database.instance,
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
    return Estate(
        config=cfg,
        network=network,
        dns=dns,
        edge=edge,
        cluster=cluster,
        database=database,
        data=data,
        crm=crm,
        monitoring=monitoring,
    )
