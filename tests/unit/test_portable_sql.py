"""The dbt project's SQL stays portable to Spark and Trino (Athena) (docs/portable-sql.md).

Two checks, because the adapters that compile for Spark and Athena are optional extras:

- Always (milliseconds): a lint of the project's own SQL and YAML sources for the constructs
  that break on Spark or Trino and that no parser flags, outside the `duckdb__` macros that
  keep DuckDB's own spelling.
- When dbt-spark or dbt-athena is installed (CI installs the `spark` extra): the project is
  compiled for that target (`dbt --no-populate-cache compile`: no Spark session, no AWS) and
  every compiled file is parsed by sqlglot in the engine's dialect with errors raised, then
  judged for what sqlglot parses but the engine would refuse or compute differently (unknown
  functions, percentile_cont on Trino, decimal division, USING keys used qualified, doubled
  apostrophes). A compile takes about a minute on a busy 2-core machine, so it is marked slow.
  Set ICW_PORTABLE_DBT to another environment's dbt executable to run it from an environment
  without the adapters.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sqlglot = pytest.importorskip("sqlglot")
from sqlglot import exp  # noqa: E402
from sqlglot.errors import ErrorLevel  # noqa: E402
from sqlglot.tokens import TokenType  # noqa: E402

pytestmark = pytest.mark.unit

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
SOURCE_DIRS = ("models", "macros", "tests")

# Functions sqlglot does not know but the engine has (checked against the engine's docs).
KNOWN_FUNCTIONS = {
    "spark": {"assert_true", "format_number"},  # assert_true: dbt-spark's datediff('month')
    "trino": {"to_milliseconds"},  # dbt-athena's datediff('day')
}

# The Python models compile only through their engine (dbt-athena asks AWS); off DuckDB they
# are replaced by SQL stand-ins.
PYTHON_MODELS = ("consistency_flags", "funnel_limits", "diversity_count_suppression")


# ---------------------------------------------------------------------------------------------
# The source lint
# ---------------------------------------------------------------------------------------------

# (what, pattern): each a construct that breaks or silently differs on Spark or Trino.
SOURCE_RULES = [
    ("a `::` cast (write cast(x as t))", re.compile(r"::")),
    ("qualify (Trino has none)", re.compile(r"\bqualify\b", re.I)),
    ("generate_series (use the month-offset spine)", re.compile(r"\bgenerate_series\b", re.I)),
    ("make_date (Trino has none)", re.compile(r"\bmake_date\s*\(", re.I)),
    ("strftime (use icw.month_label)", re.compile(r"\bstrftime\s*\(", re.I)),
    ("arg_max/arg_min (use max_by/min_by)", re.compile(r"\barg_(max|min)\s*\(", re.I)),
    ("a DuckDB list function (use icw.array_length, icw.array_sort)",
     re.compile(r"\b(list_\w+|len)\s*\(", re.I)),
    ("percentile_cont (use median)", re.compile(r"\bpercentile_cont\b", re.I)),
    ("information_schema (dispatch it)", re.compile(r"\binformation_schema\b", re.I)),
    ("regexp_full_match (use the matches_pattern test)", re.compile(r"regexp_full_match", re.I)),
    ("fmt-style format (use format_count/format_decimal)",
     re.compile(r"\bformat\s*\(\s*'[^']*\{[:}]", re.I)),
    ("an unquoted interval literal (use dbt.dateadd)",
     re.compile(r"\binterval\s+\d", re.I)),
    ("varchar without a length (use dbt.type_string() or string)",
     re.compile(r"\bas\s+varchar\b(?!\s*\()|data_type:\s*varchar\b", re.I)),
    ("a USING join (Trino drops its keys from t.* and t.key)",
     re.compile(r"\bjoin\b[^;]*?\busing\s*\(", re.I | re.S)),
    ("a decimal literal in a division without a cast to double (Spark and Trino divide"
     " decimals)",
     re.compile(r"^(?=.*\b\d+\.\d+\b)(?=.*\s/\s)(?!.*\bas double\).*\s/\s).*$", re.M)),
    ("a doubled apostrophe in a string (Spark reads 'a''b' as 'ab')", re.compile(r"\w''\w")),
]


# The one home each construct keeps on purpose: the dispatched macro whose DuckDB and Spark
# variants it is.
ALLOWED = {"percentile_cont (use median)": {"macros/median.sql"}}


def project_sources() -> list[Path]:
    return sorted(
        p for d in SOURCE_DIRS for p in (DBT_PROJECT_DIR / d).rglob("*")
        if p.suffix in {".sql", ".yml"}
    )


def strip_duckdb_variants(text: str) -> str:
    """Blank out the `duckdb__` macro bodies: the one place DuckDB's own spelling may stay."""
    return re.sub(
        r"{%-?\s*macro\s+duckdb__.*?{%-?\s*endmacro\s*-?%}", "", text, flags=re.S | re.I
    )


def strip_comments(text: str, yaml: bool) -> str:
    text = re.sub(r"{#.*?#}", "", text, flags=re.S)
    text = re.sub(r"--[^\n]*", "", text)
    if yaml:
        text = re.sub(r"^\s*#[^\n]*", "", text, flags=re.M)
        # descriptions are prose
        text = re.sub(r"^(\s*)description:.*?(?=^\1\S|\Z)", "", text, flags=re.S | re.M)
    return text


def source_findings() -> list[str]:
    found = []
    for path in project_sources():
        text = strip_comments(strip_duckdb_variants(path.read_text()), path.suffix == ".yml")
        name = path.relative_to(DBT_PROJECT_DIR).as_posix()
        for what, pattern in SOURCE_RULES:
            if name in ALLOWED.get(what, ()):
                continue
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{name} (~line {line}): {what}")
    return found


def test_the_sources_use_no_construct_that_breaks_on_spark_or_trino():
    assert source_findings() == []


# ---------------------------------------------------------------------------------------------
# The compiled SQL, per engine
# ---------------------------------------------------------------------------------------------

PROFILES = """
icw:
  target: spark
  outputs:
    spark:
      type: spark
      method: session
      host: localhost
      schema: icw
      threads: 1
    athena:
      type: athena
      s3_staging_dir: s3://icw-example/staging/
      s3_data_dir: s3://icw-example/tables/
      region_name: eu-west-2
      database: awsdatacatalog
      schema: icw
      work_group: primary
      threads: 1
"""

ADAPTER_MODULE = {"spark": "dbt.adapters.spark", "athena": "dbt.adapters.athena"}
DIALECT = {"spark": "spark", "athena": "trino"}


def dbt_executable(target: str) -> str:
    other = os.environ.get("ICW_PORTABLE_DBT")
    if other:
        return other
    if importlib.util.find_spec(ADAPTER_MODULE[target]) is None:
        pytest.skip(f"dbt-{target} is not installed")
    return str(Path(sys.executable).parent / "dbt")


def compile_for(target: str, out: Path) -> Path:
    (out / "profiles").mkdir(parents=True)
    (out / "profiles" / "profiles.yml").write_text(PROFILES)
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    done = subprocess.run(
        [dbt_executable(target), "--no-populate-cache", "compile", "--target", target,
         "--profiles-dir", str(out / "profiles"), "--project-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(out / "target"), "--log-path", str(out / "logs"),
         "--exclude", *PYTHON_MODELS],
        # cwd outside the repository: a Spark session, were one started, writes derby.log there
        cwd=out, env=env, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    return out / "target" / "compiled" / "icw"


def is_double(node: exp.Expression) -> bool:
    """Whether an operand is a double on every engine, whatever its columns' types."""
    if isinstance(node, exp.Paren):
        return is_double(node.this)
    if isinstance(node, exp.Cast | exp.TryCast):
        return node.to.this in {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}
    if isinstance(node, exp.Mul | exp.Add | exp.Sub | exp.Div):
        return is_double(node.left) or is_double(node.right)
    if isinstance(node, exp.Coalesce | exp.Nullif | exp.Sum | exp.Max | exp.Min | exp.Abs):
        return is_double(node.this)
    return False


def whole_days(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Anonymous) and node.name.lower() == "to_milliseconds"


def compiled_findings(sql: str, dialect: str) -> list[str]:
    found = []
    for tree in sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE):
        if tree is None:
            continue
        for fn in tree.find_all(exp.Anonymous):
            if fn.name.lower() not in KNOWN_FUNCTIONS[dialect]:
                found.append(f"unknown function {fn.name}")
        for div in tree.find_all(exp.Div):
            if whole_days(div.left):
                continue  # dbt-athena's datediff('day'): milliseconds over a day's, exact
            if not (is_double(div.left) or is_double(div.right)):
                found.append(f"a division without a double operand: {div.sql()[:80]}")
        if dialect == "trino":
            # sqlglot turns it into approx_percentile without a word
            found += [f"percentile_cont: {p.sql()[:60]}" for p in tree.find_all(exp.PercentileCont)]
            for select in tree.find_all(exp.Select):
                keys = {
                    ident.name.lower()
                    for join in select.args.get("joins") or []
                    for ident in join.args.get("using") or []
                }
                for column in select.find_all(exp.Column):
                    if column.table and column.name.lower() in keys:
                        found.append(f"a USING key used qualified: {column.sql()}")
    if dialect == "spark":
        for token in sqlglot.tokenize(sql, read="trino"):
            if token.token_type == TokenType.STRING and "'" in token.text:
                found.append(f"a doubled apostrophe: {token.text[:60]}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("target", ["spark", "athena"])
def test_the_compiled_sql_is_valid_in_the_engines_dialect(target: str, tmp_path: Path):
    compiled = compile_for(target, tmp_path)
    files = sorted(compiled.rglob("*.sql"))
    assert len(files) > 100
    problems = []
    for path in files:
        try:
            found = compiled_findings(path.read_text(), DIALECT[target])
        except sqlglot.errors.ParseError as error:
            found = [f"does not parse: {str(error).splitlines()[0][:120]}"]
        problems += [f"{path.relative_to(compiled)}: {f}" for f in found]
    assert problems == []
