"""When the incremental models must be rebuilt whole: their SQL, or anything they read, changed.

An incremental model (`int_eligible_persons_quarterly`) rebuilds only the periods a load can
change. It notices new loads and changed eligibility seeds itself, but not a change to its own
SQL, to a model or macro upstream, or to dbt itself: rows built by the old code would stay. So
each successful build records, in `audit.incremental_builds`, a fingerprint of every incremental
model: the checksums of the model and of every node upstream of it (models, seeds, snapshots),
the text of every macro they call, and the model's own config, all from dbt's manifest. Before a
build, a fingerprint that differs from the recorded one, or a model never recorded, makes the
refresh run `dbt build --full-refresh` (docs/benchmarks.md, Issue 12).

The record lives in the warehouse, so a copy under another name or a rebuilt warehouse carries
its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import duckdb

TABLE = "audit.incremental_builds"


def _macro_closure(manifest: Mapping[str, Any], names: list[str]) -> set[str]:
    """The macros named and every macro they call, by unique id."""
    macros = manifest.get("macros", {})
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in macros:
            continue
        seen.add(name)
        todo.extend(macros[name].get("depends_on", {}).get("macros", []))
    return seen


def fingerprint(manifest: Mapping[str, Any], unique_id: str) -> str:
    """The fingerprint of one model: its code, its upstream code and data seeds, its config."""
    nodes = manifest["nodes"]
    upstream: set[str] = set()
    macro_names: list[str] = []
    todo = [unique_id]
    while todo:
        node_id = todo.pop()
        if node_id in upstream or node_id not in nodes:  # sources are tables, not code
            continue
        upstream.add(node_id)
        depends = nodes[node_id].get("depends_on", {})
        todo.extend(depends.get("nodes", []))
        macro_names.extend(depends.get("macros", []))
    digest = hashlib.sha256()
    for node_id in sorted(upstream):
        digest.update(f"{node_id}={nodes[node_id]['checksum']['checksum']}\n".encode())
    macros = manifest.get("macros", {})
    for name in sorted(_macro_closure(manifest, macro_names)):
        digest.update(f"{name}={macros[name].get('macro_sql', '')}\n".encode())
    config = json.dumps(nodes[unique_id].get("config", {}), sort_keys=True, default=str)
    digest.update(config.encode())
    return digest.hexdigest()


def incremental_models(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Every incremental model of the project, by name, with its fingerprint."""
    return {
        node["name"]: fingerprint(manifest, node_id)
        for node_id, node in sorted(manifest["nodes"].items())
        if node.get("resource_type") == "model"
        and node.get("config", {}).get("materialized") == "incremental"
    }


def built_models(run_results: Mapping[str, Any], manifest: Mapping[str, Any]) -> set[str]:
    """The models a dbt run built successfully, by name."""
    nodes = manifest["nodes"]
    return {nodes[r["unique_id"]]["name"] for r in run_results.get("results", [])
            if r.get("status") == "success" and r["unique_id"] in nodes
            and nodes[r["unique_id"]].get("resource_type") == "model"}


def _recorded(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'audit' and table_name = 'incremental_builds'"
    ).fetchone()[0]
    if not exists:
        return {}
    return dict(con.execute(f"select model, fingerprint from {TABLE}").fetchall())


def stale_models(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any]) -> list[str]:
    """The incremental models whose code changed since their last recorded build, or new ones.

    Any of them makes the next build a full refresh; none, an incremental one.
    """
    recorded = _recorded(con)
    return [name for name, value in incremental_models(manifest).items()
            if recorded.get(name) != value]


def record_build(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any],
                 built: set[str] | None = None) -> None:
    """After a successful build: the code each incremental model in ``built`` was built with.

    ``built`` names the models the build made (dbt's run_results); None means all of them. A
    model left out of a partial build keeps its old record, so its next build is still judged
    against the code it was last built with.
    """
    con.execute("create schema if not exists audit")
    con.execute(
        f"create table if not exists {TABLE} ("
        "model varchar primary key, fingerprint varchar not null, built_at timestamp not null)"
    )
    con.begin()
    try:
        for name, value in incremental_models(manifest).items():
            if built is not None and name not in built:
                continue
            # delete, then insert: a copy of the table (key rotation copies audit tables) has
            # no primary key for an upsert to use
            con.execute(f"delete from {TABLE} where model = ?", [name])
            con.execute(f"insert into {TABLE} values (?, ?, current_timestamp)", [name, value])
        con.commit()
    except BaseException:
        con.rollback()
        raise
