"""The jinja2 settings every template of the repo is rendered with.

Strict: an undefined variable is an error, never an empty string. Not HTML, so no escaping;
block tags leave no blank lines behind (YAML, shell, SQL and ini files care about layout).
"""

from __future__ import annotations

from pathlib import Path

import jinja2


def template_environment(directory: Path) -> jinja2.Environment:
    """A strict jinja2 environment loading templates from `directory`."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
