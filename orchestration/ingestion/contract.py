"""The extract contract (docs/contract.md, version 1.1) as data.

Every rule is defined once here. The loader turns the rules into one SQL expression that gives
each row its first failing reason (``judge_sql``), and the Great Expectations suites are built
from the same rules, so the suite's counts per rule and the quarantine's counts cannot drift.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from orchestration.core.settings import REPO_ROOT

#: The version of docs/contract.md these rules implement; a test holds the two together.
CONTRACT_VERSION = "1.1"

EXTRACT_ORDER = ("caseload", "referrals", "completions")

FILE_NAME = re.compile(
    r"^(?P<extract>referrals|completions|caseload)_(?P<date>\d{4}-\d{2}-\d{2})\.csv(?P<gz>\.gz)?$"
)

# Reason codes, in the contract's order of precedence: a row with several faults gets the first.
WRONG_FIELD_COUNT = "WRONG_FIELD_COUNT"
MISSING_VALUE = "MISSING_VALUE"
INVALID_TYPE = "INVALID_TYPE"
UNKNOWN_CODE = "UNKNOWN_CODE"
INVALID_FORMAT = "INVALID_FORMAT"
DATE_RULE = "DATE_RULE"
DUPLICATE_KEY = "DUPLICATE_KEY"
REASON_ORDER = (
    WRONG_FIELD_COUNT,
    MISSING_VALUE,
    INVALID_TYPE,
    UNKNOWN_CODE,
    INVALID_FORMAT,
    DATE_RULE,
    DUPLICATE_KEY,
)

BANDS = ("LOW", "MEDIUM", "HIGH", "VERY_HIGH")
OFFENCE_CATEGORIES = (
    "VIOLENCE",
    "DOMESTIC_ABUSE",
    "SEXUAL_CONTACT",
    "SEXUAL_ONLINE",
    "ACQUISITIVE",
    "DRUGS",
    "DRINK_DRIVING",
    "OTHER",
)
REFERRAL_STATUSES = (
    "AWAITING_ASSESSMENT",
    "ASSESSED_SUITABLE",
    "NOT_SUITABLE",
    "AWAITING_START",
    "ON_PROGRAMME",
    "PROGRAMME_COMPLETE",
    "DESELECTED",
    "WITHDRAWN",
)
OUTCOMES = (
    "COMPLETED",
    "DESELECTED",
    "WITHDRAWN",
    "BREACHED",
    "RECALLED",
    "SENTENCE_EXPIRED",
    "TRANSFERRED",
    "DECEASED",
    "OTHER",
)
SENTENCE_TYPES = (
    "COMMUNITY_ORDER",
    "SUSPENDED_SENTENCE_ORDER",
    "LICENCE",
    "POST_SENTENCE_SUPERVISION",
)
GENDERS = ("MALE", "FEMALE", "OTHER", "NOT_KNOWN")
ETHNICITY_GROUPS = ("ASIAN", "BLACK", "MIXED", "WHITE", "OTHER", "NOT_STATED")
#: The age bands (docs/contract.md) and the youngest age in each: the one definition, from which
#: the loader's SQL is made (age_band_sql); seed diversity_groups lists them for the report.
AGE_BAND_LOWER_AGES = (("UNDER_18", 0), ("18-24", 18), ("25-34", 25), ("35-49", 35), ("50+", 50))
AGE_BANDS = tuple(band for band, _ in AGE_BAND_LOWER_AGES)

REFERRAL_ID_PATTERN = "RF[0-9]{8}"
CRN_PATTERN = "[A-Z][0-9]{6}"
DATE_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
TIMESTAMP_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"


@dataclass(frozen=True)
class Column:
    """One column of an extract, as the contract's table gives it.

    kind is one of: text, date, timestamp, integer, enum (fixed values), reference (a seed's
    codes), crn, referral_id.
    """

    name: str
    kind: str
    required: bool
    values: tuple[str, ...] = ()
    reference: str | None = None
    minimum: int | None = None

    @property
    def upper_cased(self) -> bool:
        """Codes, CRNs and referral ids are upper-cased before they are checked."""
        return self.kind in {"enum", "reference", "crn", "referral_id"}

    @property
    def sql_type(self) -> str:
        """The DuckDB type of the loaded column."""
        return {"date": "date", "timestamp": "timestamp", "integer": "integer"}.get(
            self.kind, "varchar"
        )


@dataclass(frozen=True)
class DateRule:
    """A rule between dates: ``column`` must not be ``op`` ``other`` (other may be AS_AT)."""

    column: str
    op: str  # the forbidden comparison: '>' (after) or '<' (before) or '<>' (not equal)
    other: str  # a column name, or AS_AT (the as-at date), or END_OF_AS_AT
    description: str


AS_AT = "AS_AT"
END_OF_AS_AT = "END_OF_AS_AT"


@dataclass(frozen=True)
class Extract:
    """One extract of the contract: its columns, key and date rules."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    date_rules: tuple[DateRule, ...]
    #: The personal-data columns that never reach the warehouse, and what replaces them.
    crn_column: str = "crn"
    dob_column: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        """The contract's columns, in the contract's order."""
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        """Columns a file must have in its header (all of them: optional means nullable)."""
        return self.column_names

    def column(self, name: str) -> Column:
        """The column called name."""
        return next(c for c in self.columns if c.name == name)


def _enum(name: str, values: tuple[str, ...], required: bool = True) -> Column:
    return Column(name, "enum", required, values=values)


REFERRALS = Extract(
    name="referrals",
    columns=(
        Column("referral_id", "referral_id", True),
        Column("crn", "crn", True),
        Column("ldu_code", "reference", True, reference="ldus"),
        Column("intervention_code", "reference", True, reference="interventions"),
        Column("referral_date", "date", True),
        _enum("reoffending_band", BANDS),
        _enum("rosh_level", BANDS),
        _enum("offence_category", OFFENCE_CATEGORIES),
        _enum("status", REFERRAL_STATUSES),
        Column("status_reason", "text", False),
        Column("start_date", "date", False),
        Column("last_updated_at", "timestamp", True),
    ),
    key=("referral_id",),
    date_rules=(
        DateRule("referral_date", ">", AS_AT, "referral_date is after the as-at date"),
        DateRule("start_date", "<", "referral_date", "start_date is before referral_date"),
        DateRule("start_date", ">", AS_AT, "start_date is after the as-at date"),
        DateRule(
            "last_updated_at", ">", END_OF_AS_AT, "last_updated_at is after the as-at date"
        ),
    ),
)

COMPLETIONS = Extract(
    name="completions",
    columns=(
        Column("referral_id", "referral_id", True),
        Column("crn", "crn", True),
        Column("intervention_code", "reference", True, reference="interventions"),
        Column("start_date", "date", True),
        Column("end_date", "date", True),
        _enum("outcome", OUTCOMES),
        Column("outcome_reason", "text", False),
        Column("sessions_attended", "integer", True, minimum=0),
        Column("sessions_required", "integer", True, minimum=1),
        Column("recorded_at", "timestamp", True),
    ),
    key=("referral_id",),
    date_rules=(
        DateRule("end_date", "<", "start_date", "end_date is before start_date"),
        DateRule("end_date", ">", AS_AT, "end_date is after the as-at date"),
        DateRule("recorded_at", ">", END_OF_AS_AT, "recorded_at is after the as-at date"),
    ),
)

CASELOAD = Extract(
    name="caseload",
    columns=(
        Column("snapshot_date", "date", True),
        Column("crn", "crn", True),
        Column("ldu_code", "reference", True, reference="ldus"),
        _enum("sentence_type", SENTENCE_TYPES),
        _enum("reoffending_band", BANDS),
        _enum("rosh_level", BANDS),
        _enum("offence_category", OFFENCE_CATEGORIES),
        _enum("gender", GENDERS),
        _enum("ethnicity_group", ETHNICITY_GROUPS),
        Column("date_of_birth", "date", True),
    ),
    key=("snapshot_date", "crn"),
    date_rules=(
        DateRule("snapshot_date", "<>", AS_AT, "snapshot_date is not the file's as-at date"),
        # Not in the contract's table, but a birth after the snapshot cannot be right and would
        # give a negative age band: treated as a broken date rule (docs/decisions.md).
        DateRule("date_of_birth", ">", "snapshot_date", "date_of_birth is after snapshot_date"),
    ),
    dob_column="date_of_birth",
)

EXTRACTS: dict[str, Extract] = {e.name: e for e in (REFERRALS, COMPLETIONS, CASELOAD)}

#: Every contract column of every extract, as audit.quarantined_rows keeps them (as text), with
#: the CRN replaced by person_id and the date of birth by age_band.
QUARANTINE_VALUE_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(
        ("person_id" if c == "crn" else "age_band" if c == "date_of_birth" else c)
        for e in (REFERRALS, COMPLETIONS, CASELOAD)
        for c in e.column_names
    )
)


def load_reference_codes(seeds_dir: Path | None = None) -> dict[str, tuple[str, ...]]:
    """The LDU and intervention codes of the seeds that dbt also loads (one source of truth)."""
    seeds = seeds_dir or REPO_ROOT / "seeds"
    out = {}
    for name, column in (("ldus", "ldu_code"), ("interventions", "intervention_code")):
        with (seeds / f"{name}.csv").open(newline="", encoding="utf-8") as f:
            out[name] = tuple(row[column].strip().upper() for row in csv.DictReader(f))
    return out


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


def type_ok_sql(column: Column, ref: str) -> str:
    """SQL that is true when a non-NULL text value ``ref`` is of the column's type."""
    if column.kind == "date":
        return (
            f"(regexp_full_match({ref}, '{DATE_PATTERN}') "
            f"and try_cast({ref} as date) is not null)"
        )
    if column.kind == "timestamp":
        return (
            f"(regexp_full_match({ref}, '{TIMESTAMP_PATTERN}') "
            f"and try_strptime({ref}, '%Y-%m-%dT%H:%M:%S') is not null)"
        )
    if column.kind == "integer":
        return (
            f"(regexp_full_match({ref}, '[0-9]{{1,9}}') "
            f"and coalesce(try_cast({ref} as integer) >= {column.minimum or 0}, false))"
        )
    return "true"


def typed_sql(column: Column, ref: str) -> str:
    """SQL that casts a valid text value to the column's type."""
    if column.kind == "date":
        return f"try_cast({ref} as date)"
    if column.kind == "timestamp":
        return f"try_strptime({ref}, '%Y-%m-%dT%H:%M:%S')"
    if column.kind == "integer":
        return f"try_cast({ref} as integer)"
    return ref


@dataclass(frozen=True)
class Rule:
    """One row rule: rows where ``fault_sql`` is true get ``reason_code`` and ``message``.

    ``fault_sql`` reads the normalised text columns (``v.<column>``) and, for date rules, the
    typed ones (``t.<column>``); it is only evaluated on rows that passed all earlier rules.
    """

    extract: str
    reason_code: str
    column: str | None
    fault_sql: str
    message: str
    expectation: str  # a short name for the Great Expectations suite and asset checks


def rules_for(extract: Extract, reference_codes: dict[str, tuple[str, ...]]) -> list[Rule]:
    """Every row rule of an extract, in the contract's order of precedence (but duplicates)."""
    e = extract.name
    rules: list[Rule] = []
    for c in extract.columns:
        if c.required:
            rules.append(
                Rule(e, MISSING_VALUE, c.name, f"v.{c.name} is null",
                     f"required value missing in column {c.name}",
                     f"{c.name}_not_null")
            )
    for c in extract.columns:
        if c.kind in {"date", "timestamp", "integer"}:
            what = {
                "date": "not a date (YYYY-MM-DD)",
                "timestamp": "not a timestamp (YYYY-MM-DDTHH:MM:SS)",
                "integer": f"not a whole number of {c.minimum or 0} or more",
            }[c.kind]
            rules.append(
                Rule(e, INVALID_TYPE, c.name,
                     f"(v.{c.name} is not null and not {type_ok_sql(c, f'v.{c.name}')})",
                     f"value in column {c.name} is {what}",
                     f"{c.name}_of_type")
            )
    for c in extract.columns:
        if c.kind in {"enum", "reference"}:
            allowed = c.values or reference_codes[c.reference or ""]
            rules.append(
                Rule(e, UNKNOWN_CODE, c.name,
                     f"(v.{c.name} is not null and v.{c.name} not in {_in_list(allowed)})",
                     f"value in column {c.name} is not a known code",
                     f"{c.name}_in_set")
            )
    for c in extract.columns:
        if c.kind in {"crn", "referral_id"}:
            pattern = CRN_PATTERN if c.kind == "crn" else REFERRAL_ID_PATTERN
            rules.append(
                Rule(e, INVALID_FORMAT, c.name,
                     f"(v.{c.name} is not null and not regexp_full_match(v.{c.name}, '{pattern}'))",
                     f"value in column {c.name} is not of the form {pattern}",
                     f"{c.name}_of_form")
            )
    for r in extract.date_rules:
        if r.other == AS_AT:
            other = "t.__as_at"
        elif r.other == END_OF_AS_AT:
            other = "(t.__as_at + interval 1 day)"
        else:
            other = f"t.{r.other}"
        op = ">=" if r.other == END_OF_AS_AT and r.op == ">" else r.op
        rules.append(
            Rule(e, DATE_RULE, r.column,
                 f"(t.{r.column} is not null and {other} is not null "
                 f"and t.{r.column} {op} {other})",
                 r.description,
                 f"{r.column}_{'after' if r.op == '>' else 'before' if r.op == '<' else 'equals'}"
                 f"_{r.other.lower()}")
        )
    return rules


def age_band_sql(date_of_birth: str, at: str) -> str:
    """SQL for the age band of a person born on `date_of_birth` at date `at` (NULL if unknown).

    Whole years of age, as on a birthday; a date of birth after `at` has no band.
    """
    age = f"date_sub('year', {date_of_birth}, {at})"
    bands = [band for band, _ in AGE_BAND_LOWER_AGES]
    pairs = zip(AGE_BAND_LOWER_AGES, AGE_BAND_LOWER_AGES[1:], strict=False)
    whens = " ".join(
        f"when {age} < {next_lower} then '{band}'" for (band, _), (_, next_lower) in pairs
    )
    return (
        f"case when {date_of_birth} is null or {at} is null or {date_of_birth} > {at} then null "
        f"{whens} else '{bands[-1]}' end"
    )
