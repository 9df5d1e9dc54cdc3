"""Prometheus without running Prometheus: an AMP workspace, its managed scraper and rules.

The scraper (AWS::APS::Scraper) reads the EKS cluster from ENIs in the private subnets, with
the cluster security group (which admits it to the kubelets and to pods), and writes to the
workspace. The workspace evaluates the rule files of `monitoring/rules/` and its alert manager
sends firing alerts to the environment's alarm topic.
"""

from __future__ import annotations

import base64

from aws_cdk import Fn, RemovalPolicy, Stack
from aws_cdk import aws_aps as aps
from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from infra.constructs.alarm_topic import AlarmTopic
from infra.prometheus import COLLECTOR_ROLE, COLLECTOR_USER, SCRAPE_CONFIG, rule_files

# What the collector reads through the Kubernetes API (service discovery, kubelet metrics);
# from the AMP user guide's collector ClusterRole, without write verbs.
COLLECTOR_RULES = [
    {
        "apiGroups": [""],
        "resources": ["nodes", "nodes/proxy", "nodes/metrics", "services", "endpoints", "pods"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["discovery.k8s.io"],
        "resources": ["endpointslices"],
        "verbs": ["get", "list", "watch"],
    },
    {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
]


def alert_manager_definition(topic_arn: str, region: str) -> str:
    """Every alert to the alarm topic, grouped per alert and namespace, repeated every 4 h."""
    return (
        "alertmanager_config: |\n"
        "  route:\n"
        "    receiver: alarm-topic\n"
        "    group_by: [alertname, namespace]\n"
        "    group_wait: 30s\n"
        "    group_interval: 5m\n"
        "    repeat_interval: 4h\n"
        "  receivers:\n"
        "    - name: alarm-topic\n"
        "      sns_configs:\n"
        f"        - topic_arn: {topic_arn}\n"
        "          sigv4:\n"
        f"            region: {region}\n"
        "          attributes:\n"
        "            source: prometheus\n"
    )


def path_free_role_arn(role_arn: str) -> str:
    """`arn:...:role/<path>/<name>` -> `arn:...:role/<name>`.

    The scraper's service-linked role has the path `aws-service-role/scraper.aps.amazonaws.com/`;
    EKS identifies the caller by the role's ARN without path, so the access entry must name it
    that way (AMP user guide, "Configuring your Amazon EKS cluster").
    """
    stack_partition = "arn:" + Fn.select(1, Fn.split(":", role_arn))
    account = Fn.select(4, Fn.split(":", role_arn))
    name = Fn.select(3, Fn.split("/", role_arn))
    return Fn.join("", [stack_partition, ":iam::", account, ":role/", name])


class ManagedPrometheus(Construct):
    """`self.workspace`, `self.scraper`, `self.rule_groups` and the collector's cluster access."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: str,
        cluster: eks.ICluster,
        cluster_name: str,
        cluster_arn: str,
        cluster_security_group_id: str,
        subnet_ids: list[str],
        alarm_topic: AlarmTopic,
        retention_days: int,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        name = f"twenty-{environment}"
        self.workspace = aps.CfnWorkspace(
            self,
            "Workspace",
            alias=name,
            alert_manager_definition=alert_manager_definition(
                alarm_topic.topic.topic_arn, stack.region
            ),
            workspace_configuration=aps.CfnWorkspace.WorkspaceConfigurationProperty(
                retention_period_in_days=retention_days
            ),
        )
        # Its samples are the only record of past behaviour: kept when the stack is deleted or
        # the resource replaced, like every other stateful resource.
        self.workspace.apply_removal_policy(RemovalPolicy.RETAIN)
        alarm_topic.admit_service("aps.amazonaws.com", source_arn=self.workspace.attr_arn)
        self.rule_groups = {
            path.stem: aps.CfnRuleGroupsNamespace(
                self,
                f"Rules{path.stem.title()}",
                name=path.stem,
                workspace=self.workspace.attr_arn,
                data=path.read_text(),
            )
            for path in rule_files()
        }
        self.scraper = aps.CfnScraper(
            self,
            "Scraper",
            alias=name,
            source=aps.CfnScraper.SourceProperty(
                eks_configuration=aps.CfnScraper.EksConfigurationProperty(
                    cluster_arn=cluster_arn,
                    subnet_ids=subnet_ids,
                    security_group_ids=[cluster_security_group_id],
                )
            ),
            destination=aps.CfnScraper.DestinationProperty(
                amp_configuration=aps.CfnScraper.AmpConfigurationProperty(
                    workspace_arn=self.workspace.attr_arn
                )
            ),
            scrape_configuration=aps.CfnScraper.ScrapeConfigurationProperty(
                configuration_blob=base64.b64encode(SCRAPE_CONFIG.read_bytes()).decode()
            ),
        )
        self.access_entry = eks.CfnAccessEntry(
            self,
            "CollectorAccess",
            cluster_name=cluster_name,
            principal_arn=path_free_role_arn(self.scraper.attr_role_arn),
            username=COLLECTOR_USER,
            type="STANDARD",
        )
        self.rbac = eks.KubernetesManifest(
            self,
            "CollectorRbac",
            cluster=cluster,
            manifest=[
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": {"name": COLLECTOR_ROLE},
                    "rules": COLLECTOR_RULES,
                },
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": COLLECTOR_ROLE},
                    "subjects": [
                        {
                            "apiGroup": "rbac.authorization.k8s.io",
                            "kind": "User",
                            "name": COLLECTOR_USER,
                        }
                    ],
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": COLLECTOR_ROLE,
                    },
                },
            ],
        )
