"""`twenty-<env>-cluster`: the EKS cluster, its two node tiers and the platform add-ons."""

from __future__ import annotations

from aws_cdk import CfnCondition, CfnElement, CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from constructs import Construct, IConstruct

from infra.config import ClusterConfig, Site
from infra.constructs.addons.aws_load_balancer_controller import AwsLoadBalancerController
from infra.constructs.addons.cloudwatch_observability import CloudWatchObservability
from infra.constructs.addons.cluster_autoscaler import ClusterAutoscaler, discovery_tags
from infra.constructs.addons.coredns import CoreDns
from infra.constructs.addons.external_secrets import ExternalSecrets
from infra.constructs.addons.keda import Keda
from infra.constructs.addons.kube_proxy import KubeProxy
from infra.constructs.addons.kube_state_metrics import KubeStateMetrics
from infra.constructs.addons.metrics_server import MetricsServer
from infra.constructs.addons.pod_identity_agent import PodIdentityAgent
from infra.constructs.addons.vpc_cni import VpcCni
from infra.constructs.cluster_log_groups import ClusterLogGroups
from infra.constructs.eks_control_plane import EksControlPlane
from infra.constructs.eks_node_group import TierNodeGroup, node_role
from infra.naming import cluster_name, secret_prefix
from infra.naming import namespace as crm_namespace
from infra.scaling import KEDA_NAMESPACE
from infra.stacks.base import EstateStack

TIERS = ("frontend", "backend")


class ClusterStack(EstateStack):
    """Control plane, `frontend`/`backend` node groups, add-ons in dependency order.

    Node-level add-ons (CNI, kube-proxy, Pod Identity agent) come before the nodes so that a
    node is Ready when it joins; CoreDNS, metrics-server and the Helm controllers come after,
    since their pods need nodes.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        site: Site,
        cluster: ClusterConfig,
        vpc: ec2.IVpc,
        workload_security_group: ec2.ISecurityGroup,
        private_subnet_cidrs: list[str],
        redis_port: int,
    ) -> None:
        super().__init__(
            scope,
            site=site,
            part="cluster",
            description="Twenty CRM: EKS cluster, node groups, platform add-ons",
        )
        name = cluster_name(site.environment)
        self.secret_name_prefix = secret_prefix(site.environment)
        self.log_groups = ClusterLogGroups(
            self, "Logs", cluster_name=name, retention=cluster.log_retention_days
        )
        self.control_plane = EksControlPlane(
            self, "ControlPlane", name=name, config=cluster, vpc=vpc
        )
        self.cluster: eks.Cluster = self.control_plane.cluster
        # EKS must find our encrypted group, not create its own, when logging starts.
        self.cluster.node.add_dependency(self.log_groups.control_plane)
        handle = self.control_plane.handle
        versions = cluster.addons
        self.vpc_cni = VpcCni(self, "VpcCni", cluster=handle, version=versions.vpc_cni)
        self.kube_proxy = KubeProxy(self, "KubeProxy", cluster=handle, version=versions.kube_proxy)
        self.pod_identity_agent = PodIdentityAgent(
            self, "PodIdentityAgent", cluster=self.cluster, version=versions.pod_identity_agent
        )
        node_addons: list[IConstruct] = [
            self.vpc_cni.addon,
            self.kube_proxy.addon,
            self.pod_identity_agent.addon,
        ]
        self.node_role = node_role(self, "NodeRole")
        self.node_groups = {
            tier: TierNodeGroup(
                self,
                f"{tier.title()}Nodes",
                cluster=handle,
                tier=tier,
                config=getattr(cluster.node_groups, tier),
                role=self.node_role,
                security_groups=[self.cluster.cluster_security_group, workload_security_group],
                tags=discovery_tags(name),
            )
            for tier in TIERS
        }
        nodes = list(self.node_groups.values())
        for group in nodes:
            group.node.add_dependency(*node_addons)
        self.cloudwatch_observability = CloudWatchObservability(
            self,
            "CloudWatchObservability",
            cluster=handle,
            version=versions.cloudwatch_observability,
            log_groups=list(self.log_groups.container_insights.values()),
        )
        cluster_addons: list[IConstruct] = [
            CoreDns(self, "CoreDns", cluster=handle, version=versions.coredns),
            MetricsServer(self, "MetricsServer", cluster=handle, version=versions.metrics_server),
            self.cloudwatch_observability,
        ]
        for addon in cluster_addons:
            addon.node.add_dependency(*nodes)
        self.load_balancer_controller = AwsLoadBalancerController(
            self,
            "AwsLoadBalancerController",
            cluster=handle,
            cluster_name=name,
            chart_version=versions.aws_load_balancer_controller,
            region=self.region,
            replicas=cluster.controller_replicas,
            vpc_id=vpc.vpc_id,
        )
        self.external_secrets = ExternalSecrets(
            self,
            "ExternalSecrets",
            cluster=handle,
            chart_version=versions.external_secrets,
            # the CRM's namespace, and KEDA's for the Redis token its trigger authentication reads
            namespaces=[crm_namespace(site.environment), KEDA_NAMESPACE],
            replicas=cluster.controller_replicas,
        )
        self.cluster_autoscaler = ClusterAutoscaler(
            self,
            "ClusterAutoscaler",
            cluster=handle,
            cluster_name=name,
            chart_version=versions.cluster_autoscaler,
            image_tag=versions.cluster_autoscaler_image,
            region=self.region,
        )
        self.kube_state_metrics = KubeStateMetrics(
            self,
            "KubeStateMetrics",
            cluster=handle,
            chart_version=versions.kube_state_metrics,
        )
        # KEDA needs metrics-server (CPU and memory triggers) among the cluster add-ons.
        self.keda = Keda(
            self,
            "Keda",
            cluster=handle,
            chart_version=versions.keda,
            replicas=cluster.controller_replicas,
            private_subnet_cidrs=private_subnet_cidrs,
            redis_port=redis_port,
        )
        for controller in (
            self.load_balancer_controller,
            self.external_secrets,
            self.cluster_autoscaler,
            self.kube_state_metrics,
            self.keda,
        ):
            controller.node.add_dependency(*nodes, *node_addons, *cluster_addons)
        self.secret_store_name: str = self.external_secrets.store_name
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        CfnOutput(self, "SecretStoreName", value=self.secret_store_name)
        CfnOutput(self, "SecretNamePrefix", value=self.secret_name_prefix)
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        """Every nag acknowledgement of this stack, each with the reason it does not apply."""
        kubectl = self.cluster.node.find_child("KubectlProvider")
        handler_role = kubectl.node.find_child("Handler").node.find_child("ServiceRole")
        framework_role = (
            kubectl.node.find_child("Provider")
            .node.find_child("framework-onEvent")
            .node.find_child("ServiceRole")
        )
        lambda_basic = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        for role in (handler_role, framework_role):
            for policy in ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole"):
                self.acknowledge(
                    role,
                    f"AwsSolutions-IAM4[{lambda_basic}{policy}]",
                    "CDK's own kubectl provider Lambda (aws_eks_v2 KubectlProvider) runs in the "
                    "private subnets and logs to CloudWatch with this AWS-managed policy; CDK "
                    "builds the role, we cannot narrow it",
                )
        self.acknowledge(
            handler_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AmazonEC2ContainerRegistryReadOnly]",
            "CDK's kubectl provider handler reads Helm charts from ECR with this AWS-managed "
            "read-only policy; the role is built by aws_eks_v2 KubectlProvider",
        )
        has_ecr_public = kubectl.node.find_child("Handler").node.find_child("HasEcrPublic")
        assert isinstance(has_ecr_public, CfnCondition)
        ecr_public = (
            f'{{"Fn::If":["{self.get_logical_id(has_ecr_public)}",{{"Fn::Join":["",["arn:",'
            '{"Ref":"AWS::Partition"},":iam::aws:policy/AmazonElasticContainerRegistryPublic'
            'ReadOnly"]]},{"Ref":"AWS::NoValue"}]}'
        )
        self.acknowledge(
            handler_role,
            f"AwsSolutions-IAM4[Policy::{ecr_public}]",
            "CDK's kubectl provider handler reads public ECR charts with this AWS-managed "
            "read-only policy where ECR Public exists; the role is built by aws_eks_v2",
        )
        handler_function = kubectl.node.find_child("Handler").node.find_child("Resource")
        assert isinstance(handler_function, CfnElement)
        handler_arn = self.get_logical_id(handler_function)
        self.acknowledge(
            framework_role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::<{handler_arn}.Arn>:*]",
            "CDK's custom-resource framework Lambda invokes every version of the kubectl "
            "handler function it owns; the wildcard is the version qualifier only",
        )
        self.acknowledge(
            kubectl.node.find_child("Handler"),
            "AwsSolutions-L1",
            "CDK's kubectl provider handler pins its own Python runtime to match the kubectl "
            "layer; CDK upgrades it with aws-cdk-lib, we cannot choose it",
        )
        assert self.cluster.role is not None
        self.acknowledge(
            self.cluster.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSClusterPolicy]",
            "The EKS control plane service role must carry the AWS-managed "
            "AmazonEKSClusterPolicy; AWS maintains it with the EKS service",
        )
        for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"):
            self.acknowledge(
                self.node_role,
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]",
                "EKS worker nodes need exactly these AWS-managed policies (join the cluster, "
                "pull images); AWS keeps them in step with EKS releases",
            )
        self.acknowledge(
            self.vpc_cni.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKS_CNI_Policy]",
            "The VPC CNI's AWS-managed policy, on the aws-node Pod Identity role only (not the "
            "node role); AWS updates it with the CNI's needs",
        )
        alb_policy = self.load_balancer_controller.service_account.role.node.find_child(
            "DefaultPolicy"
        )
        for resource in self.load_balancer_controller.wildcard_resources:
            self.acknowledge(
                alb_policy,
                f"AwsSolutions-IAM5[Resource::{resource}]",
                "AWS Load Balancer Controller: only the EC2 and ELB Describe/Get calls of its "
                "published policy, which support no resource-level permissions; its only "
                "writes (Register/DeregisterTargets) are granted by the crm stack on the "
                "estate's two target groups",
            )
        autoscaler_policy = self.cluster_autoscaler.service_account.role.node.find_child(
            "DefaultPolicy"
        )
        for resource in self.cluster_autoscaler.wildcard_resources:
            self.acknowledge(
                autoscaler_policy,
                f"AwsSolutions-IAM5[Resource::{resource}]",
                "Cluster Autoscaler: Describe calls cannot be scoped; resizing is limited to "
                "Auto Scaling groups tagged as owned by this cluster, node groups to this cluster",
            )
        cloudwatch_policy = self.cloudwatch_observability.role.node.find_child("DefaultPolicy")
        for resource in self.cloudwatch_observability.wildcard_resources:
            self.acknowledge(
                cloudwatch_policy,
                f"AwsSolutions-IAM5[Resource::{resource}]",
                "CloudWatch agent / Fluent Bit: PutMetricData takes no resource and is limited "
                "to the ContainerInsights namespace by condition; EC2 Describe calls cannot be "
                "scoped (log writes are limited to the cluster's own log groups)",
            )
        keda_policy = self.keda.service_account.role.node.find_child("DefaultPolicy")
        for resource in self.keda.wildcard_resources:
            self.acknowledge(
                keda_policy,
                f"AwsSolutions-IAM5[Resource::{resource}]",
                "KEDA reads the ALB target groups' request rate with cloudwatch:GetMetricData, "
                "which supports no resource-level permission or condition key; the role has no "
                "other action, so it can read metrics and change nothing",
            )
