"""Find a CSV file's records, their physical line numbers and field counts, fast.

DuckDB's CSV reader parses the values, but it numbers rows in its own way (blank lines and
quoted line breaks shift it), and the contract wants the physical line number of every
quarantined row. One vectorised pass over the bytes finds where each record starts, using the
RFC 4180 fact that a line break ends a record exactly when an even number of quotes precede it,
and how many fields each record has. It also rejects what RFC 4180 cannot read unambiguously
(a quote that neither opens, closes nor doubles inside a quoted value; a lone carriage return),
so that the loader's reader and this scan always agree on where records end.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass

import numpy as np

QUOTE, NEWLINE, COMMA, CR = 34, 10, 44, 13


class CsvStructureError(ValueError):
    """The bytes are not readable as CSV (for example an unterminated quote)."""


@dataclass(frozen=True)
class RecordScan:
    """Where a file's records are: one entry per non-blank record after the header."""

    header: list[str]
    #: physical line number (header = line 1) of each data record, in file order
    line_numbers: np.ndarray
    #: number of fields of each data record
    field_counts: np.ndarray
    header_line: int
    #: True when a quoted value holds a line break
    quoted_line_breaks: bool = False

    @property
    def rows_read(self) -> int:
        """Records after the header, blank lines not counted."""
        return int(self.line_numbers.size)


def _check_quotes(arr: np.ndarray, inside: np.ndarray, bom: int, newlines: np.ndarray) -> None:
    """RFC 4180 quoting: a quote opens a field, closes it, or is doubled inside it.

    A quote anywhere else (inside an unquoted value, after spaces before a quoted value, or
    followed by text after a closing quote) is read differently by different readers (DuckDB
    itself reads it one way or another depending on its mode), so the records' boundaries
    would be a guess: the file is not readable as CSV, and the message names the line.
    """
    size = arr.size
    quotes = np.flatnonzero(arr == QUOTE)
    opens, closes = quotes[inside[quotes] == 1], quotes[inside[quotes] == 0]
    before = np.where(opens > bom, arr[np.maximum(opens - 1, 0)], NEWLINE)
    bad_open = opens[~np.isin(before, (COMMA, NEWLINE, QUOTE))]
    after = np.where(closes + 1 < size, arr[np.minimum(closes + 1, size - 1)], NEWLINE)
    bad_close = closes[~np.isin(after, (COMMA, NEWLINE, CR, QUOTE))]
    if bad_open.size or bad_close.size:
        first = min(bad_open[:1].tolist() + bad_close[:1].tolist())
        line = int(np.searchsorted(newlines, first, side="left")) + 1
        raise CsvStructureError(
            f"a double quote inside an unquoted value, or beside a quoted one, on line {line} "
            "(RFC 4180: quote the whole value, with no space outside the quotes, and double "
            "any quote inside it)"
        )


def scan_records(data: bytes) -> RecordScan:
    """Scan UTF-8 CSV bytes (already decompressed) into records, without parsing values."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    arr = np.frombuffer(data, dtype=np.uint8)
    size = arr.size
    newlines = np.flatnonzero(arr == NEWLINE)
    crs = np.flatnonzero(arr == CR)
    if bytes([QUOTE]) in data:
        inside = np.bitwise_xor.accumulate((arr == QUOTE).view(np.uint8))
        _check_quotes(arr, inside, bom, newlines)
        if size and inside[-1]:
            raise CsvStructureError("a quoted field is never closed (unterminated quote)")
        boundaries = newlines[inside[newlines] == 0]
        commas = np.flatnonzero((arr == COMMA) & (inside == 0))
        crs = crs[inside[crs] == 0]
        del inside
    else:
        boundaries = newlines
        commas = np.flatnonzero(arr == COMMA)
    bare = crs[(crs + 1 >= size) | (arr[np.minimum(crs + 1, size - 1)] != NEWLINE)]
    if bare.size:
        line = int(np.searchsorted(newlines, bare[0], side="left")) + 1
        raise CsvStructureError(
            f"a carriage return without a line feed on line {line} (lines end in LF or CRLF)"
        )
    starts = np.concatenate(([bom], boundaries + 1)).astype(np.int64)
    ends = np.concatenate((boundaries, [size])).astype(np.int64)  # exclusive, at the newline
    keep = starts < size
    starts, ends = starts[keep], ends[keep]
    lengths = ends - starts
    # a record that is empty, or only a carriage return (CRLF), is a blank line: skipped
    last = np.where(lengths > 0, arr[np.maximum(ends - 1, 0)], 0)
    blank = (lengths == 0) | ((lengths == 1) & (last == CR))
    starts, ends = starts[~blank], ends[~blank]
    if starts.size == 0:
        return RecordScan([], np.empty(0, np.int64), np.empty(0, np.int64), 0)
    line_numbers = np.searchsorted(newlines, starts, side="left") + 1
    record_of_comma = np.searchsorted(starts, commas, side="right") - 1
    field_counts = np.bincount(record_of_comma[record_of_comma >= 0], minlength=starts.size) + 1
    header_bytes = data[starts[0] : ends[0]].decode("utf-8")
    header = next(csv.reader(io.StringIO(header_bytes.rstrip("\r"))), [])
    return RecordScan(
        header=header,
        line_numbers=line_numbers[1:].astype(np.int64),
        field_counts=field_counts[1:].astype(np.int64),
        header_line=int(line_numbers[0]),
        quoted_line_breaks=bool(boundaries.size != newlines.size),
    )
