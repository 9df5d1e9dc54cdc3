"""kube-state-metrics: Deployment, Pod, Job and HPA state as Prometheus metrics.

The managed Prometheus collector scrapes it (job `kube-state-metrics` in
monitoring/scrape.yaml); the alert rules on restarts, readiness, HPAs at max and failed Jobs
read its series.
"""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from infra.constructs.addons.helm import pinned_chart

NAMESPACE = "kube-state-metrics"
PORT = 8080


class KubeStateMetrics(Construct):
    """The prometheus-community chart at a pinned version, in its own namespace.

    It needs no AWS access: it reads the Kubernetes API with the chart's own read-only
    ClusterRole.
    """

    def __init__(
        self, scope: Construct, id: str, *, cluster: eks.ICluster, chart_version: str
    ) -> None:
        super().__init__(scope, id)
        self.chart = pinned_chart(
            self,
            cluster=cluster,
            repository="https://prometheus-community.github.io/helm-charts",
            chart="kube-state-metrics",
            version=chart_version,
            namespace=NAMESPACE,
            values={
                "service": {"port": PORT},
                "resources": {
                    "requests": {"cpu": "10m", "memory": "64Mi"},
                    "limits": {"memory": "256Mi"},
                },
            },
        )
