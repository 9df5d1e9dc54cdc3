"""The Prometheus rules, scraper configuration and Grafana dashboards under monitoring/.

`promtool` (Debian package `prometheus`, installed by .ci/run) checks every rule file and runs
the unit tests next to them; every alert has a test where it fires and one where it does not.
promtool of Debian is built without Kubernetes service discovery, so the scraper configuration
is checked here by structure instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import prometheus
from infra.constructs.addons.kube_state_metrics import NAMESPACE as KSM_NAMESPACE
from tests.pg_harness import tool_missing


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        tool_missing("promtool absent: apt-get install -y prometheus")
    return path


def _alerts(path: Path) -> set[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_rule_files_pass_promtool_check() -> None:
    files = prometheus.rule_files()
    assert [p.name for p in files] == ["kubernetes.yaml", "twenty.yaml"]
    result = subprocess.run(
        [_promtool(), "check", "rules", *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass_promtool_test() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", *map(str, prometheus.rule_test_files())],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_test() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in prometheus.rule_test_files():
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    alerts = set().union(*map(_alerts, prometheus.rule_files()))
    assert alerts == fires == quiet


def test_every_alert_has_severity_and_summary() -> None:
    for path in prometheus.rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["labels"]["severity"] in {"warning", "critical"}, rule
                    assert rule["annotations"]["summary"], rule


def test_promtool_catches_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: a syntax error in PromQL is refused."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(\n")
    result = subprocess.run(
        [_promtool(), "check", "rules", str(broken)], capture_output=True, text=True
    )
    assert result.returncode != 0


def _jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(prometheus.SCRAPE_CONFIG.read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_scraper_reads_kubelet_cadvisor_state_metrics_and_twenty() -> None:
    jobs = _jobs()
    assert set(jobs) == {"kubelet", "cadvisor", "kube-state-metrics", "twenty", "keda"}
    assert jobs["cadvisor"]["metrics_path"] == "/metrics/cadvisor"
    for name in ("kubelet", "cadvisor"):
        assert jobs[name]["scheme"] == "https"
        assert jobs[name]["kubernetes_sd_configs"] == [{"role": "node"}]
    ksm = jobs["kube-state-metrics"]["kubernetes_sd_configs"][0]
    assert ksm["namespaces"]["names"] == [KSM_NAMESPACE]


def test_twenty_job_keeps_the_exporter_port_of_twenty_pods_only() -> None:
    """The pod role yields one target per declared container port, addressed <pod IP>:<port>;
    the job must keep Twenty's pods and, of them, only the port k8s/_pod.j2 names `metrics`
    (the Jobs' pods and the http port serve no metrics)."""
    job = _jobs()["twenty"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    assert job.get("metrics_path", "/metrics") == prometheus.TWENTY_METRICS["path"]
    keeps = {
        tuple(r["source_labels"]): r["regex"]
        for r in job["relabel_configs"]
        if r.get("action") == "keep"
    }
    assert keeps[("__meta_kubernetes_pod_container_port_name",)] == (
        prometheus.TWENTY_METRICS_PORT_NAME
    )
    name_keep = keeps[
        ("__meta_kubernetes_namespace", "__meta_kubernetes_pod_label_app_kubernetes_io_name")
    ]
    assert name_keep == "twenty-.+;twenty"
    # No rule rewrites the address: the declared port is the one scraped.
    assert not any(r.get("target_label") == "__address__" for r in job["relabel_configs"])


def test_twenty_rules_read_series_twenty_exports() -> None:
    """Every Twenty series the rule tests feed (and so the rules match) is one the pinned
    release exports (contract `metrics.series`, read upstream: no `verified: false` one); the
    rest come from kube-state-metrics or are Prometheus' own `up` of the scrape job."""
    exported = {s["name"] for s in prometheus.TWENTY_METRICS["series"] if s.get("verified", True)}
    tests = yaml.safe_load((prometheus.RULE_TESTS_DIR / "twenty.test.yaml").read_text())
    fed = {
        series["series"].split("{")[0] for case in tests["tests"] for series in case["input_series"]
    }
    assert {"job_failed_total", "job_completed_total", "twenty_queue_jobs_waiting_total"} <= fed
    assert {name for name in fed if not name.startswith("kube_") and name != "up"} <= exported
    rules = (prometheus.RULES_DIR / "twenty.yaml").read_text()
    for name in fed:
        assert name in rules, f"{name} is fed to the tests but no rule reads it"


# --- Grafana dashboards --------------------------------------------------------------------

DASHBOARDS = {"service-level", "alb", "cluster", "database", "redis"}
CLOUDWATCH_NAMESPACES = {"AWS/ApplicationELB", "AWS/EC2", "AWS/ElastiCache", "AWS/WAFV2"}


def _dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in prometheus.dashboard_files()}


def _targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for panel in dashboard["panels"] for t in panel.get("targets", [])]


def test_dashboards_cover_the_estate_and_are_well_formed() -> None:
    dashboards = _dashboards()
    assert set(dashboards) == DASHBOARDS
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)
    for name, dashboard in dashboards.items():
        assert dashboard["title"].startswith("Twenty"), name
        assert dashboard["panels"], name
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        for panel in dashboard["panels"]:
            assert panel["type"] in {"timeseries", "stat", "text"}, (name, panel)
            source = panel.get("datasource", {}).get("uid")
            if panel["type"] != "text":
                assert source in {"${prometheus}", "${cloudwatch}"}, (name, panel["title"])
                assert source.strip("${}") in variables, (name, panel["title"])
                assert panel["targets"], (name, panel["title"])


def test_dashboard_cloudwatch_queries_name_known_metrics() -> None:
    for name, dashboard in _dashboards().items():
        for target in _targets(dashboard):
            if "namespace" in target:
                assert target["namespace"] in CLOUDWATCH_NAMESPACES, (name, target)
                assert target["metricName"], (name, target)
                assert target["region"] == "${region}", (name, target)


def test_dashboard_promql_parses(tmp_path: Path) -> None:
    """Every PromQL expression of the dashboards goes through promtool's parser."""
    exprs = [
        t["expr"].replace("$namespace", "twenty-dev").replace("$__rate_interval", "5m")
        for d in _dashboards().values()
        for t in _targets(d)
        if "expr" in t
    ]
    assert exprs
    rules = {"groups": [{"name": "dashboards", "rules": []}]}
    for i, expr in enumerate(exprs):
        rules["groups"][0]["rules"].append({"record": f"dashboard:expr{i}", "expr": expr})
    path = tmp_path / "dashboards.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [_promtool(), "check", "rules", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("alert_file", ["kubernetes.yaml", "twenty.yaml"])
def test_rule_files_deploy_as_rule_group_namespaces(
    alert_file: str, synthesized: Any, env: str
) -> None:
    template = synthesized.template(env, "monitoring")
    namespaces = template.find_resources("AWS::APS::RuleGroupsNamespace")
    data = {r["Properties"]["Name"]: r["Properties"]["Data"] for r in namespaces.values()}
    stem = alert_file.removesuffix(".yaml")
    assert data[stem] == (prometheus.RULES_DIR / alert_file).read_text()


def test_keda_job_reads_the_operator_metrics_port() -> None:
    """KEDA's operator Service (chart: port `metrics` = prometheus.operator.port) in its
    namespace; the NetworkPolicy of infra/constructs/addons/keda.py admits that port."""
    from infra.constructs.addons import keda
    from infra.scaling import KEDA_NAMESPACE

    job = _jobs()["keda"]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd == {"role": "endpoints", "namespaces": {"names": [KEDA_NAMESPACE]}}
    (keep,) = job["relabel_configs"]
    assert keep["action"] == "keep" and keep["regex"] == f"{keda.OPERATOR};metrics"
    (policy,) = [
        p
        for p in keda.network_policies(["10.0.3.0/24"], 6379)
        if p["metadata"]["name"] == keda.OPERATOR
    ]
    ports = [port for rule in policy["spec"]["ingress"] for port in rule["ports"]]
    assert {"protocol": "TCP", "port": keda.OPERATOR_METRICS_PORT} in ports
