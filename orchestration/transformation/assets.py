"""The dbt project as Dagster assets (sources mapped onto the ingestion assets), and publishing."""


import contextlib
import json
import shutil
import subprocess
import sys
import uuid
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
    IcwDbtCliResource,
    IcwSettings,
    WarehouseLock,
    dbt_executable,
    warehouse_connection,
)
from orchestration.core.stoppable import stop_point, stoppable
from orchestration.core.warehouse import connect
from orchestration.transformation import dbt_guard, incremental, spark
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
    # each target parses into its own folder: the manifests differ (docs/spark.md)
    target = ["--target", project.target, "--target-path", str(project.target_path)] \
        if project.target else []
    subprocess.run(
        [dbt_executable(), "parse", "--project-dir", str(project.project_dir),
         "--profiles-dir", str(project.profiles_dir), "--quiet", *target],
        check=True,
        cwd=project.project_dir,
    )


class IcwDbtTranslator(DagsterDbtTranslator):
    """Sources `raw.*` and `audit.*` are the ingestion assets; models group by layer.

    The blocking dbt tests are one asset check, SUMMARY_CHECK_KEY (orchestration.transformation.
    dbt_tests says why); warn-severity tests keep an asset check each, named as in dbt.
    On Spark the second build (after the statistics) puts its summary on `summary_asset`.
    """

    def __init__(self, summary_asset: dg.AssetKey = SUMMARY_ASSET, **kwargs) -> None:
        super().__init__(**kwargs)
        self.summary_asset = summary_asset

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
            asset=self.summary_asset,
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
           warehouse: Path, project: DbtProject = DBT_PROJECT, finish=None):
    """`dbt build`, whose process stops when the refresh is stopped and dies with it.

    Models become Dagster outputs and warn tests checks, as dagster-dbt makes them; the
    blocking tests are not an event each but one summary check, read from run_results.json.
    After a build whose blocking tests passed, `finish(invocation)` (by default: record the
    incremental models' code in the warehouse).
    """
    project_target = Path(project.manifest_path).parent
    op_name = context.op_execution_context.op.name
    run_target = None  # dagster-dbt's own folder, under the project's target/
    if project is not DBT_PROJECT:  # under the target's own folder, with that target's parse
        run_target = project_target / f"{op_name}-{uuid.uuid4().hex[:7]}"
        if (project_target / PARTIAL_PARSE).exists():  # dagster-dbt would copy DuckDB's
            run_target.mkdir(parents=True)
            shutil.copyfile(project_target / PARTIAL_PARSE, run_target / PARTIAL_PARSE)
    with dbt_guard.parent_pid_for_child():  # the dbt-duckdb plugin makes dbt die with us
        invocation = dbt.cli([*BUILD_ARGS, *dbt_vars], context=context, raise_on_error=False,
                             target_path=run_target)
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
    tidy_targets(Path(invocation.target_path), project_target, prefix=op_name)
    yield from _summary_check(context, invocation)  # raises when a blocking test failed
    if finish is None:
        _record_incremental_build(warehouse, invocation)
    else:
        finish(invocation)


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
        asset = getattr(invocation.dagster_dbt_translator, "summary_asset", SUMMARY_ASSET)
        if dg.AssetCheckKey(asset, SUMMARY_CHECK) in context.selected_asset_check_keys and (
                summary.outcomes or not summary.passed):
            yield dg.AssetCheckResult(
                asset_key=asset,
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


def tidy_targets(run_target: Path, project_target: Path, keep: int = KEEP_RUN_TARGETS,
                 prefix: str = "icw_dbt_models") -> None:
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
        (p for p in project_target.glob(f"{prefix}-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
    )
    for old in runs[:-keep] if keep else runs:
        shutil.rmtree(old, ignore_errors=True)


def mart_keys(assets: dg.AssetsDefinition | list[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    """The keys of the published models: the dbt models under models/marts and models/reporting."""
    defs = assets if isinstance(assets, list) else [assets]
    return sorted(k for a in defs for k in a.keys if k.path[0] in ("marts", "reporting"))

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
        context: dg.AssetExecutionContext,
        duckdb: DuckDBResource,
        warehouse_lock: WarehouseLock,
        icw_settings: IcwSettings,
    ) -> dg.MaterializeResult:
        months = icw_settings.get().published_history_months
        with stoppable(context), warehouse_connection(duckdb) as con:
            # one transaction: a stop part-way publishes nothing
            tables = publish_marts(con, history_months=months)
        context.log.info(f"published {len(tables)} tables: {', '.join(tables)}")
        return dg.MaterializeResult(metadata={"tables": dg.MetadataValue.json(tables)})

    return published_marts


# --- The same marts on Spark (ICW_DBT_TARGET=spark; docs/spark.md) -------------------------------

SPARK_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR,
                           target=spark.TARGET, target_path=Path("target") / spark.TARGET)
#: the dbt models that read the statistics, and everything downstream of them
STATISTICS_SELECTION = "tag:statistics+"
#: the second build's summary check of its blocking tests (the first's is on SUMMARY_ASSET)
AFTER_STATISTICS_SUMMARY_ASSET = dg.AssetKey(["marts", "consistency_flags"])
STATISTICS_INPUTS = [dg.AssetKey(["intermediate", spark.FLAG_INPUT[1]]),
                     dg.AssetKey(["reporting", spark.COUNTS_INPUT[1]])]


def guarded_dbt_executable() -> str:
    """`icw-dbt` beside this Python: dbt with the refresh's guards, for targets without a plugin."""
    candidate = Path(sys.executable).parent / "icw-dbt"
    if not candidate.exists():
        raise FileNotFoundError(
            f"{candidate} is missing: install ICW again (pip install -e '.[spark]')")
    return str(candidate)


def build_spark_assets() -> list[dg.AssetsDefinition]:
    """The dbt models on Spark in two builds, with the statistics asset between them.

    1. export raw.* to Parquet; `dbt build --exclude tag:statistics+`; land its marts in DuckDB;
    2. `statistics`: flags, funnel limits, disclosure control (orchestration.transformation.spark);
    3. `dbt build --select tag:statistics+` (the SQL stand-ins, what reads them); land its marts.
    The checks and the publish then read DuckDB's build schemas as on the DuckDB target.
    """
    ensure_manifest(SPARK_PROJECT)

    def build(context, dbt, duckdb, icw_settings, export: bool):
        settings = icw_settings.get()
        if export:
            with warehouse_connection(duckdb) as con:
                spark.export_sources(con, settings.spark_dir)
        spark_dbt = IcwDbtCliResource(project_dir=dbt.project_dir, profiles_dir=dbt.profiles_dir,
                                      dbt_executable=guarded_dbt_executable(), target=spark.TARGET)
        dbt_vars = spark.dbt_vars(icw_settings.dbt_vars(), settings.spark_dir,
                                  spark.registered_sources(settings.spark_dir))

        def land(invocation) -> None:
            nodes = spark.built_tables(invocation.manifest,
                                       invocation.get_artifact("run_results.json"))
            with warehouse_connection(duckdb) as con:
                landed = spark.land_tables(con, settings.spark_dir, nodes)
            context.log.info(f"landed {len(landed)} tables from Spark: {', '.join(landed)}")

        yield from _build(context, spark_dbt, dbt_vars, settings.warehouse, SPARK_PROJECT, land)

    @dbt_assets(manifest=SPARK_PROJECT.manifest_path, project=SPARK_PROJECT,
                dagster_dbt_translator=TRANSLATOR, exclude=STATISTICS_SELECTION,
                name="icw_dbt_models", pool="warehouse")
    def icw_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                       duckdb: DuckDBResource, warehouse_lock: WarehouseLock,
                       icw_settings: IcwSettings):
        """Export the sources, `dbt build` on Spark all but the statistics' readers, land."""
        with stoppable(context):
            yield from build(context, dbt, duckdb, icw_settings, export=True)

    @dg.multi_asset(
        specs=[dg.AssetSpec(["statistics", name], deps=STATISTICS_INPUTS, group_name="statistics",
                            kinds={"python"}) for name in spark.STATISTICS_MODELS],
        name="statistics",
    )
    def statistics(context: dg.AssetExecutionContext, icw_settings: IcwSettings):
        """The statistics dbt-duckdb computes in Python models: spark.compute_statistics."""
        with stoppable(context):
            rows = spark.compute_statistics(icw_settings.get().spark_dir)
        for name, count in rows.items():
            yield dg.MaterializeResult(asset_key=dg.AssetKey(["statistics", name]),
                                       metadata={"rows": dg.MetadataValue.int(count)})

    @dbt_assets(manifest=SPARK_PROJECT.manifest_path, project=SPARK_PROJECT,
                dagster_dbt_translator=IcwDbtTranslator(AFTER_STATISTICS_SUMMARY_ASSET),
                select=STATISTICS_SELECTION,
                name="icw_dbt_models_after_statistics", pool="warehouse")
    def icw_dbt_models_after_statistics(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: DuckDBResource,
        warehouse_lock: WarehouseLock, icw_settings: IcwSettings,
    ):
        """`dbt build` on Spark of the statistics' stand-ins and what reads them, land."""
        with stoppable(context):
            yield from build(context, dbt, duckdb, icw_settings, export=False)

    return [icw_dbt_models, statistics, icw_dbt_models_after_statistics]
