"""`icw-dbt`: dbt with the refresh's two guards, for targets whose adapter runs no ICW plugin.

On DuckDB the guards run in a dbt-duckdb plugin (orchestration/transformation/dbt_plugin.py).
dbt-spark has no plugins, so a refresh starts dbt on Spark through this entry point, which
applies the same guards (orchestration/transformation/dbt_guard.py) before dbt starts: die with
the refresh that started it, and hold $ICW_HOME/dbt.lock for the process's life (the home from
the run's --vars, as the plugin reads it from the profile). pyspark's JVM ends when this process
does: it exits when its standard input, a pipe from this process, closes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from orchestration.transformation import dbt_guard


def icw_home(argv: list[str]) -> str | None:
    """ICW_HOME as the run's --vars give it (icw_home), else the environment's."""
    if "--vars" in argv[:-1]:
        try:
            home = json.loads(argv[argv.index("--vars") + 1]).get("icw_home")
        except (ValueError, AttributeError):
            home = None
        if home:
            return home
    return os.environ.get("ICW_HOME") or None


def main() -> None:
    """Apply the guards, then run dbt's own command line with these arguments."""
    parent = os.environ.get(dbt_guard.PARENT_PID_VARIABLE)
    if parent:
        dbt_guard.die_with_parent(int(parent))
    if home := icw_home(sys.argv[1:]):
        dbt_guard.hold_for_life(dbt_guard.lock_path(Path(home)))
    from dbt.cli.main import cli

    sys.exit(cli())
