"""The Prometheus files of the repository: scraper configuration, rule files, dashboards.

They live under `monitoring/` as plain Prometheus/Grafana files so that the real tools check
them (`promtool check rules`, `promtool test rules` in tests/test_prometheus.py) and so that
they can be read without Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra import twenty

MONITORING_DIR = Path(__file__).resolve().parents[1] / "monitoring"
SCRAPE_CONFIG = MONITORING_DIR / "scrape.yaml"
RULES_DIR = MONITORING_DIR / "rules"
RULE_TESTS_DIR = RULES_DIR / "tests"
DASHBOARDS_DIR = MONITORING_DIR / "dashboards"

# The Kubernetes user the managed collector acts as (its access entry's username) and the
# ClusterRole bound to it; names from the Amazon Managed Service for Prometheus user guide.
COLLECTOR_USER = "aps-collector-user"
COLLECTOR_ROLE = "aps-collector-role"
# Twenty's Prometheus exporter (METER_DRIVER=prometheus): port, path and the series it
# exports, as read from the pinned release's source (infra/twenty/contract.yaml).
TWENTY_METRICS: dict[str, Any] = twenty.contract()["metrics"]
TWENTY_METRICS_PORT: int = TWENTY_METRICS["port"]
# The container port name the scrape job `twenty` keeps (k8s/_pod.j2 declares it).
TWENTY_METRICS_PORT_NAME = "metrics"


def rule_files() -> list[Path]:
    """Every rule file, one AWS::APS::RuleGroupsNamespace each, in a stable order."""
    return sorted(RULES_DIR.glob("*.yaml"))


def rule_test_files() -> list[Path]:
    """Every `promtool test rules` file."""
    return sorted(RULE_TESTS_DIR.glob("*.test.yaml"))


def dashboard_files() -> list[Path]:
    """Every Grafana dashboard (JSON model) kept in the repository."""
    return sorted(DASHBOARDS_DIR.glob("*.json"))
