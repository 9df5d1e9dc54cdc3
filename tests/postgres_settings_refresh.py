"""Regenerate infra/config/postgres_settings.json from a real PostgreSQL's pg_settings.

    .venv/bin/python -m tests.postgres_settings_refresh

Starts a throwaway cluster of the newest installed server (Debian's `postgresql`, see
tests/pg_harness.py) on 127.0.0.1, reads name, vartype, unit, min_val, max_val and enumvals of
every setting, and writes them with the server's version and this command. validate checks
`database.tuning` against that file (infra/config/postgres_limits.py); tests/test_postgres_limits.py
compares it with the installed server's `postgres --describe-config` on every run.
"""

from __future__ import annotations

import json
import sys

from infra.config.postgres_limits import SETTINGS_FILE
from tests.pg_harness import Cluster, postgres_bin

QUERY = (
    "SELECT json_build_object('version', current_setting('server_version'), 'settings', "
    "json_object_agg(name, json_build_object('vartype', vartype, 'unit', unit, 'min', min_val, "
    "'max', max_val, 'enumvals', enumvals) ORDER BY name)) FROM pg_settings"
)


def main() -> int:
    bin_dir = postgres_bin()
    if bin_dir is None:
        print("PostgreSQL server absent: apt-get install -y postgresql", file=sys.stderr)
        return 2
    cluster = Cluster.create(bin_dir)
    try:
        cluster.run(["initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust"])
        cluster.start()
        data = json.loads(cluster.psql(QUERY))
    finally:
        cluster.destroy()
    document = {
        "source": "pg_settings of a real PostgreSQL server (vartype, unit, min_val, max_val, "
        "enumvals), the documented ranges of its parameters",
        "server_version": data["version"],
        "generated_by": "python -m tests.postgres_settings_refresh",
        "settings": data["settings"],
    }
    SETTINGS_FILE.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(data['settings'])} settings of PostgreSQL {data['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
