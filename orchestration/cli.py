"""`icw`: generate demo extracts, refresh the warehouse, build the report."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from pathlib import Path

from orchestration.core import stopping
from orchestration.core.settings import Settings
from orchestration.core.warehouse import connect_config
from orchestration.ingestion.key_fingerprint import KeyMismatch, check_key_read_only

EPILOG = """
environment:
  ICW_HOME                   where ICW keeps its data (default ./data)
  ICW_LANDING_DIR            where extracts arrive (default $ICW_HOME/landing, created if
                             missing; a folder named here or with --landing must exist)
  ICW_WAREHOUSE              the DuckDB warehouse (default $ICW_HOME/warehouse.duckdb)
  ICW_PSEUDONYMISATION_KEY   secret key for person_id (a public demo key is used if unset);
                             the warehouse records its fingerprint and refuses a refresh with
                             another key: change keys with `icw rotate-key`
  ICW_DUCKDB_MEMORY_LIMIT    most memory DuckDB may use, in the loader and in dbt (default 1GB)
  ICW_DBT_TARGET             the dbt target that builds the marts: warehouse (DuckDB, the
                             default) or spark (the spark extra and Java; docs/spark.md)
"""

ROTATE_DESCRIPTION = """\
Change the pseudonymisation key. person_ids cannot be re-keyed, so this rebuilds the warehouse
from the archived deliveries ($ICW_HOME/archive) with the key now in ICW_PSEUDONYMISATION_KEY
(set it to the NEW key; the old one is not needed), into a new file beside the warehouse; builds
and publishes the marts there; checks that the rebuild has the same rows and published figures;
and only then swaps the files. The old file is kept beside it as
<warehouse>.before-rotation-<UTC time>.duckdb: it holds person_ids under the OLD key, so protect
it and delete it when you no longer need it. The audit history (every arrival, rejected files
included) is kept. Holds the writer's lock throughout; the landing folder is not touched.
Afterwards every refresh must use the new key.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="icw",
        description="Intervention Consistency Warehouse: load probation extracts, measure "
        "intervention use per LDU, flag inconsistency, build the monthly report.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write realistic demo extracts (and ground_truth.json)")
    _generator_args(gen)
    gen.add_argument("--out", type=Path, required=True, help="folder to write the extracts to")

    ref = sub.add_parser("refresh", help="load landed extracts, build the marts and the report")
    _location_args(ref)
    ref.add_argument("--no-report", action="store_true", help="skip building the report")
    ref.add_argument("--wait", action="store_true",
                     help="wait for a refresh already running instead of exiting")

    rep = sub.add_parser("report", help="build the report (site and PDF) from the warehouse")
    _location_args(rep)
    rep.add_argument("--wait", action="store_true", help="wait for a running refresh")

    rot = sub.add_parser(
        "rotate-key",
        help="change the pseudonymisation key: rebuild the warehouse from the archive",
        description=ROTATE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    rot.add_argument("--warehouse", type=Path, help="warehouse file (overrides ICW_WAREHOUSE)")
    rot.add_argument("--wait", action="store_true", help="wait for a running refresh")
    rot.add_argument("--allow-changed-figures", action="store_true",
                     help="swap in the rebuild even if its published tables differ from the old "
                     "ones (the models or reference data changed since the last refresh)")
    rot.add_argument("--record-only", action="store_true",
                     help="rebuild nothing: record ICW_PSEUDONYMISATION_KEY as the key of a "
                     "warehouse built before ICW recorded keys (only if you are sure it is)")

    demo = sub.add_parser("demo", help="generate demo extracts into the landing folder, refresh")
    _generator_args(demo)
    _location_args(demo)
    demo.add_argument("--no-report", action="store_true", help="skip building the report")
    return parser


def _whole_number(text: str, least: int, why: str = "") -> int:
    """An argparse type: a whole number of at least `least` (exit 2 with a usage line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least} (got {value}){why}")
    return value


def _people(text: str) -> int:
    return _whole_number(text, 100, "; the model needs a caseload")


def _months(text: str) -> int:
    return _whole_number(text, 1)


def _seed(text: str) -> int:
    return _whole_number(text, 0)


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"must be a month as YYYY-MM (got {text!r})")
    return text


def _generator_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--people", type=_people, default=17000,
                   help="people under supervision at any time, at least 100 (default 17000: a "
                   "division)")
    p.add_argument("--start", type=_month, default="2023-10",
                   help="first month, YYYY-MM (default 2023-10)")
    p.add_argument("--months", type=_months, default=36, help="number of months (default 36)")
    p.add_argument("--seed", type=_seed, default=1, help="random seed, 0 or more (default 1)")


def _location_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--landing", type=Path, help="landing folder (overrides ICW_LANDING_DIR)")
    p.add_argument("--warehouse", type=Path, help="warehouse file (overrides ICW_WAREHOUSE)")


def _settings(args: argparse.Namespace) -> Settings:
    """The environment's settings, with this command's --landing and --warehouse."""
    return Settings.from_env(landing=getattr(args, "landing", None),
                             warehouse=getattr(args, "warehouse", None))


def _generate(args: argparse.Namespace, out: Path) -> None:
    from orchestration.demo import generate

    print(f"Generating demo extracts into {out} ({args.people:,} people, {args.months} months "
          f"from {args.start}, seed {args.seed})", flush=True)
    summary = generate(out, people=args.people, start=args.start, months=args.months,
                       seed=args.seed, progress=lambda line: print(f"  {line}", flush=True))
    rows = ", ".join(f"{name} {n:,}" for name, n in summary.rows.items())
    print(f"Wrote {len(summary.files)} files ({rows} rows; {summary.bytes_written / 1e6:.1f} MB) "
          f"and ground_truth.json in {summary.seconds:.1f}s", flush=True)


def _deliver(source: Path, landing: Path) -> int:
    """Move generated extract files into the landing folder, as a delivery would arrive."""
    from orchestration.ingestion.contract import FILE_NAME

    landing.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in source.iterdir() if FILE_NAME.match(p.name))
    for path in files:
        path.replace(landing / path.name)
    return len(files)


def _refresh(args: argparse.Namespace, settings: Settings, only_report: bool = False) -> int:
    from orchestration.automation.refresh import RefreshFailed, RefreshStopped, run_refresh
    from orchestration.core.diskspace import DiskFull
    from orchestration.core.lock import WarehouseBusy

    try:
        summary = run_refresh(
            settings,
            with_report=not getattr(args, "no_report", False),
            only_report=only_report,
            wait=getattr(args, "wait", False),
        )
    except WarehouseBusy as exc:
        print(f"icw: {exc}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again later
    except RefreshFailed as exc:
        print(f"icw {args.command}: failed: {str(exc).rstrip('.')}. The published marts and "
              f"report are unchanged; fix the cause and run `icw {args.command}` again.",
              file=sys.stderr)
        return 1
    except DiskFull as exc:
        print(f"icw {args.command}: {exc}.", file=sys.stderr)
        return 1
    except RefreshStopped as exc:
        return _refresh_stopped(args.command, exc.signum, exc.published)
    except stopping.StopRequested as exc:  # before or after the Dagster run: nothing written
        return _refresh_stopped(args.command, exc.signum, published=False)
    for line in summary.lines():
        print(line)
    return 0


def _refresh_stopped(command: str, signum: int | None, published: bool) -> int:
    """One line for a refresh stopped on request; exit 143 (SIGTERM) or 130 (SIGINT)."""
    how = f"on request ({stopping.signal_name(signum)})" if signum else "from the Dagster UI"
    again = "icw report" if command == "report" else "icw refresh"
    if published:
        state = "the marts were published, the report was not rebuilt"
    elif command == "report":
        state = "the report is as it was"
    else:
        state = "nothing was published (the marts and the report are as they were)"
    print(f"icw {command}: stopped {how}; {state}. The next `{again}` will finish the work.",
          file=sys.stderr)
    return stopping.exit_code(signum or signal.SIGTERM)


def _log_unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """Keep errors Python can only ignore during clean-up out of the user's output.

    When a run stops early (a full disk, a stop signal), closing dagster-dbt's stream of dbt
    events raises inside a generator's clean-up, which Python would print as a traceback under
    "Exception ignored in". The user has already had the one line that matters; the detail goes
    to the debug log.
    """
    logging.getLogger("icw").debug(
        "ignored during clean-up in %r: %s: %s", unraisable.object,
        type(unraisable.exc_value).__name__, unraisable.exc_value,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `icw` console script.

    SIGTERM and SIGINT stop any command cleanly: one line, and the shell's status for the
    signal (143, 130) so that a supervisor can tell a requested stop from a failure (1).
    """
    args = _parser().parse_args(argv)
    sys.unraisablehook = _log_unraisable
    with stopping.raise_on_stop_signals():
        try:
            return _main(args)
        except stopping.StopRequested as exc:
            print(f"icw {args.command}: stopped on request ({stopping.signal_name(exc.signum)}); "
                  f"run `icw {args.command}` again to finish.", file=sys.stderr)
            return stopping.exit_code(exc.signum)


def _main(args: argparse.Namespace) -> int:
    try:
        if args.command == "generate":
            _generate(args, args.out.expanduser().resolve())
            return 0
        settings = _settings(args)
        if args.command == "rotate-key":
            connect_config(settings.duckdb_memory_limit)
            return _rotate(args, settings)
        settings.ensure_dirs()  # a landing folder named but missing is an error (exit 2)
        # a bad ICW_DUCKDB_MEMORY_LIMIT is a usage error, said before any work
        connect_config(settings.duckdb_memory_limit)
        if args.command in ("refresh", "demo"):
            check_key_read_only(settings)  # another key: refuse before any file is touched
    except (ValueError, OSError, KeyMismatch) as exc:
        print(f"icw {args.command}: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(args, settings)
    except KeyMismatch as exc:  # found under the writer's lock, when the pre-check could not run
        print(f"icw {args.command}: {exc}", file=sys.stderr)
        return 2


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    from orchestration.automation.refresh import RefreshStopped
    from orchestration.core.lock import WarehouseBusy
    from orchestration.ingestion.key_rotation import (
        AlreadyThisKey,
        RotationFailed,
        RotationRefused,
        record_key,
        rotate_key,
    )

    try:
        if args.record_only:
            print(record_key(settings))
            return 0
        summary = rotate_key(settings, wait=args.wait,
                             allow_changed_figures=args.allow_changed_figures)
    except AlreadyThisKey as exc:
        print(f"icw rotate-key: {exc}")
        return 0
    except RotationRefused as exc:
        print(f"icw rotate-key: {exc}", file=sys.stderr)
        return 2
    except WarehouseBusy as exc:
        print(f"icw: {exc}", file=sys.stderr)
        return 75
    except RotationFailed as exc:
        print(f"icw rotate-key: failed: {str(exc).rstrip('.')}. The warehouse is unchanged.",
              file=sys.stderr)
        return 1
    except (RefreshStopped, stopping.StopRequested) as exc:  # the rebuild is removed
        how = f"on request ({stopping.signal_name(exc.signum)})" if exc.signum else "from the UI"
        print(f"icw rotate-key: stopped {how}; the warehouse is unchanged.", file=sys.stderr)
        return stopping.exit_code(exc.signum or signal.SIGTERM)
    for line in summary.lines():
        print(line)
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "demo":
        demo_dir = settings.home / "demo"
        try:
            _generate(args, demo_dir)
        except (ValueError, OSError) as exc:
            print(f"icw demo: {exc}", file=sys.stderr)
            return 2
        moved = _deliver(demo_dir, settings.landing_dir)
        print(f"Delivered {moved} extract files to {settings.landing_dir}; the planted answers "
              f"stay in {demo_dir / 'ground_truth.json'}", flush=True)
        return _refresh(args, settings)
    if args.command == "report":
        return _refresh(args, settings, only_report=True)
    return _refresh(args, settings)


if __name__ == "__main__":
    sys.exit(main())
