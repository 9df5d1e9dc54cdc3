"""The suite's own skip logic covers every external program it runs.

A fresh machine (Python and make, no root, no Debian tools) must pass `make test` with skips,
so every program a test starts is either
- from the virtualenv, installed by a PyPI package pinned in requirements.lock
  (`venv_tool(name, package)`), or
- from a Debian package listed in .ci/debian-packages, looked up through
  `debian_tool(name, package)` / `require_servers()`, or found with `shutil.which` in a
  function that calls `tool_missing` (skip, or fail under CI=true), or
- one of BASE, which a clone of the repository already implies.
The tests are read as Python syntax trees, so a new `subprocess.run(["foo", ...])` or an
unguarded `shutil.which("foo")` fails here, naming the file and line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT

TESTS = ROOT / "tests"
# a clone implies git; `make test` implies make (and its SHELL, bash); POSIX implies /bin/sh
BASE = frozenset({"git", "make", "/bin/sh"})
SUBPROCESS_CALLS = frozenset({"run", "Popen", "check_output", "check_call", "call"})


@dataclass(frozen=True)
class Use:
    """One program a test runs or looks up, and how."""

    path: str
    line: int
    name: str
    how: str  # venv, debian, which, literal
    package: str = ""
    guarded: bool = False


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        return f"{owner}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def _functions(tree: ast.AST) -> list[ast.AST]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def uses(source: str, path: str) -> list[Use]:
    """Every program use in one test module's source."""
    tree = ast.parse(source)
    guarded_lines: set[int] = set()
    for function in _functions(tree):
        calls = [n for n in ast.walk(function) if isinstance(n, ast.Call)]
        if any(_callee(c) in ("tool_missing", "pytest.skip") for c in calls):
            guarded_lines.update(range(function.lineno, (function.end_lineno or 0) + 1))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = _callee(node)
        first = _text(node.args[0]) if node.args else None
        second = _text(node.args[1]) if len(node.args) > 1 else ""
        if callee in ("venv_tool", "debian_tool") and first:
            how = "venv" if callee == "venv_tool" else "debian"
            found.append(Use(path, node.lineno, first, how, second or ""))
        elif callee == "shutil.which" and first:
            guarded = node.lineno in guarded_lines
            found.append(Use(path, node.lineno, first, "which", guarded=guarded))
        elif callee.split(".")[-1] in SUBPROCESS_CALLS and callee.startswith("subprocess."):
            command = node.args[0] if node.args else None
            if isinstance(command, ast.List) and command.elts:
                name = _text(command.elts[0])
                if name:
                    found.append(Use(path, node.lineno, name, "literal"))
    return found


def problems(all_uses: list[Use], locked: set[str], debian: set[str]) -> list[str]:
    """One line per program whose absence would fail the suite instead of skipping it."""
    lines = []
    for use in all_uses:
        where = f"{use.path}:{use.line}: {use.name}"
        if use.how == "venv" and use.package.lower() not in locked:
            lines.append(f"{where}: package {use.package!r} is not in requirements.lock")
        elif use.how == "debian" and use.package not in debian:
            lines.append(f"{where}: package {use.package!r} is not in .ci/debian-packages")
        elif use.how == "which" and not use.guarded and use.name not in BASE:
            lines.append(f"{where}: shutil.which without tool_missing in the same function")
        elif use.how == "literal" and use.name not in BASE:
            lines.append(f"{where}: run by name; use venv_tool or debian_tool")
    return lines


def _locked() -> set[str]:
    text = (ROOT / "requirements.lock").read_text()
    return {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", text, re.M)}


def _debian() -> set[str]:
    lines = (ROOT / ".ci" / "debian-packages").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def _suite_uses() -> list[Use]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        found += uses(path.read_text(), relative)
    return found


def test_every_external_program_of_the_suite_is_covered_by_its_skip_logic() -> None:
    found = _suite_uses()
    assert problems(found, _locked(), _debian()) == []
    names = {u.name for u in found}
    # the scan sees the programs the suite is known to run (it is not blind)
    assert {"shellcheck", "cloud-init", "promtool", "jq", "dash"} <= names, names


def test_the_shell_checks_come_from_the_lock_not_debian() -> None:
    found = [u for u in _suite_uses() if u.name == "shellcheck"]
    assert found and {u.how for u in found} == {"venv"}, found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import shutil\ndef t():\n    shutil.which('foo') or pytest.fail('x')\n", "shutil.which"),
        ("import subprocess\ndef t():\n    subprocess.run(['foo', '-v'])\n", "run by name"),
        ("def t():\n    venv_tool('foo', 'foo-not-locked')\n", "not in requirements.lock"),
        ("def t():\n    debian_tool('foo', 'foo-pkg')\n", "not in .ci/debian-packages"),
    ],
)
def test_the_scan_catches_an_uncovered_program(source: str, expected: str) -> None:
    (line,) = problems(uses(source, "tests/test_x.py"), _locked(), _debian())
    assert line.startswith("tests/test_x.py:") and expected in line


def test_a_guarded_lookup_and_git_pass() -> None:
    source = (
        "import shutil, subprocess\n"
        "def t():\n"
        "    if shutil.which('promtool') is None:\n"
        "        tool_missing('promtool absent: apt-get install -y prometheus')\n"
        "    subprocess.run(['git', 'status'])\n"
    )
    assert problems(uses(source, "tests/test_x.py"), _locked(), _debian()) == []
