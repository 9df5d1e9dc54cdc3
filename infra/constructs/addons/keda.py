"""KEDA: event-driven autoscaling of the CRM's Deployments (ScaledObjects in k8s/32-*.yaml.j2).

KEDA's operator polls the triggers (CloudWatch for the ALB's request rate, Redis for the BullMQ
queue depth), its metrics API server serves them to the HorizontalPodAutoscalers it creates, and
its admission webhooks refuse ScaledObjects that would fight another autoscaler. CPU and memory
triggers read metrics-server as a plain HPA does.

The chart values below (service account, replica counts, permissions.operator.restrict.secret,
prometheus.operator, networkPolicy, resources) and the pods' `app` labels and ports were read
in kedacore/charts `keda/values.yaml` and `keda/templates/` at 1444d00d (chart 2.20.2); the
scalers' behaviour in kedacore/keda at tag v2.20.2 (docs/architecture.md, "Scaling").
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.addons.helm import pinned_chart
from infra.scaling import KEDA_NAMESPACE

OPERATOR = "keda-operator"
METRICS_SERVER = "keda-operator-metrics-apiserver"
WEBHOOKS = "keda-admission-webhooks"
# Ports of the chart's containers (values: service.portHttpsTarget, webhooks.port, the
# operator's gRPC metrics service that the metrics API server calls).
METRICS_SERVER_PORT = 6443
WEBHOOKS_PORT = 9443
OPERATOR_GRPC_PORT = 9666
# The operator's Prometheus metrics (chart value prometheus.operator.port), read by the managed
# scraper (monitoring/scrape.yaml, job keda) from its ENIs in the private subnets.
OPERATOR_METRICS_PORT = 8080
# The EKS Pod Identity agent on every node (link-local, hostNetwork).
POD_IDENTITY_AGENT = "169.254.170.23/32"
# Pod Security Admission levels of the namespace: the chart's pods run as non-root, drop every
# capability, forbid privilege escalation and use the RuntimeDefault seccomp profile.
PSA = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


def _app(name: str) -> dict[str, Any]:
    return {"matchLabels": {"app": name}}


def network_policies(private_subnet_cidrs: list[str], redis_port: int) -> list[dict[str, Any]]:
    """Default deny in KEDA's namespace, then what each component needs.

    The control plane reaches the metrics API server and the webhooks from its ENIs in the
    private subnets. The operator calls the Kubernetes API and CloudWatch on 443 (the API's
    Service address and CloudWatch's public endpoint through the NAT have no narrower block),
    the Pod Identity agent for its credentials, and Redis in the private subnets.
    """
    kube_system = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    dns = {
        "to": [
            {
                "namespaceSelector": kube_system,
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    https = {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    }
    private = [{"ipBlock": {"cidr": cidr}} for cidr in private_subnet_cidrs]

    def policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": KEDA_NAMESPACE},
            "spec": spec,
        }

    return [
        policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        policy(
            OPERATOR,
            {
                "podSelector": _app(OPERATOR),
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [{"podSelector": _app(METRICS_SERVER)}],
                        "ports": [{"protocol": "TCP", "port": OPERATOR_GRPC_PORT}],
                    },
                    {
                        "from": private,
                        "ports": [{"protocol": "TCP", "port": OPERATOR_METRICS_PORT}],
                    },
                ],
                "egress": [
                    dns,
                    https,
                    {
                        "to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}],
                        "ports": [{"protocol": "TCP", "port": 80}],
                    },
                    {"to": private, "ports": [{"protocol": "TCP", "port": redis_port}]},
                ],
            },
        ),
        policy(
            METRICS_SERVER,
            {
                "podSelector": _app(METRICS_SERVER),
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": private,
                        "ports": [{"protocol": "TCP", "port": METRICS_SERVER_PORT}],
                    }
                ],
                "egress": [
                    dns,
                    https,
                    {
                        "to": [{"podSelector": _app(OPERATOR)}],
                        "ports": [{"protocol": "TCP", "port": OPERATOR_GRPC_PORT}],
                    },
                ],
            },
        ),
        policy(
            WEBHOOKS,
            {
                "podSelector": _app(WEBHOOKS),
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {"from": private, "ports": [{"protocol": "TCP", "port": WEBHOOKS_PORT}]}
                ],
                "egress": [dns, https],
            },
        ),
    ]


class Keda(Construct):
    """The kedacore chart at a pinned version in namespace `keda` (PSA restricted), its
    NetworkPolicies, and the operator's Pod Identity role.

    The role may only read CloudWatch metrics (`cloudwatch:GetMetricData`, the one call of
    KEDA's aws-cloudwatch scaler). IAM offers no resource or condition key for that action, so
    which metrics it reads is fixed by the ScaledObjects (this estate's target groups), not by
    IAM; it can change nothing. The operator reads Kubernetes Secrets only in its own namespace
    (`permissions.operator.restrict.secret`), where the Redis AUTH token for the queue-depth
    trigger arrives through External Secrets.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        chart_version: str,
        replicas: int,
        private_subnet_cidrs: list[str],
        redis_port: int,
    ) -> None:
        super().__init__(scope, id)
        namespace = eks.KubernetesManifest(
            self,
            "Namespace",
            cluster=cluster,
            manifest=[
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": KEDA_NAMESPACE, "labels": dict(PSA)},
                }
            ],
        )
        self.network_policies = eks.KubernetesManifest(
            self,
            "NetworkPolicies",
            cluster=cluster,
            manifest=network_policies(private_subnet_cidrs, redis_port),
        )
        self.network_policies.node.add_dependency(namespace)
        self.service_account = eks.ServiceAccount(
            self,
            "ServiceAccount",
            cluster=cluster,
            name=OPERATOR,
            namespace=KEDA_NAMESPACE,
            identity_type=eks.IdentityType.POD_IDENTITY,
        )
        self.service_account.node.add_dependency(namespace)
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
        )
        # Wildcard resources of the role, for the stack's nag acknowledgements.
        self.wildcard_resources = ["*"]
        self.chart = pinned_chart(
            self,
            cluster=cluster,
            repository="https://kedacore.github.io/charts",
            chart="keda",
            version=chart_version,
            namespace=KEDA_NAMESPACE,
            values={
                "serviceAccount": {"operator": {"create": False, "name": OPERATOR}},
                "operator": {"replicaCount": replicas},
                "webhooks": {"replicaCount": replicas},
                "permissions": {"operator": {"restrict": {"secret": True}}},
                "prometheus": {"operator": {"enabled": True, "port": OPERATOR_METRICS_PORT}},
                # Our own policies above (the chart's "kubernetes" flavour admits the webhooks
                # and the metrics API only from pods, not from the control plane's ENIs).
                "networkPolicy": {"enabled": False},
                "resources": {
                    "operator": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"memory": "1000Mi"},
                    },
                    "metricServer": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"memory": "1000Mi"},
                    },
                    "webhooks": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"memory": "512Mi"},
                    },
                },
            },
        )
        self.chart.node.add_dependency(self.service_account, self.network_policies)
