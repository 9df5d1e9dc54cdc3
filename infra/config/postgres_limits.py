"""PostgreSQL's documented ranges for the settings a config writes, from a real server's data.

`postgres_settings.json` holds `pg_settings` (vartype, unit, min_val, max_val, enumvals) of a
real PostgreSQL, with its version and the command that produced it
(`python -m tests.postgres_settings_refresh`); a test compares it with the installed server's
`postgres --describe-config`. A model whose fields are PostgreSQL settings derives from
`PostgresSettings`: each field named after a setting (`work_mem`, or `archive_timeout_seconds`
for `archive_timeout` given in seconds) is checked against the setting's range and enum, in the
setting's own unit, so a new setting field is covered by its name alone.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import model_validator

from infra.config.base import Strict, SubfieldError

SETTINGS_FILE = Path(__file__).with_name("postgres_settings.json")
# Field-name suffixes that give the unit of a setting's value written in the config.
_SUFFIX_UNITS = {"_seconds": "s", "_ms": "ms", "_minutes": "min"}
# Units of memory and time as pg_settings states them, in bytes and milliseconds.
_MEMORY = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_SIZE = re.compile(r"^(\d+)(B|kB|MB|GB|TB)$")


@cache
def settings() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SETTINGS_FILE.read_text())
    return data


def _unit_scale(unit: str | None) -> tuple[str, float] | None:
    """('memory'|'time', size of one unit in bytes/ms) of a pg_settings unit like 8kB or s."""
    if unit is None:
        return None
    match = re.fullmatch(r"(\d*)(B|kB|MB|GB|TB|us|ms|s|min|h|d)", unit)
    if match is None:
        return None
    count = int(match.group(1) or 1)
    base = match.group(2)
    if base in _MEMORY:
        return "memory", count * _MEMORY[base]
    return "time", count * _TIME[base]


def _setting_of(field: str) -> tuple[str, str | None] | None:
    """(setting name, unit the config writes it in) for a field named after a setting."""
    known = settings()["settings"]
    if field in known:
        return field, None
    for suffix, unit in _SUFFIX_UNITS.items():
        if field.endswith(suffix) and field.removesuffix(suffix) in known:
            return field.removesuffix(suffix), unit
    return None


def _in_units(value: Any, field_unit: str | None, setting_unit: str | None) -> float | None:
    """`value` in the setting's units, or None when it cannot be compared."""
    scale = _unit_scale(setting_unit)
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match is None or scale is None or scale[0] != "memory":
            return None
        return int(match.group(1)) * _MEMORY[match.group(2)] / scale[1]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if field_unit is None or scale is None:
        return float(value)
    given = _unit_scale(field_unit)
    return None if given is None else value * given[1] / scale[1]


def _shown(amount: float, unit: str | None, written_as: str | None) -> str:
    """A bound in the units the user writes: seconds for a _seconds field, a size otherwise."""
    scale = _unit_scale(unit)
    if scale is None:
        return f"{amount:g}"
    kind, size = scale
    if kind == "time":
        given = _unit_scale(written_as or unit)
        return f"{amount * size / (given[1] if given else size):g}"
    total = amount * size
    for name in ("TB", "GB", "MB"):
        if total >= _MEMORY[name] and total % _MEMORY[name] == 0:
            return f"{int(total // _MEMORY[name])}{name}"
    exact = f"{int(total)}B" if total < 1024 else f"{int(total // 1024)}kB"
    rough = next((n for n in ("TB", "GB", "MB") if total >= _MEMORY[n]), None)
    return f"{exact} (about {round(total / _MEMORY[rough])}{rough})" if rough else exact


def setting_problem(field: str, value: Any) -> str | None:
    """None if `value` of config field `field` is within its PostgreSQL setting's range."""
    found = _setting_of(field)
    if found is None:
        return None
    name, field_unit = found
    meta = settings()["settings"][name]
    version = settings()["server_version"].split(" ")[0]
    source = f"PostgreSQL {version} pg_settings"
    if meta["vartype"] == "enum":
        if value not in meta["enumvals"]:
            return f"{value!r} is not a value of {name}; use one of {', '.join(meta['enumvals'])}"
        return None
    if meta["vartype"] not in ("integer", "real"):
        return None
    amount = _in_units(value, field_unit, meta["unit"])
    if amount is None:
        return None
    low, high = float(meta["min"]), float(meta["max"])
    if amount < low:
        bound = _shown(low, meta["unit"], field_unit)
        return f"{value} is below {bound}, the least {name} accepts ({source}); raise it"
    if amount > high:
        bound = _shown(high, meta["unit"], field_unit)
        return f"{value} is above {bound}, the most {name} accepts ({source}); lower it"
    return None


class PostgresSettings(Strict):
    """A model whose fields are PostgreSQL settings, checked against the server's ranges."""

    @model_validator(mode="after")
    def _within_postgres_ranges(self) -> Any:
        problems = [
            (name, problem)
            for name in type(self).model_fields
            if (problem := setting_problem(name, getattr(self, name)))
        ]
        if problems:
            raise SubfieldError(problems)
        return self
