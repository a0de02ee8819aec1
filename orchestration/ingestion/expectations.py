"""Great Expectations suites derived from the contract: built, written for review, checked.

One definition per rule: every ``Rule`` of ``contract.rules_for`` becomes one expectation whose
query selects the batch rows where the rule's ``fault_sql`` holds, and the contract's key gives
one more (DUPLICATE_KEY: a key repeated among rows with no other fault). The suites are written
to ``expectations/<extract>.json`` for review, and a unit test keeps them equal to what the
contract derives. Regenerate them after changing the contract or the seeds with::

    .venv/bin/python -m orchestration.ingestion.expectations --write

Each file's raw batch is validated with its suite by ``batch_validation``, through GX's SQL
engine on DuckDB (``gx_duckdb``); the results are kept and summarised by ``expectation_results``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from orchestration.core.settings import REPO_ROOT
from orchestration.ingestion import contract as c

SUITES_DIR = REPO_ROOT / "expectations"
REGENERATE = "python -m orchestration.ingestion.expectations --write"

DUPLICATE_KEY_EXPECTATION = "key_unique"
#: GX's name (type) of ``UnexpectedRowCountExpectation``, as the JSON suites give it.
EXPECTATION_TYPE = "unexpected_row_count_expectation"

#: A SQL string literal (also masked in GX's error messages, which can quote a value).
QUOTED_LITERAL = re.compile(r"('(?:[^']|'')*')")
_REFERENCE = re.compile(r"\b([vt])\.(\w+)")


def batch_sql(fault_sql: str) -> str:
    """A rule's predicate over the batch's columns: ``v.x`` → ``v_x``, ``t.__as_at`` → ``__as_at``.

    String literals are left alone, so a code or pattern containing ``v.`` is never rewritten.
    """
    parts = QUOTED_LITERAL.split(fault_sql)
    for i in range(0, len(parts), 2):
        parts[i] = _REFERENCE.sub(
            lambda m: m[2] if m[2] == "__as_at" else f"{m[1]}_{m[2]}", parts[i]
        )
    return "".join(parts)


def _gx_query(sql: str) -> str:
    """GX formats the query with ``str.format``: literal braces (regex quantifiers) are doubled."""
    return sql.replace("{", "{{").replace("}", "}}")


def rule_query(rule: c.Rule) -> str:
    """The rows of the batch that break the rule (GX counts them per file; never fetches them).

    A batch holds the rows of one or more files of an extract, ``__file`` telling them apart.
    """
    return "select __file, __line from {batch} where " + _gx_query(batch_sql(rule.fault_sql))


def duplicate_key_query(extract: c.Extract, rules: list[c.Rule]) -> str:
    """Rows whose key repeats an earlier row's of the same file, among rows breaking no other rule.

    The loader's DUPLICATE_KEY: the first valid row of a key in a file loads, later ones are
    quarantined (a key repeated in another file is a new version, not a duplicate).
    The rules are evaluated only on the rows whose key occurs more than once (a materialised
    CTE, so DuckDB cannot push them below the grouping): five times faster on a national file.
    """
    any_fault = "\n        or ".join(
        f"coalesce({_gx_query(batch_sql(r.fault_sql))}, false)" for r in rules
    )
    key = ", ".join(["__file", *(f"v_{k}" for k in extract.key)])
    return (
        "with repeated as materialized (\n"
        f"    select * from {{batch}}\n"
        f"    where ({key}) in (select {key} from {{batch}} group by all having count(*) > 1)\n"
        ")\n"
        "select __file, __line from (\n"
        f"    select __file, __line,\n"
        f"        row_number() over (partition by {key} order by __line) as seen\n"
        "    from repeated\n"
        f"    where not (\n        {any_fault}\n    )\n"
        ") as valid_rows\nwhere seen > 1"
    )


def _expectation(name: str, reason: str, column: str | None, message: str, query: str) -> dict:
    return {
        "type": EXPECTATION_TYPE,
        "kwargs": {"unexpected_rows_query": query},
        "meta": {"name": name, "reason_code": reason, "column": column},
        "description": message,
        "severity": "critical",
    }


def suite_dict(extract: c.Extract, reference_codes: dict[str, tuple[str, ...]]) -> dict:
    """The suite of one extract as GX's JSON (what ``ExpectationSuite.to_json_dict`` gives)."""
    rules = c.rules_for(extract, reference_codes)
    expectations = [
        _expectation(r.expectation, r.reason_code, r.column, r.message, rule_query(r))
        for r in rules
    ]
    expectations.append(
        _expectation(
            DUPLICATE_KEY_EXPECTATION, c.DUPLICATE_KEY, ", ".join(extract.key),
            f"key ({', '.join(extract.key)}) repeated within the file",
            duplicate_key_query(extract, rules),
        )
    )
    names = [e["meta"]["name"] for e in expectations]
    assert len(set(names)) == len(names), f"expectation names repeat in {extract.name}"
    return {
        "name": extract.name,
        "id": None,
        "expectations": expectations,
        "meta": {
            "source": "orchestration/ingestion/contract.py (rules_for) and seeds/ (codes)",
            "regenerate": REGENERATE,
        },
        "notes": (
            f"The contract's row rules for {extract.name} files, one expectation per rule, run on "
            "every parsed row of a file before quarantine (the files of a run are validated "
            "together, counted per file by __file). An unexpected count is the number of "
            "rows breaking that rule; the quarantine gives each row only its first reason. "
            "WRONG_FIELD_COUNT lines never parse into columns and are counted by the loader."
        ),
    }


def suite_dicts(reference_codes: dict[str, tuple[str, ...]] | None = None) -> dict[str, dict]:
    """Every extract's suite, derived from the contract and the seeds."""
    codes = reference_codes or c.load_reference_codes()
    return {name: suite_dict(extract, codes) for name, extract in c.EXTRACTS.items()}


def suite_json(suite: dict) -> str:
    """The committed form of a suite: stable, indented, one trailing newline."""
    return json.dumps(suite, indent=2, ensure_ascii=False) + "\n"


def write_suites(folder: Path = SUITES_DIR) -> list[Path]:
    """Write ``<extract>.json`` for every extract into folder (run after changing the contract)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, suite in suite_dicts().items():
        path = folder / f"{name}.json"
        path.write_text(suite_json(suite), encoding="utf-8")
        written.append(path)
    return written


def stale_suites(folder: Path = SUITES_DIR) -> list[str]:
    """Extracts whose committed suite differs from what the contract derives (none, normally)."""
    stale = []
    for name, suite in suite_dicts().items():
        path = folder / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != suite_json(suite):
            stale.append(name)
    return stale


def load_suite_dicts(folder: Path = SUITES_DIR) -> dict[str, dict]:
    """The committed suites, as the JSON files hold them."""
    out = {}
    for name in c.EXTRACTS:
        path = folder / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: regenerate the suites with `{REGENERATE}`")
        out[name] = json.loads(path.read_text(encoding="utf-8"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the suites (``--write``) or check the committed ones are current (``--check``)."""
    parser = argparse.ArgumentParser(prog="python -m orchestration.ingestion.expectations")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="write expectations/<extract>.json")
    group.add_argument("--check", action="store_true", help="fail if a suite is out of date")
    parser.add_argument("--folder", type=Path, default=SUITES_DIR)
    args = parser.parse_args(argv)
    if args.write:
        for path in write_suites(args.folder):
            print(f"wrote {path}")
        return 0
    stale = stale_suites(args.folder)
    for name in stale:
        print(f"{args.folder / (name + '.json')} is out of date: run `{REGENERATE}`")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
