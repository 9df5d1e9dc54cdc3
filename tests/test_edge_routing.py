"""Every path Twenty's server serves reaches a pod that can serve it, evaluated as ALB does.

The synthesized HTTPS listener (rules by priority, path patterns with `*`/`?`, case-sensitive,
then the default action) routes each route of the contract (Twenty's ApiPath enum) and UI deep
links; the target group it picks is followed through the rendered manifests (TargetGroupBinding
-> Service -> Deployment) to the pods, whose capability is read from what the estate gives them:
the service account's Pod Identity association (S3) in the crm stack, and a NetworkPolicy that
lets them out on HTTPS.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra import twenty
from infra.alb_paths import Rule, listener_routing, path_matches, route
from infra.config import EdgeConfig, EnvironmentConfig
from infra.manifests import render_phases
from tests.conftest import SynthesizedEstate
from tests.manifest_inputs import test_inputs

# Client-side routes of the UI (served as index.html by the server): what a browser asks for
# when a user opens a bookmark or reloads a page.
UI_DEEP_LINKS = [
    "/",
    "/objects/people",
    "/objects/companies",
    "/object/person/20202020-0000-4000-8000-000000000001",
    "/settings/profile",
    "/settings/accounts",
    "/welcome",
    "/invite/abc",
    "/verify",
]


def _server_paths() -> list[str]:
    prefixes = [r["prefix"] for r in twenty.contract()["routes"] if r["api"]]
    assert len(prefixes) == 22, "ApiPath has 22 members at the pinned commit"
    examples = {"/file": "/file/attachment/x.pdf", "/file-upload": "/file-upload/x"}
    paths = [p for prefix in prefixes for p in (prefix, f"{prefix}/", f"{prefix}/a/b?x=1")]
    return paths + list(examples.values())


def _listener_id(resources: dict[str, Any]) -> str:
    (https,) = [
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::ElasticLoadBalancingV2::Listener" and v["Properties"]["Port"] == 443
    ]
    return https


def _allows_https_out(policy: dict[str, Any]) -> bool:
    rules = policy["spec"].get("egress", [])
    return any(port.get("port") == 443 for rule in rules for port in rule.get("ports", []))


def _capable_target_groups(
    synthesized: SynthesizedEstate, cfg: EnvironmentConfig
) -> tuple[set[str], set[str]]:
    """Edge target-group logical ids whose pods have Pod Identity and HTTPS egress (the
    server's capability), and those whose pods can serve UI pages (the writable built UI)."""
    inputs = test_inputs(cfg)
    phases = render_phases(inputs)
    manifests = [m for ms in phases.values() for m in ms]
    crm = synthesized.template_json(f"twenty-{cfg.name}-crm")["Resources"]
    identified = {
        r["Properties"]["ServiceAccount"]
        for r in crm.values()
        if r["Type"] == "AWS::EKS::PodIdentityAssociation"
    }
    https_components = {
        value
        for m in manifests
        if m["kind"] == "NetworkPolicy" and _allows_https_out(m)
        for expr in m["spec"]["podSelector"].get("matchExpressions", [])
        for value in expr["values"]
    }
    arns = {
        inputs.frontend_target_group_arn: "FrontendTargetGroup",
        inputs.backend_target_group_arn: "BackendTargetGroup",
    }
    capable: set[str] = set()
    serves_ui: set[str] = set()
    for binding in (m for m in manifests if m["kind"] == "TargetGroupBinding"):
        service_name = binding["spec"]["serviceRef"]["name"]
        (service,) = [
            m for m in manifests if m["kind"] == "Service" and m["metadata"]["name"] == service_name
        ]
        component = service["spec"]["selector"]["app.kubernetes.io/component"]
        (deployment,) = [
            m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == component
        ]
        pod = deployment["spec"]["template"]["spec"]
        target = arns[binding["spec"]["targetGroupARN"]]
        if pod["serviceAccountName"] in identified and component in https_components:
            capable.add(target)
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        if f"{twenty.contract()['runtime']['workdir']}/dist/front" in mounts:
            serves_ui.add(target)
    return capable, serves_ui


def test_every_server_route_and_deep_link_reaches_a_capable_pod(
    synthesized: SynthesizedEstate, env: str, cfg: EnvironmentConfig
) -> None:
    resources = synthesized.template_json(f"twenty-{env}-edge")["Resources"]
    rules, default = listener_routing(resources, _listener_id(resources))
    capable, serves_ui = _capable_target_groups(synthesized, cfg)
    assert capable, "no target group reaches pods with Pod Identity and HTTPS egress"

    def is_capable(logical_id: str, needed: set[str] = capable) -> bool:
        return any(logical_id.startswith(prefix) for prefix in needed)

    stranded = [
        path
        for path in _server_paths() + UI_DEEP_LINKS
        if not is_capable(route(rules, default, path))
    ]
    stranded += [
        f"{path} (no built UI)"
        for path in UI_DEEP_LINKS
        if not is_capable(route(rules, default, path), serves_ui)
    ]
    assert not stranded, f"{env}: paths reaching pods without the server's capability: {stranded}"
    # The frontend tier still has a job: the UI's static files.
    assert not is_capable(route(rules, default, "/assets/index-abc123.js"))


def test_alb_path_pattern_semantics() -> None:
    assert path_matches("/assets/*", "/assets/a/b.js")
    assert path_matches("/file*", "/file-upload/x"), "`*` spans '-' and '/'"
    assert not path_matches("/files/*", "/file/x"), "/files/* does not cover /file downloads"
    assert path_matches("/s?", "/s1") and not path_matches("/s?", "/s")
    assert not path_matches("/Assets/*", "/assets/x"), "matching is case-sensitive"
    assert not path_matches("/assets/*", "/public-assets/x"), "the pattern is anchored"
    assert path_matches("/assets/*", "/assets/x?v=/graphql"), "the query string is not matched"
    rules = [Rule(20, ("/a*",), "late"), Rule(10, ("/ab*",), "early")]
    assert route(rules, "default", "/abc") == "early", "the lowest priority number wins"
    assert route(rules, "default", "/b") == "default"


@pytest.mark.parametrize("pattern", ["/*", "/f*", "/file*", "/?ealthz", "/.well-known/*"])
def test_config_refuses_frontend_paths_that_catch_server_routes(pattern: str) -> None:
    with pytest.raises(ValueError, match="a route of Twenty's server"):
        EdgeConfig.model_validate({"frontend_paths": ["/assets/*", pattern]})
    assert EdgeConfig.model_validate({"frontend_paths": ["/assets/*"]}).frontend_paths
