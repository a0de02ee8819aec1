"""Settings for every ICW entry point, read from the environment in one place.

Settings.from_env() is the only code that reads ICW_* variables; the command line's options
(--landing, --warehouse) are its arguments, and a Dagster run gets the result through the
`icw_settings` resource (orchestration/core/resources.py). Nothing writes them back to the
environment: dbt receives the paths as --vars.

The warehouse, landing folder and keys are deployment facts, not code: they come from the
environment (or a `.env`-free shell) so the same code runs the demo, CI and a real division.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Used only when ICW_PSEUDONYMISATION_KEY is unset, so the demo runs out of the box. Anyone who
#: knows it can test a guessed CRN against a person_id, so real data must never use it.
DEMO_PSEUDONYMISATION_KEY = "icw-demo-key-not-for-real-data"

REPO_ROOT = Path(__file__).resolve().parents[2]
# DuckDB takes up to 80 % of the machine's memory by default: at national scale a refresh's
# process tree peaked at 10.9 GiB. With a limit it spills to disk instead (docs/benchmarks.md).
DEFAULT_MEMORY_LIMIT = "1GB"


class LandingMissing(ValueError):
    """A landing folder named explicitly does not exist: a mistyped path, not an empty delivery."""


@dataclass(frozen=True)
class Settings:
    """Where ICW keeps its data and how it protects it."""

    home: Path
    landing_dir: Path
    warehouse: Path
    pseudonymisation_key: str = field(repr=False)
    uses_demo_key: bool
    #: True when the landing folder is the default one under ICW_HOME, which a run may create;
    #: a folder named explicitly (--landing, ICW_LANDING_DIR) must already exist.
    landing_is_default: bool = True
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_sender: str = "icw@localhost"
    report_recipients: tuple[str, ...] = ()
    #: Who is sent which PDF (ICW_REPORT_RECIPIENTS_FILE, a CSV shaped like
    #: seeds/report_recipients.csv); None means the seed (orchestration/reporting/delivery.py).
    report_recipients_file: Path | None = None
    #: Reporting months of published_history kept (ICW_PUBLISHED_HISTORY_MONTHS).
    published_history_months: int = 24
    #: Most memory DuckDB may use, in the loader, the checks and dbt (ICW_DUCKDB_MEMORY_LIMIT).
    duckdb_memory_limit: str = DEFAULT_MEMORY_LIMIT
    #: Dagster's home (DAGSTER_HOME), when it is not $ICW_HOME/dagster.
    dagster_home_override: Path | None = None
    #: The dbt target that builds the marts (ICW_DBT_TARGET): `warehouse` (DuckDB) or `spark`.
    dbt_target: str = "warehouse"

    @property
    def archive_dir(self) -> Path:
        """Delivered files that loaded (or were duplicates), by as-at date."""
        return self.home / "archive"

    @property
    def quarantine_dir(self) -> Path:
        """Delivered files rejected whole, kept byte for byte."""
        return self.home / "quarantine"

    @property
    def reports_dir(self) -> Path:
        """The built report site and PDF."""
        return self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        """Dagster's runs, logs and schedule state live beside the data they describe."""
        return self.dagster_home_override or self.home / "dagster"

    @property
    def spark_dir(self) -> Path:
        """The Spark target's metastore, tables and exported Parquet sources (docs/spark.md)."""
        return self.home / "spark"

    @property
    def lock_file(self) -> Path:
        """The file whose exclusive lock makes one refresh at a time the writer."""
        return self.home / "refresh.lock"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        home: Path | None = None,
        landing: Path | None = None,
        warehouse: Path | None = None,
    ) -> Settings:
        """Build settings from the environment, with the documented defaults.

        `home`, `landing` and `warehouse`, when given (the command line's options, a Dagster
        resource's config), take the place of ICW_HOME, ICW_LANDING_DIR and ICW_WAREHOUSE.
        """
        env = os.environ if environ is None else environ
        home = Path(home or env.get("ICW_HOME") or "data").expanduser().resolve()
        key = env.get("ICW_PSEUDONYMISATION_KEY") or ""
        recipients = tuple(
            r.strip() for r in (env.get("ICW_REPORT_RECIPIENTS") or "").split(",") if r.strip()
        )
        landing = Path(landing or env.get("ICW_LANDING_DIR") or home / "landing").expanduser()
        landing = landing.resolve()
        dagster_home = env.get("DAGSTER_HOME")
        return cls(
            home=home,
            landing_dir=landing,
            landing_is_default=landing == home / "landing",
            warehouse=Path(warehouse or env.get("ICW_WAREHOUSE") or home / "warehouse.duckdb")
            .expanduser()
            .resolve(),
            pseudonymisation_key=key or DEMO_PSEUDONYMISATION_KEY,
            uses_demo_key=not key,
            smtp_host=env.get("ICW_SMTP_HOST") or None,
            smtp_port=_whole_number(env, "ICW_SMTP_PORT", 25),
            smtp_user=env.get("ICW_SMTP_USER") or None,
            smtp_password=env.get("ICW_SMTP_PASSWORD") or None,
            smtp_sender=env.get("ICW_SMTP_SENDER") or "icw@localhost",
            report_recipients=recipients,
            report_recipients_file=(
                Path(env["ICW_REPORT_RECIPIENTS_FILE"]).expanduser().resolve()
                if env.get("ICW_REPORT_RECIPIENTS_FILE")
                else None
            ),
            published_history_months=_whole_number(env, "ICW_PUBLISHED_HISTORY_MONTHS", 24),
            duckdb_memory_limit=env.get("ICW_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT,
            dagster_home_override=(
                Path(dagster_home).expanduser().resolve() if dagster_home else None
            ),
            dbt_target=_dbt_target(env.get("ICW_DBT_TARGET") or "warehouse"),
        )

    def ensure_dirs(self) -> None:
        """Create the folders a run writes to (never the landing folder's contents).

        The default landing folder is created; one named explicitly is not, so that a mistyped
        path fails (LandingMissing) instead of loading nothing and reporting success.
        """
        self.check_landing()
        for path in (
            self.home,
            *((self.landing_dir,) if self.landing_is_default else ()),
            self.archive_dir,
            self.quarantine_dir,
            self.reports_dir,
            self.warehouse.parent,
        ):
            path.mkdir(parents=True, exist_ok=True)

    def check_landing(self) -> None:
        """Raise LandingMissing when an explicitly named landing folder is not a folder."""
        if self.landing_is_default or self.landing_dir.is_dir():
            return
        what = "is not a folder" if self.landing_dir.exists() else "does not exist"
        raise LandingMissing(
            f"the landing folder {self.landing_dir} {what}; correct --landing or "
            "ICW_LANDING_DIR, or create the folder first"
        )

    def warn_if_demo_key(self) -> str | None:
        """Say loudly, on every run, that person ids are made with the public demo key."""
        if not self.uses_demo_key:
            return None
        message = (
            "ICW_PSEUDONYMISATION_KEY is not set: person_id values are made with the built-in "
            "DEMO key, which is public. Set ICW_PSEUDONYMISATION_KEY before loading real data."
        )
        warnings.warn(message, stacklevel=2)
        return message


#: The dbt targets a refresh can build the marts with (dbt_project/profiles.yml).
DBT_TARGETS = ("warehouse", "spark")


def _dbt_target(name: str) -> str:
    """ICW_DBT_TARGET, checked here: a mistyped target would otherwise fail deep inside dbt."""
    if name not in DBT_TARGETS:
        raise ValueError(
            f"ICW_DBT_TARGET must be 'warehouse' (DuckDB, the default) or 'spark', not {name!r}"
        )
    return name


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    """A setting that must be a positive whole number, with the setting's name if it is not."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:  # not '²', not '-1'
        raise ValueError(f"{name} must be a whole number of at least 1, not {text!r}")
    return int(text)
