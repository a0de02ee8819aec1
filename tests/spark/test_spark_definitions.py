"""With ICW_DBT_TARGET=spark the refresh's graph runs the statistics between the two dbt builds."""

from __future__ import annotations

import importlib.util

import dagster as dg
import pytest

pytestmark = pytest.mark.integration


@pytest.mark.skipif(importlib.util.find_spec("dbt.adapters.spark") is None,
                    reason="dbt-spark is not installed (pip install -e '.[spark]')")
def test_statistics_sit_between_the_two_spark_builds(tmp_path):
    from orchestration.core.settings import Settings
    from orchestration.definitions import build_definitions

    settings = Settings.from_env({"ICW_HOME": str(tmp_path), "ICW_DBT_TARGET": "spark"})
    graph = build_definitions(settings).resolve_asset_graph()
    flags = graph.get(dg.AssetKey(["marts", "consistency_flags"]))
    assert dg.AssetKey(["statistics", "consistency_flags"]) in flags.parent_keys
    statistics = graph.get(dg.AssetKey(["statistics", "consistency_flags"]))
    assert dg.AssetKey(["intermediate", "int_flags_measures_unioned"]) in statistics.parent_keys
    published = graph.get(dg.AssetKey(["marts", "published"]))
    assert dg.AssetKey(["reporting", "diversity_table_cells"]) in published.parent_keys
