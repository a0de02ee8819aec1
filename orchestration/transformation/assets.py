"""The dbt project as Dagster assets (sources mapped onto the ingestion assets), and publishing."""


import contextlib
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.asset_utils import get_asset_check_key_for_test
from dagster_duckdb import DuckDBResource

from orchestration.core import stopping
from orchestration.core.resources import (
    DBT_PROJECT_DIR,
    IcwSettings,
    WarehouseLock,
    dbt_executable,
    warehouse_connection,
)
from orchestration.core.stoppable import stop_point, stoppable
from orchestration.core.warehouse import connect
from orchestration.transformation import dbt_guard, incremental
from orchestration.transformation.dbt_tests import (
    SUMMARY_CHECK,
    BlockingTestsFailedError,
    DbtBuildFailedError,
    blocking_test_ids,
    failed_nodes,
    summarise_tests,
)
from orchestration.transformation.publish import publish_marts

PUBLISHED_KEY = dg.AssetKey(["marts", "published"])
#: the asset that carries the summary check of the build's blocking dbt tests: the central
#: published table (a check needs an asset; the summary covers every model's tests)
SUMMARY_ASSET = dg.AssetKey(["marts", "ldu_intervention_measures"])
SUMMARY_CHECK_KEY = dg.AssetCheckKey(SUMMARY_ASSET, SUMMARY_CHECK)
DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _newest_source_mtime(project: DbtProject) -> float:
    """The newest modification time of the files a dbt parse reads."""
    root = Path(project.project_dir)
    folders = [root / "models", root / "macros", root / "tests", root.parent / "seeds"]
    files = [root / "dbt_project.yml", *(p for f in folders if f.is_dir() for p in f.rglob("*"))]
    return max((p.stat().st_mtime for p in files if p.is_file()), default=0.0)


def ensure_manifest(project: DbtProject = DBT_PROJECT) -> None:
    """Parse the dbt project when its manifest is missing or older than its files.

    An analyst who edits a model and runs `icw refresh` gets an asset graph that matches.
    """
    manifest = Path(project.manifest_path)
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project):
        return
    subprocess.run(
        [dbt_executable(), "parse", "--project-dir", str(project.project_dir),
         "--profiles-dir", str(project.profiles_dir), "--quiet"],
        check=True,
        cwd=project.project_dir,
    )


class IcwDbtTranslator(DagsterDbtTranslator):
    """Sources `raw.*` and `audit.*` are the ingestion assets; models group by layer.

    The blocking dbt tests are one asset check, SUMMARY_CHECK_KEY (orchestration.transformation.
    dbt_tests says why); warn-severity tests keep an asset check each, named as in dbt.
    """

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        """Warn tests as dagster-dbt makes them; every blocking test as the one summary check."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or not spec.blocking:
            return spec
        return dg.AssetCheckSpec(
            name=SUMMARY_CHECK,
            asset=SUMMARY_ASSET,
            blocking=True,
            description=(
                "Every blocking (error-severity) dbt test of the build, on every model: fails, "
                "and nothing is published, when any fails; its metadata names each failed test "
                "with dbt's message. Read from the build's run_results.json."
            ),
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        """Sources keep [source, table] (the ingestion keys); models are [layer, name]."""
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([self._layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """One group per dbt layer (reference seeds, staging, intermediate, marts)."""
        return self._layer(dbt_resource_props)

    @staticmethod
    def _layer(props: Mapping[str, Any]) -> str:
        if props["resource_type"] == "seed":
            return "reference"
        fqn = props.get("fqn") or []
        return fqn[1] if len(fqn) > 2 else "models"


TRANSLATOR = IcwDbtTranslator()
BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]
PARTIAL_PARSE = "partial_parse.msgpack"
#: seconds dbt has to stop after SIGINT (it cancels its DuckDB queries) before it is killed
DBT_STOP_SECONDS = 10
KEEP_RUN_TARGETS = 5  # runs' dbt target folders kept for reading their compiled SQL and results


def build_dbt_assets() -> dg.AssetsDefinition:
    """The @dbt_assets definition (built when definitions load, after the manifest exists)."""
    ensure_manifest()

    @dbt_assets(
        manifest=DBT_PROJECT.manifest_path,
        project=DBT_PROJECT,
        dagster_dbt_translator=TRANSLATOR,
        pool="warehouse",
    )
    def icw_dbt_models(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse_lock: WarehouseLock,
        icw_settings: IcwSettings,
    ):
        """Seeds, models and their data tests: `dbt build` into the build schemas.

        The unit tests check the models' SQL, not the month's data, so they run in `make test`
        (tests/integration/test_dbt_unit_tests.py), not in every refresh (about 8 s of 2 threads).
        """
        settings = icw_settings.get()
        with stoppable(context):
            full = _full_refresh_needed(context, settings.warehouse)
            yield from _build(context, dbt, [*icw_settings.dbt_vars(), *full],
                              settings.warehouse)

    return icw_dbt_models


def _full_refresh_needed(context: dg.AssetExecutionContext, warehouse: Path) -> list[str]:
    """`--full-refresh` when an incremental model's code changed since it was last built.

    The incremental models rebuild only the periods a load can change; rows built by other code
    must not stay (orchestration/transformation/incremental.py).
    """
    manifest = json.loads(Path(DBT_PROJECT.manifest_path).read_text())
    with contextlib.closing(connect(warehouse)) as con:
        stale = incremental.stale_models(con, manifest)
    if not stale:
        return []
    context.log.info(
        f"dbt builds every period again (--full-refresh): {', '.join(stale)} not yet built "
        "with this code")
    return ["--full-refresh"]


def _record_incremental_build(warehouse: Path, invocation) -> None:
    """After a successful build: the code the incremental models it made were built with."""
    manifest = invocation.manifest
    built = incremental.built_models(invocation.get_artifact("run_results.json"), manifest)
    with contextlib.closing(connect(warehouse)) as con:
        incremental.record_build(con, manifest, built)


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, dbt_vars: list[str],
           warehouse: Path):
    """`dbt build`, whose process stops when the refresh is stopped and dies with it.

    Models become Dagster outputs and warn tests checks, as dagster-dbt makes them; the
    blocking tests are not an event each but one summary check, read from run_results.json.
    """
    with dbt_guard.parent_pid_for_child():  # the dbt-duckdb plugin makes dbt die with us
        invocation = dbt.cli([*BUILD_ARGS, *dbt_vars], context=context, raise_on_error=False)
    process = invocation.process
    # dagster-dbt forwards an interrupt as SIGINT and waits 25 s by default: too long for a
    # supervisor's 30 s; stop_process() below ends a dbt that has not stopped by then.
    invocation.termination_timeout_seconds = DBT_STOP_SECONDS
    with stopping.on_stop(lambda _signum: stopping.interrupt_process(process, DBT_STOP_SECONDS)):
        try:
            yield from _dagster_events(context, invocation)
        finally:
            if process.poll() is None:  # stopped part-way: dbt must not block on a full pipe
                with contextlib.suppress(OSError):
                    process.stdout.close()
                stopping.stop_process(process, DBT_STOP_SECONDS)
    tidy_targets(Path(invocation.target_path), Path(DBT_PROJECT.manifest_path).parent)
    yield from _summary_check(context, invocation)  # raises when a blocking test failed
    _record_incremental_build(warehouse, invocation)


def _dagster_events(context: dg.AssetExecutionContext, invocation):
    """dagster-dbt's events for dbt's results, except the blocking tests' (summarised after)."""
    manifest = invocation.manifest
    blocking = set(blocking_test_ids(manifest))
    for event in invocation.stream_raw_events():
        if stopping.requested() is not None:
            stop_point(context)
        if event.raw_event["data"].get("node_info", {}).get("unique_id") in blocking:
            continue
        yield from event.to_default_asset_events(
            manifest=manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
            project=invocation.project,
        )


def _summary_check(context: dg.AssetExecutionContext, invocation):
    """The summary check of the blocking tests; then fail the step if dbt failed."""
    results_file = Path(invocation.target_path) / "run_results.json"
    error = invocation.get_error()
    summary = None
    broken: list[str] = []
    if results_file.exists():
        manifest = invocation.manifest
        run_results = invocation.get_artifact("run_results.json")
        summary = summarise_tests(run_results, manifest, lambda uid: dbt_test_label(manifest, uid))
        broken = failed_nodes(run_results)
        if SUMMARY_CHECK_KEY in context.selected_asset_check_keys and (
                summary.outcomes or not summary.passed):
            yield dg.AssetCheckResult(
                asset_key=SUMMARY_ASSET,
                check_name=SUMMARY_CHECK,
                passed=summary.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=None if summary.passed else summary.error_message(),
                metadata={
                    "tests": dg.MetadataValue.int(len(summary.outcomes)),
                    "failed": dg.MetadataValue.int(len(summary.failed)),
                    "not_run": dg.MetadataValue.int(summary.not_run),
                    "failed_tests": dg.MetadataValue.json(summary.failed_labels()),
                    "failures": dg.MetadataValue.md(summary.markdown()),
                },
            )
    if summary is not None and not summary.passed:
        raise BlockingTestsFailedError(summary.error_message()) from error
    if error is not None and broken:
        raise DbtBuildFailedError(
            f"dbt could not build {len(broken)} models: {'; '.join(broken[:5])}; nothing was "
            "published") from error
    if error is not None:
        raise error


def dbt_test_label(manifest: Mapping[str, Any], unique_id: str) -> str:
    """How a refresh names a dbt test: `<asset>:<test>`, as its own asset check was named."""
    key = get_asset_check_key_for_test(manifest, TRANSLATOR, unique_id, project=DBT_PROJECT)
    name = manifest["nodes"][unique_id]["name"]
    return f"{key.asset_key.to_user_string()}:{name}" if key else name


def tidy_targets(run_target: Path, project_target: Path, keep: int = KEEP_RUN_TARGETS) -> None:
    """After a build: keep its parse for the next run, and only the newest runs' folders.

    dagster-dbt gives every run its own target folder (about 14 MB) and seeds it with the
    project's `partial_parse.msgpack`, but never copies one back: without this the project's
    parse stays the one made by `dbt parse`, whose profile (the warehouse path) may differ, and
    every run parses the whole project again (about 8 s). dbt checks the file and parses in full
    when it does not match, so a stale copy costs time, never correctness.
    """
    parsed = run_target / PARTIAL_PARSE
    if parsed.exists():
        shutil.copyfile(parsed, project_target / (PARTIAL_PARSE + ".tmp"))
        (project_target / (PARTIAL_PARSE + ".tmp")).replace(project_target / PARTIAL_PARSE)
    runs = sorted(
        (p for p in project_target.glob("icw_dbt_models-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
    )
    for old in runs[:-keep] if keep else runs:
        shutil.rmtree(old, ignore_errors=True)


def mart_keys(assets: dg.AssetsDefinition) -> list[dg.AssetKey]:
    """The keys of the published models: the dbt models under models/marts and models/reporting."""
    return sorted(k for k in assets.keys if k.path[0] in ("marts", "reporting"))

def build_publish_asset(mart_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """An asset that runs only after every mart and its blocking tests succeeded."""

    @dg.asset(
        key=PUBLISHED_KEY,
        deps=mart_keys,
        group_name="marts",
        description="The published schema `marts`: the last build whose blocking tests passed.",
        kinds={"duckdb"},
        pool="warehouse",
    )
    def published_marts(
        context: dg.AssetExecutionContext, duckdb: DuckDBResource, warehouse_lock: WarehouseLock
    ) -> dg.MaterializeResult:
        with stoppable(context), warehouse_connection(duckdb) as con:
            tables = publish_marts(con)  # one transaction: a stop part-way publishes nothing
        context.log.info(f"published {len(tables)} tables: {', '.join(tables)}")
        return dg.MaterializeResult(metadata={"tables": dg.MetadataValue.json(tables)})

    return published_marts
