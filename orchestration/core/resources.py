"""Dagster resources: the warehouse connection, dbt, and the writer's lock, from Settings."""


import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from orchestration.core.lock import warehouse_lock
from orchestration.core.settings import REPO_ROOT, Settings
from orchestration.core.warehouse import connect_config

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def dbt_executable() -> str:
    """The dbt beside this Python (the project's .venv), so PATH does not matter."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def export_settings(settings: Settings) -> None:
    """Make the environment say what settings says, for assets and for dbt's profile.

    Assets read Settings.from_env() and dbt's profile reads ICW_WAREHOUSE, so a run started
    with explicit settings (icw --warehouse, a test's temporary warehouse) must export them.
    """
    os.environ["ICW_HOME"] = str(settings.home)
    os.environ["ICW_LANDING_DIR"] = str(settings.landing_dir)
    os.environ["ICW_WAREHOUSE"] = str(settings.warehouse)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")


class WarehouseLock(dg.ConfigurableResource):
    """Holds the writer's lock for a whole run, whether launched by `icw`, the UI or a sensor.

    With the in-process executor a run sets its resources up once, so the lock is held from
    the first asset to the last and released when the run (or its process) ends.
    """

    wait: bool = False

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WarehouseLock"]:
        """Acquire the lock, or fail the run at once naming the holder."""
        settings = Settings.from_env()
        log = context.log.warning if context.log else None
        with warehouse_lock(settings.lock_file, wait=self.wait, log=log):
            release_dead_runs(context.instance, context.run_id, context.log)
            yield self


@contextmanager
def warehouse_connection(duckdb: DuckDBResource) -> Iterator[object]:
    """DuckDBResource.get_connection(), closed even when the step fails or is stopped.

    dagster-duckdb closes its connection only when the block ends normally: after an exception
    the connection stayed open until garbage collection, holding DuckDB's file lock.
    """
    with duckdb.get_connection() as con:
        try:
            yield con
        finally:
            con.close()


def release_dead_runs(instance: dg.DagsterInstance | None, run_id: str | None, log) -> list[str]:
    """Free the pool slots of runs that died holding them, and mark those runs failed.

    Every live run that writes holds the writer's lock from the start of the run (its resources
    are set up before any step claims a slot). So once this run holds the lock, any other run
    still holding or waiting for a slot was killed before Dagster could release it, and its
    slot would otherwise make this run wait for ever.
    """
    if instance is None:
        return []
    storage = instance.event_log_storage
    released = []
    for dead in sorted(storage.get_concurrency_run_ids() - {run_id}):
        storage.free_concurrency_slots_for_run(dead)
        record = instance.get_run_by_id(dead)
        if record is not None and not record.is_finished:
            instance.report_run_failed(
                record, "the run's process died; its writer's slot was released by a later run")
        released.append(dead)
        if log is not None:
            log.warning(f"Released the warehouse slot of run {dead}, whose process had died.")
    return released


def build_resources(settings: Settings) -> dict[str, object]:
    """The resources every ICW job uses."""
    export_settings(settings)
    return {
        "duckdb": DuckDBResource(
            database=str(settings.warehouse), connection_config=connect_config()
        ),
        "dbt": DbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        ),
        "warehouse_lock": WarehouseLock(),
    }
