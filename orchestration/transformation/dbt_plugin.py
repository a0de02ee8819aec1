"""A dbt-duckdb plugin that runs in dbt's own process before it opens the warehouse.

Named in dbt_project/profiles.yml. It applies the two guards of
orchestration/transformation/dbt_guard.py: die with the refresh that started dbt (and refuse to
start if it has gone), and hold dbt.lock for the process's life. A dbt run by hand (no refresh as
its parent) only takes the lock, and only when ICW_HOME is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from orchestration.transformation import dbt_guard


class Plugin(BasePlugin):
    """dbt-duckdb calls initialize() when dbt first sets up its DuckDB environment."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Guard the warehouse before dbt opens it."""
        parent = os.environ.get(dbt_guard.PARENT_PID_VARIABLE)
        if parent:
            dbt_guard.die_with_parent(int(parent))
        home = plugin_config.get("icw_home")
        if home:  # unset for a dbt run by hand without ICW_HOME: nothing to coordinate with
            dbt_guard.hold_for_life(dbt_guard.lock_path(Path(home)))
