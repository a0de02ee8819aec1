"""After a dbt build the run's parse is kept for the next run and old run folders go."""

from __future__ import annotations

import os
from pathlib import Path

from orchestration.transformation.assets import PARTIAL_PARSE, tidy_targets


def make_run(target: Path, name: str, age: int, parse: bytes | None = None) -> Path:
    run = target / name
    (run / "compiled").mkdir(parents=True)
    if parse is not None:
        (run / PARTIAL_PARSE).write_bytes(parse)
    os.utime(run, (1_000_000 + age, 1_000_000 + age))
    return run


def test_the_newest_parse_is_kept_and_only_the_newest_runs(tmp_path: Path):
    target = tmp_path / "target"
    target.mkdir()
    (target / PARTIAL_PARSE).write_bytes(b"from dbt parse")
    (target / "manifest.json").write_text("{}")
    runs = [make_run(target, f"icw_dbt_models-{i}", age=i) for i in range(6)]
    latest = make_run(target, "icw_dbt_models-latest", age=10, parse=b"from the last build")

    tidy_targets(latest, target, keep=3)

    assert (target / PARTIAL_PARSE).read_bytes() == b"from the last build"
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [PARTIAL_PARSE, "manifest.json", runs[4].name, runs[5].name, latest.name]
    )


def test_a_run_without_a_parse_leaves_the_projects_parse_alone(tmp_path: Path):
    target = tmp_path / "target"
    target.mkdir()
    (target / PARTIAL_PARSE).write_bytes(b"from dbt parse")
    run = make_run(target, "icw_dbt_models-a", age=1)
    tidy_targets(run, target, keep=5)
    assert (target / PARTIAL_PARSE).read_bytes() == b"from dbt parse"
    assert run.exists()
