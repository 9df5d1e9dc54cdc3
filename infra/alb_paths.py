"""How an Application Load Balancer matches a request path against its listener rules.

ALB evaluates the rules of a listener in priority order (lowest number first) and applies the
first whose conditions all match, else the listener's default action. A `path-pattern` value
matches the whole path (not the query string), case-sensitively, with two wildcards: `*` for
any run of characters (also none, also `/`) and `?` for exactly one character (ALB user guide,
"Listener rules for your Application Load Balancer", path conditions). The config validation
(`edge.frontend_paths` must never catch a route of Twenty's server) and the routing tests, which
evaluate the synthesized listener, share this one implementation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def path_matches(pattern: str, path: str) -> bool:
    """True when ALB's path-pattern `pattern` matches the request path `path`."""
    return _compiled(pattern).fullmatch(path.split("?", 1)[0]) is not None


@dataclass(frozen=True)
class Rule:
    """One listener rule reduced to what routing by path needs."""

    priority: int
    path_patterns: tuple[str, ...]
    target: str


def route(rules: Iterable[Rule], default_target: str, path: str) -> str:
    """The target a request for `path` is forwarded to: the first matching rule by priority."""
    for rule in sorted(rules, key=lambda r: r.priority):
        if any(path_matches(p, path) for p in rule.path_patterns):
            return rule.target
    return default_target


def listener_routing(
    resources: Mapping[str, Mapping[str, Any]], listener_id: str
) -> tuple[list[Rule], str]:
    """The path rules and the default forward target of one listener of a CloudFormation
    template (`Resources`), targets named by their target groups' logical ids.

    Only forward actions to a `Ref` of a target group and path-pattern conditions are
    understood; anything else raises, so a new kind of rule cannot pass the tests unevaluated.
    """
    listener = resources[listener_id]["Properties"]
    (default_action,) = listener["DefaultActions"]
    rules = []
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::ElasticLoadBalancingV2::ListenerRule":
            continue
        if props["ListenerArn"] != {"Ref": listener_id}:
            continue
        (action,) = props["Actions"]
        rules.append(
            Rule(int(props["Priority"]), _path_patterns(props["Conditions"]), _forward(action))
        )
    return rules, _forward(default_action)


def _path_patterns(conditions: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    (condition,) = conditions
    if condition["Field"] != "path-pattern":
        raise ValueError(f"listener rule condition {condition['Field']!r} is not evaluated here")
    config = condition.get("PathPatternConfig", {})
    return tuple(config.get("Values") or condition["Values"])


def _forward(action: Mapping[str, Any]) -> str:
    if action["Type"] != "forward":
        raise ValueError(f"listener action {action['Type']!r} is not evaluated here")
    target: str = action["TargetGroupArn"]["Ref"]
    return target
