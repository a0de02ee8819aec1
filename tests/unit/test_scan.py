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


def test_a_quote_inside_an_unquoted_value_is_a_structure_error_naming_its_line():
    with pytest.raises(CsvStructureError, match="on line 3"):
        scan_records(b'a,b\n1,2\n3,said "done"\n4,5\n')


def test_text_after_a_closing_quote_or_spaces_outside_quotes_are_structure_errors():
    for data in (b'a,b\n1,"x"y\n', b'a,b\n1, "x"\n', b'a,b\n1,"x" \n'):
        with pytest.raises(CsvStructureError, match="on line 2"):
            scan_records(data)


def test_doubled_and_empty_quoted_values_are_rfc_4180():
    scan = scan_records(b'\xef\xbb\xbf"a","b"\r\n"""x""",""\r\n"",1\n')
    assert scan.header == ["a", "b"]
    assert scan.field_counts.tolist() == [2, 2]


def test_a_carriage_return_without_a_line_feed_is_a_structure_error():
    with pytest.raises(CsvStructureError, match="carriage return without a line feed on line 2"):
        scan_records(b"a,b\r\n1,2\r3,4\r\n")
    assert scan_records(b'a,b\n1,"x\ry"\n').rows_read == 1  # inside quotes it is a value


def test_mixed_line_endings_and_blank_lines_before_the_header():
    scan = scan_records(b"\r\n\na,b\r\n1,2\n\r\n3,4\r\n")
    assert scan.header_line == 3
    assert scan.line_numbers.tolist() == [4, 6]
    assert not scan.quoted_line_breaks
    assert scan_records(b'a,b\n1,"x\ny"\n').quoted_line_breaks
