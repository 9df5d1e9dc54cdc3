"""A synth that fails because of its input, as one line per problem instead of a traceback.

`validate` catches what it knows; what only CDK, CloudFormation's validation or cdk-nag find
still fails the synth. Three kinds of failure are translated here, each line naming the config
file and the section the failing construct is built from (`PART_SECTIONS`):

- a validation plugin (cdk-nag's AwsSolutions pack, CloudFormation Validate) reports a
  violation: CDK writes `<outdir>/validation-report.json`; one line per rule and construct,
  naming the rule, the construct path (and logical id where the report has it) and the report;
- a construct refuses a value (`ValidationError` from aws-cdk-lib through jsii, e.g. "`gp3`
  volumes iops must be between 3000 and 80000."): AWS's limit as CDK states it, with the stack
  whose code raised it (found in the Python traceback);
- any other exception raised while building the estate from a config: its type and message.

`python -m infra synth`, `app.py` (so `npx cdk synth`) and the diff's synths all print these
lines and exit 2.
"""

from __future__ import annotations

import json
import os
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from infra.config import CONFIG_DIR, ConfigError, display_path, environment_files

EXIT_BAD_INPUT = 2
REPORT_FILE = "validation-report.json"
PREFIX = "synth: "
# Where each stack's values come from in config/<env>.yaml.
PART_SECTIONS = {
    "network": "network",
    "dns": "dns",
    "edge": "edge",
    "cluster": "cluster",
    "database": "database",
    "data": "redis/storage",
    "crm": "workloads",
    "monitoring": "monitoring",
    "cicd": "cicd",
}
_REPORT_PATH = re.compile(r"(\S*" + re.escape(REPORT_FILE) + r")")
_STACK = re.compile(r"^twenty-([a-z0-9]+)-([a-z]+)$")
_STACK_MODULE = re.compile(r"[/\\]infra[/\\]stacks[/\\]([a-z]+)\.py$")


class SynthInputError(Exception):
    """The synth failed on its input; `lines` say where and why, one line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class Where:
    """The config file and section a construct comes from (as far as it can be told)."""

    env: str | None
    part: str | None

    def describe(self, config_dir: Path) -> str:
        if self.env is None:
            return "config"
        label = display_path(config_dir / f"{self.env}.yaml")
        section = PART_SECTIONS.get(self.part or "")
        return f"{label}: {section}" if section else label


def where_of_path(construct_path: str) -> Where:
    """`twenty-dev-database/DataVolume/Resource` -> dev, database."""
    match = _STACK.match(construct_path.split("/", 1)[0])
    return Where(match.group(1), match.group(2)) if match else Where(None, None)


def _where_of_traceback(tb: TracebackType | None, envs: list[str]) -> Where:
    """The innermost frame in infra/stacks/<part>.py names the part; one environment, if the
    synth built only one, names the file."""
    part = None
    for frame in traceback.extract_tb(tb):
        found = _STACK_MODULE.search(frame.filename)
        if found and found.group(1) in PART_SECTIONS:
            part = found.group(1)
    return Where(envs[0] if len(envs) == 1 else None, part)


def _violations(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(rule, construct path, logical id, description) of every failing plugin's violations."""
    found = []
    for plugin in report.get("pluginReports", []):
        if plugin.get("conclusion") != "failure":
            continue
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                resource = construct.get("cloudFormationResource") or {}
                found.append(
                    (
                        str(violation.get("ruleName", "?")),
                        str(construct.get("constructPath", "?")),
                        str(resource.get("logicalId", "")),
                        " ".join(str(violation.get("description", "")).split()),
                    )
                )
    return found


def report_lines(report_file: Path, config_dir: Path) -> list[str]:
    """One line per violation of a CDK validation report; [] if it cannot be read."""
    try:
        report = json.loads(report_file.read_text())
    except (OSError, ValueError):
        return []
    lines = []
    for rule, path, logical_id, description in _violations(report):
        where = where_of_path(path).describe(config_dir)
        resource = f"{path} ({logical_id})" if logical_id else path
        lines.append(
            f"{where}: {rule} on {resource}: {description}; the change of config or code that "
            f"led here needs a fix, or an acknowledgement with a reason (infra/nag.py); report: "
            f"{display_path(report_file)}"
        )
    return lines


def _first_line(message: str) -> str:
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return "no message"


def explain(
    exc: BaseException, outdir: Path | None, envs: list[str], config_dir: Path
) -> SynthInputError:
    """The lines for a failed synth of `envs` into `outdir`."""
    message = str(exc)
    reported = _REPORT_PATH.search(message)
    if reported or (outdir is not None and "Validation failed" in message):
        # CDK names the report relative to the working directory (`../x` outside it): resolved,
        # so that the line names the file wherever the assembly is.
        report_file = (
            Path(reported.group(1)).resolve() if reported else Path(outdir or ".") / REPORT_FILE
        )
        lines = report_lines(report_file, config_dir)
        if lines:
            return SynthInputError(lines)
        return SynthInputError(
            [f"config: {_first_line(message)}; report: {display_path(report_file)}"]
        )
    where = _where_of_traceback(exc.__traceback__, envs).describe(config_dir)
    text = _first_line(message)
    kind = type(exc).__name__
    built = _our_frame(exc.__traceback__)
    at = f" (building {built})" if built else ""
    if kind == "RuntimeError":  # jsii: CDK's own error, its message says what AWS accepts
        return SynthInputError([f"{where}: CDK refused a value: {text}{at}"])
    return SynthInputError([f"{where}: {kind}: {text}{at}"])


def _our_frame(tb: TracebackType | None) -> str | None:
    """`infra/constructs/database_instance.py:58`: the innermost line of our own code."""
    root = Path(__file__).resolve().parent.parent
    found = None
    for frame in traceback.extract_tb(tb):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(root / "infra") and path != Path(__file__).resolve():
            found = f"{path.relative_to(root).as_posix()}:{frame.lineno}"
    return found


@contextmanager
def translated_failures(
    env: str | None, outdir: Path | None, config_dir: Path = CONFIG_DIR
) -> Iterator[None]:
    """Run a synth; any failure but a ConfigError (already one line per problem) becomes
    `SynthInputError`. TWENTY_TRACEBACK=1 keeps the traceback, for debugging the code."""
    try:
        yield
    except (ConfigError, SynthInputError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if os.environ.get("TWENTY_TRACEBACK"):
            raise
        envs = [env] if env else [p.stem for p in environment_files(config_dir)]
        raise explain(exc, outdir, envs, config_dir) from exc
