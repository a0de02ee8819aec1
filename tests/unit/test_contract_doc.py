"""docs/contract.md and contract.py agree, both ways, and a failure says what to change.

The contract's rules are defined once, in contract.py: the loader's SQL and the Great
Expectations suites are built from it. docs/contract.md is written by hand for the divisions'
data teams, who build their extracts from it alone. These tests read the doc's tables and lists
(each extract's columns with type, required, enum values, pattern, reference list, minimum, date
rules and key; the file name; the processing order; the age bands; the reason codes) and compare
them with the code. Comparing, rather than generating the doc's tables, keeps the doc's prose
(what a column means, which codes to expect) where a reviewer edits it, beside the rules.

Also here: the two docs carry a version and a change log that agree, contract.py's version
agrees with the doc's, and the reference lists in docs/reference/ are still in the seeds.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from orchestration.ingestion import contract as c

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "contract.md"
METRICS_DOC = REPO / "docs" / "metrics.md"
DOC_NAME = "docs/contract.md"

#: How the doc names the code's column kinds: CRNs, referral ids and reference codes are text
#: whose rule cell gives the pattern or the reference list.
DOC_TYPE = {"crn": "text", "referral_id": "text", "reference": "text"}
#: The doc's words for a reference list, and contract.py's name for it.
REFERENCE_WORDS = {"LDU": "ldus", "intervention": "interventions"}
AS_AT_WORDS = {c.AS_AT: "the as-at date", c.END_OF_AS_AT: "the end of the as-at date"}

BACKTICKED = r"`[^`]+`"
LEADING_VALUES = re.compile(rf"^\s*((?:{BACKTICKED}\s*,?\s*)+)")
PATTERN = re.compile(r"`(\^[^`]*\$)`")
REFERENCE = re.compile(r"\ba reference (LDU|intervention)\b")
MINIMUM = re.compile(r"\b(\d+) or more\b")
DATE_RULE = re.compile(r"not (after|before) (the end of the as-at date|the as-at date|`(\w+)`)")
EQUALS_AS_AT = re.compile(r"equals the file's as-at date")
KEY = re.compile(r"\bKey: \(?((?:`\w+`(?:, )?)+)\)?")
NAME_TEMPLATE = re.compile(r"Name: `([^`]+)` or `([^`]+)`")
EXTRACT_NAMES = re.compile(r"`<extract>` is ((?:`\w+`(?:, | or )?)+)")
PROCESSING_ORDER = re.compile(r"then extract \(((?:`\w+`(?:, )?)+)\)")
AGE_BANDS = re.compile(r"age band[^(]*\(((?:`[^`]+`(?:, )?)+)\)")
TITLE_VERSION = re.compile(r"^# .*, version (\d+\.\d+)\s*$", re.MULTILINE)


def backticked(text: str) -> tuple[str, ...]:
    """The values written in backticks in text, in order."""
    return tuple(re.findall(r"`([^`]+)`", text))


# --- the code's side -------------------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """What contract.py defines that the doc must say (a value, so tests can change it)."""

    extracts: dict[str, c.Extract]
    file_name: re.Pattern[str]
    extract_order: tuple[str, ...]
    reason_order: tuple[str, ...]
    age_bands: tuple[str, ...]
    crn_pattern: str
    referral_id_pattern: str

    @classmethod
    def of(cls, module: ModuleType) -> Code:
        return cls(
            extracts=dict(module.EXTRACTS),
            file_name=module.FILE_NAME,
            extract_order=tuple(module.EXTRACT_ORDER),
            reason_order=tuple(module.REASON_ORDER),
            age_bands=tuple(module.AGE_BANDS),
            crn_pattern=module.CRN_PATTERN,
            referral_id_pattern=module.REFERRAL_ID_PATTERN,
        )

    def pattern(self, column: c.Column) -> str | None:
        """The column's pattern as the doc writes it (anchored), or None."""
        found = {"crn": self.crn_pattern, "referral_id": self.referral_id_pattern}.get(column.kind)
        return f"^{found}$" if found else None


def date_rule_words(op: str, other: str) -> str:
    """How the doc's rule cell says a date rule of contract.py."""
    if op == "<>" and other == c.AS_AT:
        return "equals the file's as-at date"
    other_words = AS_AT_WORDS.get(other, f"`{other}`")
    return f"not {'after' if op == '>' else 'before'} {other_words}"


def rule_words(code: Code, extract: c.Extract, column: c.Column) -> str:
    """A rule cell for column that this test would accept (for 'add this row' messages)."""
    parts = []
    if column.kind == "enum":
        parts.append(", ".join(f"`{v}`" for v in column.values))
    if code.pattern(column):
        parts.append(f"`{code.pattern(column)}`")
    if column.reference:
        word = next(k for k, v in REFERENCE_WORDS.items() if v == column.reference)
        parts.append(f"a reference {word}")
    if column.minimum is not None:
        parts.append(f"{column.minimum} or more")
    parts += [date_rule_words(r.op, r.other) for r in extract.date_rules if r.column == column.name]
    return "; ".join(parts)


def row_words(code: Code, extract: c.Extract, column: c.Column) -> str:
    kind = DOC_TYPE.get(column.kind, column.kind)
    required = "yes" if column.required else "no"
    return f"| {column.name} | {kind} | {required} | {rule_words(code, extract, column)} |"


# --- the doc's side --------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    heading: str
    text: str  # its prose and tables, line breaks kept

    @property
    def prose(self) -> str:
        """The section's text outside tables, on one line (sentences wrap in the source)."""
        lines = [ln for ln in self.text.splitlines() if not ln.strip().startswith("|")]
        return " ".join(" ".join(lines).split())

    def tables(self) -> list[list[dict[str, str]]]:
        """Each markdown table of the section, as rows keyed by the lower-cased header."""
        out: list[list[dict[str, str]]] = []
        block: list[list[str]] = []
        for line in [*self.text.splitlines(), ""]:
            stripped = line.strip()
            if stripped.startswith("|"):
                block.append([cell.strip() for cell in stripped.strip("|").split("|")])
                continue
            if block:
                header, *rows = block
                rows = [r for r in rows if not all(re.fullmatch(r":?-+:?", x) for x in r)]
                out.append([dict(zip([h.lower() for h in header], r, strict=False))
                            for r in rows])
                block = []
        return out

    def table_with(self, *columns: str) -> list[dict[str, str]] | None:
        """The first table whose header starts with columns, or None."""
        for table in self.tables():
            if table and tuple(table[0])[: len(columns)] == columns:
                return table
        return None


def sections(text: str) -> list[Section]:
    """The doc's '## ' sections, each with its heading."""
    parts = re.split(r"^## (.*)$", text, flags=re.MULTILINE)
    return [Section(h.strip(), body) for h, body in zip(parts[1::2], parts[2::2], strict=True)]


def extract_sections(text: str) -> dict[str, Section]:
    """The doc's sections that define an extract: '## <extract>: ...' with a column table."""
    out = {}
    for s in sections(text):
        m = re.match(r"^(\w+):", s.heading)
        if m and s.table_with("column", "type", "required", "rule") is not None:
            out[m.group(1)] = s
    return out


def section_named(text: str, start: str) -> Section | None:
    return next((s for s in sections(text) if s.heading.startswith(start)), None)


# --- the comparison --------------------------------------------------------------------------


def column_disagreements(
    code: Code, extract: c.Extract, section: Section, doc_values_of: dict[str, dict[str, tuple]]
) -> list[str]:
    """What differs between one extract's column table and contract.py's Extract."""
    where = f"{DOC_NAME}, section '## {section.heading.split(':')[0]}:'"
    table = section.table_with("column", "type", "required", "rule") or []
    doc_rows = {row["column"].strip("`"): row for row in table}
    code_names = list(extract.column_names)
    problems = []
    for i, name in enumerate(code_names):
        if name not in doc_rows:
            after = f"after row `{code_names[i - 1]}`" if i else "as the first row"
            problems.append(
                f"{where}: column `{name}` is in contract.py ({extract.name}) but not in the "
                f"table: add `{row_words(code, extract, extract.column(name))}` {after}"
            )
    for name in doc_rows:
        if name not in code_names:
            problems.append(
                f"{where}: row `{name}` is not a column of contract.py's {extract.name}: remove "
                f"the row, or add Column('{name}', ...) to the extract in contract.py"
            )
    shared_doc = [n for n in doc_rows if n in code_names]
    shared_code = [n for n in code_names if n in doc_rows]
    if shared_doc != shared_code:
        problems.append(
            f"{where}: the rows are in the order {shared_doc}; contract.py's is {shared_code}: "
            "put the rows in contract.py's order"
        )
    for name in shared_code:
        column, row = extract.column(name), doc_rows[name]
        cell = row.get("rule", "")
        at = f"{where}, row `{name}`"
        kind = DOC_TYPE.get(column.kind, column.kind)
        if row.get("type") != kind:
            problems.append(f"{at}: type is '{row.get('type')}', contract.py's is '{kind}' "
                            f"(Column kind '{column.kind}'): write '{kind}' in the type cell")
        required = "yes" if column.required else "no"
        if row.get("required") != required:
            problems.append(f"{at}: required is '{row.get('required')}', contract.py says "
                            f"'{required}': write '{required}' in the required cell")
        if column.kind == "enum":
            doc_values = doc_values_of.get(extract.name, {}).get(name, ())
            if doc_values != column.values:
                missing = [v for v in column.values if v not in doc_values]
                extra = [v for v in doc_values if v not in column.values]
                change = (f"add {missing} " if missing else "") + (
                    f"remove {extra} " if extra else "") or "reorder them "
                problems.append(
                    f"{at}: the allowed values are {list(doc_values)}, contract.py's are "
                    f"{list(column.values)}: {change}in the rule cell (or change contract.py)"
                )
        doc_pattern = next(iter(PATTERN.findall(cell)), None)
        if doc_pattern != code.pattern(column):
            want = (f"write `{code.pattern(column)}`" if code.pattern(column)
                    else "remove the pattern")
            problems.append(f"{at}: the pattern is {doc_pattern and f'`{doc_pattern}`'}, "
                            f"contract.py's is {code.pattern(column)}: {want} in the rule cell")
        found = REFERENCE.search(cell)
        doc_reference = REFERENCE_WORDS[found.group(1)] if found else None
        if doc_reference != column.reference:
            word = next((k for k, v in REFERENCE_WORDS.items() if v == column.reference), None)
            want = f"write 'a reference {word}'" if word else "remove 'a reference ...'"
            problems.append(f"{at}: the reference list is {doc_reference}, contract.py's is "
                            f"{column.reference}: {want} in the rule cell")
        found = MINIMUM.search(cell)
        doc_minimum = int(found.group(1)) if found else None
        if doc_minimum != column.minimum:
            want = (f"write '{column.minimum} or more'" if column.minimum is not None
                    else "remove 'N or more'")
            problems.append(f"{at}: the minimum is {doc_minimum}, contract.py's is "
                            f"{column.minimum}: {want} in the rule cell")
        doc_rules = {("<>", c.AS_AT)} if EQUALS_AS_AT.search(cell) else set()
        for when, other, other_column in DATE_RULE.findall(cell):
            other = other_column or {v: k for k, v in AS_AT_WORDS.items()}[other]
            doc_rules.add((">" if when == "after" else "<", other))
        code_rules = {(r.op, r.other) for r in extract.date_rules if r.column == name}
        for op, other in sorted(code_rules - doc_rules):
            problems.append(f"{at}: contract.py has the date rule '{name} "
                            f"{date_rule_words(op, other)}': add "
                            f"'{date_rule_words(op, other)}' to the rule cell")
        for op, other in sorted(doc_rules - code_rules):
            problems.append(f"{at}: the rule cell says '{date_rule_words(op, other)}', which "
                            f"contract.py does not check: remove it, or add "
                            f"DateRule('{name}', '{op}', ...) to contract.py")
    key = KEY.search(section.prose)
    doc_key = backticked(key.group(1)) if key else None
    if doc_key != extract.key:
        want = ", ".join(f"`{k}`" for k in extract.key)
        want = f"({want})" if len(extract.key) > 1 else want
        problems.append(f"{where}: the key is {doc_key}, contract.py's is {extract.key}: "
                        f"say 'Key: {want}' in the section's text")
    return problems


def enum_values(text: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """Each extract's enum columns and the values its rule cell lists ('as in X' resolved)."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    pending = []
    for name, section in extract_sections(text).items():
        out[name] = {}
        for row in section.table_with("column", "type", "required", "rule") or []:
            cell = row.get("rule", "")
            same = re.match(r"^as in (\w+)", cell)
            if same:
                pending.append((name, row["column"].strip("`"), same.group(1)))
                continue
            leading = LEADING_VALUES.match(cell)
            out[name][row["column"].strip("`")] = backticked(leading.group(1)) if leading else ()
    for name, column, other in pending:
        out[name][column] = out.get(other, {}).get(column, ())
    return out


def file_name_disagreements(code: Code, text: str) -> list[str]:
    """The doc's file name, extract names and processing order against contract.py's."""
    files = section_named(text, "Files")
    if files is None:
        return [f"{DOC_NAME}: no '## Files' section: it says how files are named"]
    prose, where, problems = files.prose, f"{DOC_NAME}, section '## Files'", []
    named = EXTRACT_NAMES.search(prose)
    doc_extracts = backticked(named.group(1)) if named else ()
    if set(doc_extracts) != set(code.extracts):
        problems.append(f"{where}: '`<extract>` is ...' names {sorted(doc_extracts)}, "
                        f"contract.py's EXTRACTS are {sorted(code.extracts)}: name those")
    order = PROCESSING_ORDER.search(prose)
    doc_order = backticked(order.group(1)) if order else ()
    if doc_order != code.extract_order:
        want = ", ".join(f"`{e}`" for e in code.extract_order)
        problems.append(f"{where}: files are processed in extract order {doc_order}, "
                        f"contract.py's EXTRACT_ORDER is {code.extract_order}: "
                        f"write 'then extract ({want})'")
    template = NAME_TEMPLATE.search(prose)
    if template is None:
        return [*problems, f"{where}: no 'Name: `<extract>_<YYYY-MM-DD>.csv` or `.csv.gz`'"]
    alternation = "|".join(re.escape(e) for e in doc_extracts)

    def as_regex(name: str) -> str:
        return (re.escape(name).replace("<extract>", f"(?:{alternation})")
                .replace("<YYYY\\-MM\\-DD>", "[0-9]{4}-[0-9]{2}-[0-9]{2}")
                .replace("<YYYY-MM-DD>", "[0-9]{4}-[0-9]{2}-[0-9]{2}"))

    base, other_ending = template.groups()
    stem = base.rsplit(".", 1)[0] if other_ending.startswith(".") else ""
    doc_name = re.compile(f"^(?:{as_regex(base)}|{as_regex(stem + other_ending)})$")
    extracts = set(doc_extracts) | set(code.extracts) | {"referral", "Caseload", "notes"}
    dates = ("2024-05-31", "2024-5-31", "2024-05", "20240531", "2024-02-30")
    endings = (".csv", ".csv.gz", ".gz", ".CSV", ".txt", ".csv.zip", "", ".csv.gz.csv")
    differ = [f"{e}_{d}{x}" for e in sorted(extracts) for d in dates for x in endings
              if bool(doc_name.match(f"{e}_{d}{x}")) != bool(code.file_name.match(f"{e}_{d}{x}"))]
    if differ:
        problems.append(f"{where}: the name `{base}` or `{other_ending}` and contract.py's "
                        f"FILE_NAME ({code.file_name.pattern}) disagree on {differ[:6]}: change "
                        "the doc's 'Name:' to what FILE_NAME accepts")
    return problems


def disagreements(text: str, code: Code) -> list[str]:
    """Every way docs/contract.md (text) and contract.py (code) differ, each with its fix."""
    problems = file_name_disagreements(code, text)
    found = extract_sections(text)
    for name in code.extracts:
        if name not in found:
            problems.append(f"{DOC_NAME}: contract.py defines extract '{name}' but the doc has "
                            f"no '## {name}: ...' section with a column | type | required | "
                            "rule table: add one")
    for name in found:
        if name not in code.extracts:
            problems.append(f"{DOC_NAME}: section '## {name}:' has a column table but "
                            f"contract.py has no extract '{name}': remove it or add it to "
                            "contract.py's EXTRACTS")
    values = enum_values(text)
    for name, extract in code.extracts.items():
        if name in found:
            problems += column_disagreements(code, extract, found[name], values)
        if extract.required != extract.column_names:
            problems.append(f"{DOC_NAME}, section '## Files': it says every column of a table "
                            f"must be in the header, but contract.py's {name}.required is "
                            f"{extract.required}: say which columns a header may leave out")
        if extract.dob_column and name in found:
            table = found[name].table_with("column", "type", "required", "rule") or []
            cell = next((r["rule"] for r in table if r["column"] == extract.dob_column), "")
            bands = AGE_BANDS.search(cell)
            doc_bands = backticked(bands.group(1)) if bands else ()
            if doc_bands != code.age_bands:
                problems.append(f"{DOC_NAME}, section '## {name}:', row "
                                f"`{extract.dob_column}`: the age bands are {doc_bands}, "
                                f"contract.py's AGE_BANDS are {code.age_bands}: list those, "
                                "in order, in '(...)' after 'age band'")
    rejected = section_named(text, "What happens to what is not accepted")
    table = rejected.table_with("order", "reason code") if rejected else None
    doc_reasons = tuple(r["reason code"].strip("`") for r in table or [])
    if doc_reasons != code.reason_order:
        problems.append(f"{DOC_NAME}, section '## What happens to what is not accepted': the "
                        f"reason codes in order are {doc_reasons}, contract.py's REASON_ORDER is "
                        f"{code.reason_order}: make the order | reason code table list those")
    return problems


# --- the tests -------------------------------------------------------------------------------

CODE = Code.of(c)


def test_docs_contract_md_agrees_with_contract_py():
    problems = disagreements(DOC.read_text(encoding="utf-8"), CODE)
    assert not problems, "\n".join(problems)


def _replace_line(text: str, start: str, old: str, new: str) -> str:
    """text with old replaced by new on the one line that starts with start."""
    lines = text.splitlines()
    (i,) = [i for i, ln in enumerate(lines) if ln.strip().startswith(start)][:1]
    assert old in lines[i]
    lines[i] = lines[i].replace(old, new)
    return "\n".join(lines)


def _drop_line(text: str, start: str) -> str:
    lines = text.splitlines()
    (i,) = [i for i, ln in enumerate(lines) if ln.strip().startswith(start)][:1]
    return "\n".join(lines[:i] + lines[i + 1:])


def _with_column(extract: str, column: c.Column) -> Code:
    e = CODE.extracts[extract]
    return dataclasses.replace(
        CODE, extracts={**CODE.extracts,
                        extract: dataclasses.replace(e, columns=(*e.columns, column))})


DOC_CHANGES = {
    "a row dropped": (
        lambda t: _drop_line(t, "| outcome_reason |"), CODE,
        "column `outcome_reason` is in contract.py (completions) but not in the table: add "
        "`| outcome_reason | text | no |  |` after row `outcome`"),
    "a row the code lacks": (
        lambda t: _replace_line(t, "| gender |", "| gender |", "| sex | enum | yes | `M` |\n"
                                "| gender |"), CODE,
        "row `sex` is not a column of contract.py's caseload"),
    "an enum value changed": (
        lambda t: _replace_line(t, "| outcome |", "`RECALLED`", "`RECALL`"), CODE,
        "add ['RECALLED'] remove ['RECALL'] in the rule cell"),
    "an enum value in a shared list changed": (
        lambda t: _replace_line(t, "| rosh_level |", "`VERY_HIGH`", "`VERY HIGH`"), CODE,
        "row `rosh_level`: the allowed values"),
    "a pattern changed": (
        lambda t: _replace_line(t, "| crn | text | yes | `^[A-Z][0-9]{6}$` (case",
                                "{6}", "{7}"), CODE,
        "row `crn`: the pattern is `^[A-Z][0-9]{7}$`, contract.py's is ^[A-Z][0-9]{6}$"),
    "a type changed": (
        lambda t: _replace_line(t, "| recorded_at |", "timestamp", "date"), CODE,
        "row `recorded_at`: type is 'date', contract.py's is 'timestamp'"),
    "required changed": (
        lambda t: _replace_line(t, "| start_date | date | no |", "| no |", "| yes |"), CODE,
        "row `start_date`: required is 'yes', contract.py says 'no'"),
    "a minimum changed": (
        lambda t: _replace_line(t, "| sessions_required |", "1 or more", "0 or more"), CODE,
        "the minimum is 0, contract.py's is 1"),
    "a date rule dropped": (
        lambda t: _replace_line(t, "| date_of_birth |", "; not after `snapshot_date`", ""), CODE,
        "add 'not after `snapshot_date`' to the rule cell"),
    "a date rule the code lacks": (
        lambda t: _replace_line(t, "| start_date | date | yes |", "| yes | |",
                                "| yes | not after the as-at date |"), CODE,
        "the rule cell says 'not after the as-at date', which contract.py does not check"),
    "a key changed": (
        lambda t: t.replace("Key: (`snapshot_date`, `crn`)", "Key: (`crn`)"), CODE,
        "the key is ('crn',), contract.py's is ('snapshot_date', 'crn')"),
    "the file name's extension changed": (
        lambda t: t.replace("`.csv.gz`;", "`.csv.zip`;"), CODE,
        "disagree on"),
    "the processing order changed": (
        lambda t: t.replace("then extract (`caseload`, `referrals`",
                            "then extract (`referrals`, `caseload`"), CODE,
        "files are processed in extract order ('referrals', 'caseload', 'completions')"),
    "reason codes reordered": (
        lambda t: t.replace("| 4 | `UNKNOWN_CODE`", "| 4 | `INVALID_FORMAT`", 1)
                   .replace("| 5 | `INVALID_FORMAT`", "| 5 | `UNKNOWN_CODE`", 1), CODE,
        "the reason codes in order are"),
    "an age band changed": (
        lambda t: t.replace("`50+`", "`50_AND_OVER`"), CODE, "the age bands are"),
    "a column only the code has": (
        lambda t: t, _with_column("referrals", c.Column("team_code", "text", False)),
        "column `team_code` is in contract.py (referrals) but not in the table: add "
        "`| team_code | text | no |  |` after row `last_updated_at`"),
    "an enum value only the code has": (
        lambda t: t,
        dataclasses.replace(CODE, extracts={**CODE.extracts, "caseload": dataclasses.replace(
            c.CASELOAD, columns=tuple(
                dataclasses.replace(col, values=(*col.values, "UNKNOWN"))
                if col.name == "gender" else col for col in c.CASELOAD.columns))}),
        "row `gender`: the allowed values are ['MALE', 'FEMALE', 'OTHER', 'NOT_KNOWN'], "
        "contract.py's are ['MALE', 'FEMALE', 'OTHER', 'NOT_KNOWN', 'UNKNOWN']: add ['UNKNOWN']"),
    "a pattern only the code changed": (
        lambda t: t, dataclasses.replace(CODE, referral_id_pattern="RF[0-9]{10}"),
        "write `^RF[0-9]{10}$` in the rule cell"),
    "a file name only the code changed": (
        lambda t: t, dataclasses.replace(CODE, file_name=re.compile(
            r"^(?P<extract>referrals|completions|caseload)_(?P<date>\d{8})\.csv$")),
        "change the doc's 'Name:' to what FILE_NAME accepts"),
}


@pytest.mark.parametrize("change", DOC_CHANGES)
def test_a_disagreement_fails_and_says_what_to_change(change):
    edit, code, expected = DOC_CHANGES[change]
    text = edit(DOC.read_text(encoding="utf-8"))
    problems = disagreements(text, code)
    assert any(expected in p for p in problems), "\n".join(problems) or "no disagreement found"


def doc_version(path: Path) -> tuple[str, str]:
    """The version in the doc's title and the newest version in its change log."""
    text = path.read_text(encoding="utf-8")
    title = TITLE_VERSION.search(text)
    versions = section_named(text, "Versions")
    log = versions.table_with("version", "date") if versions else None
    assert title, f"{path.name}: its title must end ', version MAJOR.MINOR' (e.g. 1.1)"
    assert log, f"{path.name}: it needs a '## Versions' section with a version | date | table"
    return title.group(1), log[0]["version"]


@pytest.mark.parametrize("path", [DOC, METRICS_DOC], ids=lambda p: p.name)
def test_the_title_names_the_newest_version_of_the_change_log(path):
    title, newest = doc_version(path)
    assert title == newest, (
        f"docs/{path.name}: the title says version {title}, the change log's first row "
        f"{newest}: add a row for {title} at the top of the log, or fix the title"
    )


def test_contract_py_states_the_docs_version():
    title, _ = doc_version(DOC)
    stated = getattr(c, "CONTRACT_VERSION", None)
    if stated is None:  # the docstring names the major version: "(docs/contract.md, version 1)"
        found = re.search(r"docs/contract\.md, version (\d+(?:\.\d+)?)", c.__doc__ or "")
        assert found, "contract.py's docstring must say '(docs/contract.md, version N)'"
        stated = found.group(1)
    assert title == stated or title.startswith(f"{stated}."), (
        f"docs/contract.md is version {title} but contract.py says version {stated}: a new "
        "major version changes both (contract.py's docstring, or CONTRACT_VERSION if it has one)"
    )


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (REPO / "docs" / "reference").glob("*.csv")))
def test_every_reference_row_in_docs_is_in_the_seed_with_the_same_values(name):
    doc_columns, doc_rows = _rows(REPO / "docs" / "reference" / name)
    seed_columns, seed_rows = _rows(REPO / "seeds" / name)
    missing_columns = [col for col in doc_columns if col not in seed_columns]
    assert not missing_columns, (
        f"seeds/{name} lacks the column(s) {missing_columns} of docs/reference/{name}: columns "
        "may be added to a seed, never removed (that is a major version of the contract)")
    seed = {tuple(r[col] for col in doc_columns) for r in seed_rows}
    lost = [r for r in doc_rows if tuple(r[col] for col in doc_columns) not in seed]
    assert not lost, (
        f"rows of docs/reference/{name} not in seeds/{name} with the same values: {lost[:5]}. "
        "Codes may be added to a seed, but those in docs/reference keep their meaning: restore "
        f"them in the seed, or change docs/reference/{name} in a new version of the contract")
