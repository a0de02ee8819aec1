"""The record scanner finds physical line numbers and field counts the way RFC 4180 reads."""

from __future__ import annotations

import pytest

from orchestration.lib.scan import CsvStructureError, scan_records

pytestmark = pytest.mark.unit


def test_plain_lf_file():
    scan = scan_records(b"a,b\n1,2\n3,4\n")
    assert scan.header == ["a", "b"]
    assert scan.line_numbers.tolist() == [2, 3]
    assert scan.field_counts.tolist() == [2, 2]


def test_blank_lines_are_skipped_but_lines_still_counted():
    scan = scan_records(b"a,b\n\n1,2\r\n\r\n3,4")
    assert scan.line_numbers.tolist() == [3, 5]
    assert scan.rows_read == 2


def test_quoted_line_break_keeps_the_record_whole():
    scan = scan_records(b'a,b\n1,"x\ny"\n2,"p,""q"""\n')
    assert scan.line_numbers.tolist() == [2, 4]
    assert scan.field_counts.tolist() == [2, 2]


def test_byte_order_mark_is_not_part_of_the_header():
    scan = scan_records(b"\xef\xbb\xbfA,b\n1,2\n")
    assert scan.header == ["A", "b"]


def test_field_count_finds_short_and_long_rows():
    scan = scan_records(b"a,b,c\n1,2\n1,2,3,4\n1,2,3\n")
    assert scan.field_counts.tolist() == [2, 4, 3]


def test_unterminated_quote_is_a_structure_error():
    with pytest.raises(CsvStructureError, match="unterminated"):
        scan_records(b'a,b\n1,"open\n2,3\n')


def test_header_only_and_empty_files():
    assert scan_records(b"a,b\n").rows_read == 0
    assert scan_records(b"").header == []
