"""The refresh rebuilds the incremental models whole when their code, or the code upstream, changed.

orchestration/transformation/incremental.py: a fingerprint per incremental model from dbt's
manifest, recorded in the warehouse after each successful build.
"""

from __future__ import annotations

import copy
import json

import duckdb
import pytest

from orchestration.core.resources import DBT_PROJECT_DIR
from orchestration.transformation import incremental

pytestmark = pytest.mark.unit


def node(name: str, checksum: str, nodes: list[str] = (), macros: list[str] = (),
         materialized: str = "table", resource_type: str = "model") -> dict:
    return {
        "name": name, "resource_type": resource_type, "checksum": {"checksum": checksum},
        "config": {"materialized": materialized},
        "depends_on": {"nodes": list(nodes), "macros": list(macros)},
    }


@pytest.fixture
def manifest() -> dict:
    return {
        "nodes": {
            "seed.icw.eligibility": node("eligibility", "s1", resource_type="seed"),
            "model.icw.stg": node("stg", "a1", nodes=["source.icw.raw.caseload"]),
            "model.icw.persons": node(
                "persons", "p1", nodes=["model.icw.stg", "seed.icw.eligibility"],
                macros=["macro.icw.in_period"], materialized="incremental",
            ),
            "model.icw.elsewhere": node("elsewhere", "e1", nodes=["model.icw.stg"]),
            "model.icw.downstream": node("downstream", "d1", nodes=["model.icw.persons"]),
        },
        "macros": {
            "macro.icw.in_period": {"macro_sql": "a = b", "depends_on":
                                    {"macros": ["macro.icw.helper"]}},
            "macro.icw.helper": {"macro_sql": "helper v1", "depends_on": {"macros": []}},
        },
    }


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_a_record_copied_without_its_key_is_still_updated(manifest, con):
    """Key rotation copies the audit tables into the rebuilt warehouse, without their keys."""
    incremental.record_build(con, manifest)
    con.execute("create table audit.copied as select * from audit.incremental_builds")
    con.execute("drop table audit.incremental_builds")
    con.execute("alter table audit.copied rename to incremental_builds")
    manifest["nodes"]["model.icw.persons"]["checksum"]["checksum"] = "p2"
    incremental.record_build(con, manifest)
    assert incremental.stale_models(con, manifest) == []
    assert con.execute("select count(*) from audit.incremental_builds").fetchone()[0] == 1


def test_a_warehouse_with_no_record_is_rebuilt_whole_once(manifest, con):
    assert incremental.stale_models(con, manifest) == ["persons"]
    incremental.record_build(con, manifest)
    assert incremental.stale_models(con, manifest) == []


@pytest.mark.parametrize("change", [
    lambda m: m["nodes"]["model.icw.persons"]["checksum"].update(checksum="p2"),
    lambda m: m["nodes"]["model.icw.stg"]["checksum"].update(checksum="a2"),
    lambda m: m["nodes"]["seed.icw.eligibility"]["checksum"].update(checksum="s2"),
    lambda m: m["macros"]["macro.icw.helper"].update(macro_sql="helper v2"),
    lambda m: m["nodes"]["model.icw.persons"]["config"].update(unique_key="quarter"),
], ids=["own SQL", "upstream model", "upstream seed", "a macro a macro calls", "own config"])
def test_a_change_to_its_code_or_upstream_rebuilds_it_whole(manifest, con, change):
    incremental.record_build(con, manifest)
    changed = copy.deepcopy(manifest)
    change(changed)
    assert incremental.stale_models(con, changed) == ["persons"]


@pytest.mark.parametrize("change", [
    lambda m: m["nodes"]["model.icw.elsewhere"]["checksum"].update(checksum="e2"),
    lambda m: m["nodes"]["model.icw.downstream"]["checksum"].update(checksum="d2"),
], ids=["a model beside it", "a model downstream"])
def test_a_change_elsewhere_keeps_the_build_incremental(manifest, con, change):
    incremental.record_build(con, manifest)
    changed = copy.deepcopy(manifest)
    change(changed)
    assert incremental.stale_models(con, changed) == []


def test_the_project_has_the_incremental_models_the_docs_name():
    project = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    assert list(incremental.incremental_models(project)) == [
        "int_eligible_caseload_counted", "int_eligible_persons_quarterly",
        "int_person_groups_selected"]
