"""AWS and PostgreSQL limits in validate come from data, and that data stays in step.

The corpus (tests/bad_configs, test_config.py) proves each class of bad value gets its line;
these tests prove the limits are read from the pinned packages' data and a real PostgreSQL,
that the lists they rely on match the synthesized estate, and that a file validated alone
meets the cross-environment checks of its siblings.
"""

from __future__ import annotations

import shutil
import subprocess
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from infra.cli import main
from infra.config import LOG_RETENTION_DAYS, WAF_MIN_RATE_LIMIT, EnvironmentConfig, aws_limits
from infra.config.aws_limits import AwsLimit, Constraint
from infra.config.postgres_limits import PostgresSettings, setting_problem, settings
from tests.conftest import _ONLY, ROOT, SynthesizedEstate
from tests.pg_harness import require_servers

BAD = ROOT / "tests" / "bad_configs"


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model reachable from `root` through its fields (lists, mappings, unions too)."""
    seen: list[type[BaseModel]] = []
    todo: list[typing.Any] = [root]
    while todo:
        annotation = todo.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                continue
            seen.append(annotation)
            todo.extend(f.annotation for f in annotation.model_fields.values())
        else:
            todo.extend(typing.get_args(annotation))
    return seen


def test_tagged_resource_types_are_the_estates(synthesized: SynthesizedEstate) -> None:
    """Tag limits are read from the schema of every type the stacks tag: the list must
    name each taggable type the estate synthesizes (a new one would go unchecked)."""
    found = set()
    for name in synthesized.stack_names:
        for resource in synthesized.template_json(name).get("Resources", {}).values():
            kind = resource["Type"]
            known = kind.startswith("AWS::") and kind in aws_limits._schema_index()
            if known and "Tags" in aws_limits.resource_schema(kind)["properties"]:
                found.add(kind)
    listed = set(aws_limits.TAGGED_RESOURCE_TYPES)
    assert found - listed == set(), "add these to aws_limits.TAGGED_RESOURCE_TYPES"
    if not _ONLY:  # a narrowed run synthesizes fewer types
        assert listed - found == set(), "remove these from aws_limits.TAGGED_RESOURCE_TYPES"


def test_every_annotated_field_reads_a_limit() -> None:
    """Each AwsLimit names a property or shape that exists and states a limit."""
    annotated = 0
    for model in _models(EnvironmentConfig):
        for name, field in model.model_fields.items():
            for limit in field.metadata:
                if isinstance(limit, AwsLimit):
                    annotated += 1
                    for c in limit.constraints():
                        bounds = (c.minimum, c.maximum, c.max_length, c.max_items)
                        assert any(b is not None for b in bounds) or c.enum, (name,)
    assert annotated >= 5


def test_every_postgres_setting_field_is_a_setting() -> None:
    """A field of a PostgresSettings model that names no setting would go unchecked."""
    models = [m for m in _models(EnvironmentConfig) if issubclass(m, PostgresSettings)]
    assert models
    for model in models:
        for name in model.model_fields:
            stem = name.removesuffix("_seconds")
            assert stem in settings()["settings"], f"{model.__name__}.{name} is no setting"


def test_limits_stated_only_in_documentation_are_read() -> None:
    assert aws_limits.ipv4_block_sizes() == (16, 28)
    assert aws_limits.acm_common_name_limit() == 64
    assert "aws:" in aws_limits.reserved_tag_prefixes()
    assert LOG_RETENTION_DAYS[:3] == (1, 3, 5) and 3653 in LOG_RETENTION_DAYS
    assert WAF_MIN_RATE_LIMIT == 10


def test_constraint_of_an_optional_value_left_out() -> None:
    assert Constraint(source="x", enum=("a",), minimum=1).problem(None) is None


def test_constraint_names_the_refused_characters() -> None:
    tag = Constraint(source="a tag", pattern=r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$")
    assert tag.problem("Équipe 1") is None
    assert tag.problem("a;b#c") == "'a;b#c' has characters a tag refuses ('#' ';'); remove them"


def test_postgres_ranges_match_the_installed_server() -> None:
    """The recorded pg_settings against the installed server's own `--describe-config`
    (no server needs to start): same type and range for every setting both know."""
    postgres = require_servers() / "postgres"
    result = subprocess.run(
        [str(postgres), "--describe-config"], capture_output=True, text=True, check=True
    )
    recorded = settings()["settings"]
    compared = 0
    for line in result.stdout.splitlines():
        name, _context, _group, vartype, _default, low, high, *_ = line.split("\t")
        if name not in recorded:
            continue
        meta = recorded[name]
        assert meta["vartype"] == {"BOOLEAN": "bool"}.get(vartype, vartype.lower()), name
        if vartype in ("INTEGER", "REAL"):
            assert (float(meta["min"]), float(meta["max"])) == (float(low), float(high)), name
        compared += 1
    assert compared > 300, "regenerate: python -m tests.postgres_settings_refresh"


def test_names_derived_from_an_environment_name_are_checked() -> None:
    """The 2-15 character rule keeps every derived name short; were it relaxed, the names AWS
    refuses would still be caught (EKS cluster: 100, IAM role: 64, stack: 128 characters)."""
    assert list(aws_limits.derived_name_problems("abcdefghijklmno")) == []
    problems = list(aws_limits.derived_name_problems("e" * 120))
    assert len(problems) == 3
    assert "AWS::EKS::Cluster Name (cfn-lint's schema) accepts at most 100" in problems[0]
    assert "AWS::IAM::Role RoleName (cfn-lint's schema) accepts at most 64" in problems[1]
    assert "CloudFormation takes at most 128" in problems[2]


def test_postgres_setting_units() -> None:
    assert setting_problem("shared_buffers", "128kB") is None
    assert setting_problem("shared_buffers", "120kB") is not None
    assert setting_problem("archive_timeout_seconds", 1073741823) is None
    assert setting_problem("archive_timeout_seconds", 1073741824) is not None
    assert setting_problem("not_a_setting", 5) is None


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "config").glob("*.yaml")))
def test_each_committed_file_validates_alone(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["validate", f"config/{name}.yaml"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith(f"ok: {name} ")


def test_a_file_alone_meets_its_siblings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """qa.yaml takes dev.yaml's domain: validating dev.yaml alone reports it too; prod.yaml,
    not involved, passes."""
    case = BAD / "domain_shared_qa_dev"
    monkeypatch.chdir(case)
    assert main(["validate", "config/dev.yaml"]) == 2
    assert capsys.readouterr().err.splitlines() == (case / "expected.txt").read_text().splitlines()
    assert main(["validate", "config/prod.yaml"]) == 0


def test_a_broken_sibling_is_not_blamed_on_the_file_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """dev.yaml names no real region: qa.yaml (deploy_after: dev) still validates alone, and
    dev.yaml's own line appears only when dev.yaml is asked about."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    dev = tmp_path / "config" / "dev.yaml"
    dev.write_text(dev.read_text().replace("region: sa-east-1", "region: brazil", 1))
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "config/qa.yaml"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["validate", "config/dev.yaml"]) == 2
    assert capsys.readouterr().err.splitlines()[0].startswith("config/dev.yaml: region: 'brazil'")


def test_reserved_names_cover_the_deploy_workflows_other_jobs() -> None:
    """deploy.yml has one job per environment, named after it, beside its own jobs: an
    environment named like one of those would collide, so each must be reserved."""
    import yaml

    from infra.config.environment import RESERVED_NAMES

    jobs = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())["jobs"]
    own = {n for n, job in jobs.items() if "deploy-environment.yml" not in job.get("uses", "")}
    assert own and own <= set(RESERVED_NAMES)
    assert "all" in RESERVED_NAMES  # make ENV=all, diff --env all
