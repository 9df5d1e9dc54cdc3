"""How every controller chart is installed: pinned version, own namespace, waited for."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

# `helm upgrade --wait` on a fresh cluster can take minutes (images pulled, webhooks ready); the
# kubectl Lambda allows 15.
CHART_TIMEOUT = Duration.minutes(15)


def pinned_chart(
    scope: Construct,
    *,
    cluster: eks.ICluster,
    repository: str,
    chart: str,
    version: str,
    namespace: str,
    values: dict[str, Any],
) -> eks.HelmChart:
    """The chart `chart` at exactly `version`, released under its own name, as `scope/Chart`."""
    return eks.HelmChart(
        scope,
        "Chart",
        cluster=cluster,
        repository=repository,
        chart=chart,
        version=version,
        release=chart,
        namespace=namespace,
        wait=True,
        timeout=CHART_TIMEOUT,
        values=values,
    )
