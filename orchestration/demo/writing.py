"""Writing each month's three extract files, and recording where the planted rows went.

Files are written in the contract's processing order, a few of them gzipped so that `.csv.gz` is
exercised (with no name or time in the header, so the bytes depend only on the seed). `Written`
collects the file names, row counts, bytes and the planted rows' lines for the ground truth.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orchestration.demo.bad_rows import Spec, apply_plants
from orchestration.demo.deliveries import Completions, Versions
from orchestration.demo.lines import Lines
from orchestration.demo.people import People
from orchestration.demo.reference import Reference
from orchestration.demo.vocabulary import EXTRACT_COLUMNS, EXTRACTS
from orchestration.demo.window import Window


@dataclass
class Written:
    """What `write_files` wrote: rows per file, bytes, and where the planted rows are."""

    file_rows: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0
    bad_rows: list[dict[str, object]] = field(default_factory=list)
    lowercase_rows: list[dict[str, object]] = field(default_factory=list)


def write_files(
    out_dir: Path,
    reference: Reference,
    window: Window,
    population: People,
    versions: Versions,
    completions: Completions,
    lines: Lines,
    planned: dict[tuple[str, int], list[Spec]],
    plant_rng: np.random.Generator,
    report: Callable[[str], None],
) -> Written:
    """Write each month's three files in the contract's processing order.

    A few referrals and completions files are gzipped (months 7 and 10 of each year of the
    window) so that `.csv.gz` is exercised; gzip's header carries no name and no time.
    """
    written = Written()
    bounds = {
        "referrals": np.searchsorted(versions.month, np.arange(window.months + 1)),
        "completions": np.searchsorted(completions.month, np.arange(window.months + 1)),
    }
    serial = 0
    for k in range(window.months):
        asat = window.as_at(k)
        day = int(window.month_end_days[k])
        for extract in EXTRACTS:
            if extract == "caseload":
                index = np.flatnonzero(population.active(day))
                text = lines.caseload[0][index]
                changed = population.change_day[index] <= day
                text[changed] = lines.caseload[1][index[changed]]
                prefix = asat.encode() + b","
            else:
                source = getattr(lines, extract)
                text = source[bounds[extract][k] : bounds[extract][k + 1]]
                prefix = b""
            specs = planned.get((extract, k), [])
            gzipped = (extract == "referrals" and k % 12 == 6) or (
                extract == "completions" and k % 12 == 9
            )
            name = f"{extract}_{asat}.csv" + (".gz" if gzipped else "")
            header = ",".join(EXTRACT_COLUMNS[extract]).encode() + b"\n"
            if specs:
                rows = [prefix + line for line in text.tolist()]
                rows, placed = apply_plants(plant_rng, rows, specs, reference, asat, serial)
                serial += len(specs)
                _record_plants(written, name, placed)
                body = b"\n".join(rows) + b"\n" if rows else b""
            else:
                rows_list = text.tolist()
                body = (prefix + (b"\n" + prefix).join(rows_list) + b"\n") if rows_list else b""
                rows = rows_list
            data = header + body
            if gzipped:
                data = gzip.compress(data, compresslevel=6, mtime=0)
            (out_dir / name).write_bytes(data)
            written.file_rows[name] = len(rows)
            written.bytes_written += len(data)
        if (k + 1) % 12 == 0 or k + 1 == window.months:
            report(
                f"written: {k + 1} of {window.months} months "
                f"({written.bytes_written / 1e6:,.0f} MB)"
            )
    return written


def _record_plants(written: Written, name: str, placed: list[tuple[int, Spec]]) -> None:
    for position, spec in placed:
        line = position + 2  # the header is line 1
        if spec.reason_code is None:
            written.lowercase_rows.append(
                {"file": name, "line": line, "columns": list(spec.columns)}
            )
        else:
            written.bad_rows.append(
                {
                    "file": name,
                    "line": line,
                    "reason_code": spec.reason_code,
                    "extract": spec.extract,
                    "columns": list(spec.columns),
                }
            )
