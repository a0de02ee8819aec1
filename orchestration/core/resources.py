"""Dagster resources: the settings, the warehouse connection, dbt and the writer's lock."""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version
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


class IcwDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, without two start-up costs that a refresh never uses.

    Before every `dbt build`, dagster-dbt ran `dbt --version` in a process of its own to learn
    dbt's version (about 3 s of a division refresh on two busy cores), and loaded the dbt
    project and adapter into this process (about 2 s) for row counts and column metadata that
    ICW does not ask for. The dbt beside this Python is the dbt-core installed with it, and the
    build itself runs in dbt's own process, so neither is needed.
    """

    @cached_property
    def _cli_version(self):  # noqa: D102 (dagster-dbt's private hook)
        from packaging import version

        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(installed_version("dbt-core"))
        return DbtCliResource._cli_version.func(self)  # another dbt: ask it, as dagster-dbt does

    def _initialize_dbt_core_adapter(self, args):  # noqa: D102 (dagster-dbt's private hook)
        return None


class IcwSettings(dg.ConfigurableResource):
    """The run's Settings, as the definitions were built with them (icw's options included).

    Only the locations are resource config, shown in the UI; the key and the SMTP password are
    read from the environment by Settings.from_env() when a step asks, and never shown.
    """

    home: str
    landing_dir: str
    warehouse: str

    @classmethod
    def of(cls, settings: Settings) -> "IcwSettings":
        """The resource for these settings."""
        return cls(home=str(settings.home), landing_dir=str(settings.landing_dir),
                   warehouse=str(settings.warehouse))

    def get(self) -> Settings:
        """The settings: these locations, the rest from the environment."""
        return Settings.from_env(home=Path(self.home), landing=Path(self.landing_dir),
                                 warehouse=Path(self.warehouse))

    def dbt_vars(self) -> list[str]:
        """The --vars that give dbt's profile these settings' warehouse, home and memory limit."""
        settings = self.get()
        return ["--vars", json.dumps({
            "icw_warehouse": str(settings.warehouse),
            "icw_home": str(settings.home),
            "icw_memory_limit": settings.duckdb_memory_limit,
        })]


class WarehouseLock(dg.ConfigurableResource):
    """Holds the writer's lock for a whole run, whether launched by `icw`, the UI or a sensor.

    With the in-process executor a run sets its resources up once, so the lock is held from
    the first asset to the last and released when the run (or its process) ends.
    """

    lock_file: str
    wait: bool = False

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WarehouseLock"]:
        """Acquire the lock, or fail the run at once naming the holder."""
        log = context.log.warning if context.log else None
        with warehouse_lock(Path(self.lock_file), wait=self.wait, log=log):
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
    return {
        "icw_settings": IcwSettings.of(settings),
        "duckdb": DuckDBResource(
            database=str(settings.warehouse),
            connection_config=connect_config(settings.duckdb_memory_limit),
        ),
        "dbt": IcwDbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        ),
        "warehouse_lock": WarehouseLock(lock_file=str(settings.lock_file)),
    }
