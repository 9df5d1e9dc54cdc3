"""The Prometheus files of the repository: scraper configuration, rule files, dashboards.

They live under `monitoring/` as plain Prometheus/Grafana files so that the real tools check
them (`promtool check rules`, `promtool test rules` in tests/test_prometheus.py) and so that
they can be read without Python.
"""

from __future__ import annotations

from pathlib import Path

MONITORING_DIR = Path(__file__).resolve().parents[1] / "monitoring"
SCRAPE_CONFIG = MONITORING_DIR / "scrape.yaml"
RULES_DIR = MONITORING_DIR / "rules"
RULE_TESTS_DIR = RULES_DIR / "tests"
DASHBOARDS_DIR = MONITORING_DIR / "dashboards"

# The Kubernetes user the managed collector acts as (its access entry's username) and the
# ClusterRole bound to it; names from the Amazon Managed Service for Prometheus user guide.
COLLECTOR_USER = "aps-collector-user"
COLLECTOR_ROLE = "aps-collector-role"
# Port of Twenty's OpenTelemetry Prometheus exporter (METER_DRIVER=prometheus).
TWENTY_METRICS_PORT = 9464


def rule_files() -> list[Path]:
    """Every rule file, one AWS::APS::RuleGroupsNamespace each, in a stable order."""
    return sorted(RULES_DIR.glob("*.yaml"))


def rule_test_files() -> list[Path]:
    """Every `promtool test rules` file."""
    return sorted(RULE_TESTS_DIR.glob("*.test.yaml"))


def dashboard_files() -> list[Path]:
    """Every Grafana dashboard (JSON model) kept in the repository."""
    return sorted(DASHBOARDS_DIR.glob("*.json"))
