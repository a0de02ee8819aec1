"""Find a CSV file's records, their physical line numbers and field counts, fast.

DuckDB's CSV reader parses the values, but it numbers rows in its own way (blank lines and
quoted line breaks shift it), and the contract wants the physical line number of every
quarantined row. One vectorised pass over the bytes finds where each record starts, using the
RFC 4180 fact that a line break ends a record exactly when an even number of quotes precede it,
and how many fields each record has.

A quote that does not begin a field (``said "done"``) is a literal character, as DuckDB's
reader and Python's csv module both read it; it opens nothing, so the even-quotes fact no longer
holds. Such a file (rare) is scanned again quote by quote, which finds the quoted values the way
those readers do. Both scans reject what readers disagree on (text after a closing quote, spaces
before an opening one), a quoted value never closed and a lone carriage return, naming the line,
so that the loader's reader and this scan always agree on where records end.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass

import numpy as np

QUOTE, NEWLINE, COMMA, CR, SPACE = 34, 10, 44, 13, 32


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
    #: True when a quote inside an unquoted value was read as a literal character
    literal_quotes: bool = False

    @property
    def rows_read(self) -> int:
        """Records after the header, blank lines not counted."""
        return int(self.line_numbers.size)


def _line_of(newlines: np.ndarray, position: int) -> int:
    """The physical line (1 = the first) holding the byte at position."""
    return int(np.searchsorted(newlines, position, side="left")) + 1


def _quotes_pair_up(arr: np.ndarray, inside: np.ndarray, bom: int) -> bool:
    """True when every quote opens a field, closes it, or is doubled inside it (RFC 4180).

    Then the even-quotes reading (``inside``, the running parity of quotes) is exactly how
    DuckDB and Python's csv read the file. Any other quote (inside an unquoted value, after
    spaces, or followed by text after a closing quote) is where the two readings could first
    part, so the file is read again by ``_quoted_values``.
    """
    size = arr.size
    quotes = np.flatnonzero(arr == QUOTE)
    opens, closes = quotes[inside[quotes] == 1], quotes[inside[quotes] == 0]
    before = np.where(opens > bom, arr[np.maximum(opens - 1, 0)], NEWLINE)
    after = np.where(closes + 1 < size, arr[np.minimum(closes + 1, size - 1)], NEWLINE)
    return bool(
        np.isin(before, (COMMA, NEWLINE, QUOTE)).all()
        and np.isin(after, (COMMA, NEWLINE, CR, QUOTE)).all()
        and not inside[-1]
    )


def _quoted_values(
    data: bytes, arr: np.ndarray, bom: int, newlines: np.ndarray
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Find the quoted values quote by quote: (opening quotes, closing quotes, any literal).

    A quote opens a value only at the start of a field (after a comma, a line feed or the start
    of the file); inside a quoted value ``""`` is a quote and a single quote closes it. A quote
    anywhere else is a literal character of an unquoted value, as DuckDB and Python's csv read
    it. What those readers read differently is rejected, naming the line: text after a closing
    quote (``"moved" away``) and spaces before an opening one (DuckDB drops them and reads the
    quotes, Python keeps them and the quotes as text). Only the quotes are visited, and only
    for files the even-quotes reading could not read.
    """
    size = arr.size
    quotes = np.flatnonzero(arr == QUOTE).tolist()
    opens: list[int] = []
    closes: list[int] = []
    literal = False
    i, n = 0, len(quotes)
    while i < n:
        q = quotes[i]
        start = q
        while start > bom and data[start - 1] == SPACE:
            start -= 1
        if start > bom and data[start - 1] not in (COMMA, NEWLINE):
            literal = True  # inside an unquoted value: a character like any other
            i += 1
            continue
        if start != q:
            raise CsvStructureError(
                f"spaces before the opening quote of a value on line {_line_of(newlines, q)} "
                "(RFC 4180: no spaces outside the quotes; readers disagree on them)"
            )
        j = i + 1
        while j < n and quotes[j] + 1 < size and data[quotes[j] + 1] == QUOTE:
            j += 2  # a doubled quote inside the quoted value
        if j >= n:
            raise CsvStructureError(
                f"a quoted value opened on line {_line_of(newlines, q)} is never closed "
                "(unterminated quote)"
            )
        close = quotes[j]
        if close + 1 < size and data[close + 1] not in (COMMA, NEWLINE, CR):
            raise CsvStructureError(
                f"text after the closing quote of a value on line {_line_of(newlines, close)} "
                "(RFC 4180: quote the whole value and double any quote inside it; readers "
                "disagree on such text)"
            )
        opens.append(q)
        closes.append(close)
        i = j + 1
    return np.asarray(opens, np.int64), np.asarray(closes, np.int64), literal


def _outside(positions: np.ndarray, opens: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """The positions that are not inside a quoted value (between an open and its close)."""
    if not opens.size:
        return positions
    value = np.searchsorted(opens, positions, side="right") - 1  # the last value opened before
    within = (value >= 0) & (positions < closes[np.maximum(value, 0)])
    return positions[~within]


def scan_records(data: bytes) -> RecordScan:
    """Scan UTF-8 CSV bytes (already decompressed) into records, without parsing values."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    arr = np.frombuffer(data, dtype=np.uint8)
    size = arr.size
    newlines = np.flatnonzero(arr == NEWLINE)
    crs = np.flatnonzero(arr == CR)
    literal = False
    if bytes([QUOTE]) in data:
        inside = np.bitwise_xor.accumulate((arr == QUOTE).view(np.uint8))
        if _quotes_pair_up(arr, inside, bom):  # nearly every file: one vectorised pass
            boundaries = newlines[inside[newlines] == 0]
            commas = np.flatnonzero((arr == COMMA) & (inside == 0))
            crs = crs[inside[crs] == 0]
            del inside
        else:  # a quote inside an unquoted value, or a fault: read quote by quote
            del inside
            opens, closes, literal = _quoted_values(data, arr, bom, newlines)
            boundaries = _outside(newlines, opens, closes)
            commas = _outside(np.flatnonzero(arr == COMMA), opens, closes)
            crs = _outside(crs, opens, closes)
    else:
        boundaries = newlines
        commas = np.flatnonzero(arr == COMMA)
    bare = crs[(crs + 1 >= size) | (arr[np.minimum(crs + 1, size - 1)] != NEWLINE)]
    if bare.size:
        raise CsvStructureError(
            f"a carriage return without a line feed on line {_line_of(newlines, bare[0])} "
            "(lines end in LF or CRLF)"
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
        literal_quotes=literal,
    )
