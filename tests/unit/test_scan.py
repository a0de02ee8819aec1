"""The record scanner finds physical line numbers and field counts the way RFC 4180 reads."""

from __future__ import annotations

import csv
import io

import pytest

from orchestration.ingestion.scan import CsvStructureError, scan_records

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


def python_csv_records(data: bytes) -> tuple[list[int], list[int]]:
    """Start lines and field counts of the data records as Python's csv module reads them."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    found, last = [], 0
    for fields in reader:
        start, last = last + 1, reader.line_num
        if fields:
            found.append((start, len(fields)))
    return [line for line, _ in found[1:]], [n for _, n in found[1:]]


def test_a_quote_inside_an_unquoted_value_is_a_literal_character():
    scan = scan_records(b'a,b\n1,2\n3,said "done"\n4,5\n')
    assert scan.line_numbers.tolist() == [2, 3, 4]
    assert scan.field_counts.tolist() == [2, 2, 2]
    assert scan.literal_quotes and not scan.quoted_line_breaks


def test_a_literal_quote_before_a_line_break_opens_nothing():
    data = b'a,b,c\n1,said "done",x\n2,was "late\nand more",y\n3,ok,z\n'
    scan = scan_records(data)
    assert scan.line_numbers.tolist() == [2, 3, 4, 5]
    assert scan.field_counts.tolist() == [3, 2, 2, 3]
    assert (scan.line_numbers.tolist(), scan.field_counts.tolist()) == python_csv_records(data)


@pytest.mark.parametrize(
    "data",
    [
        b'a,b\r\n1,x"\r\n\r\n"p\r\nq",""""\r\n3,y\r\n',  # CRLF, blank line, quoted break
        b'\xef\xbb\xbf"a",b\n1,x""y\n"2",a"b"c\n\n\n4,"z,""w"""\n',  # BOM, doubled, literal
        b'a,b\n1,\t"x"\n2,x","y"\n3,y"',  # a tab is text; a literal quote before a quoted value
        b'a,b\n1,q"\n"2\n",3\n',  # a quoted value starting the line after a literal quote
    ],
)
def test_the_quote_by_quote_scan_reads_as_pythons_csv_does(data: bytes):
    scan = scan_records(data)
    assert scan.literal_quotes
    assert (scan.line_numbers.tolist(), scan.field_counts.tolist()) == python_csv_records(data)


def test_files_without_literal_quotes_keep_the_vectorised_scan():
    assert not scan_records(b'a,b\n"x",1\n"y ""z""",2\n').literal_quotes
    assert not scan_records(b"a,b\n1,2\n").literal_quotes


def test_text_after_a_closing_quote_or_spaces_outside_quotes_are_structure_errors():
    cases = {
        b'a,b\n1,"x"y\n': "text after the closing quote of a value on line 2",
        b'a,b\n1,"x" \n': "text after the closing quote of a value on line 2",
        b'a,b\n1, "x"\n': "spaces before the opening quote of a value on line 2",
        # the same faults after a literal quote, which the quote-by-quote scan reads
        b'a,b\n1,said "so"\n2,"moved" away\n': "closing quote of a value on line 3",
        b'a,b\n1,said "so"\n2,  "x"\n': "opening quote of a value on line 3",
    }
    for data, message in cases.items():
        with pytest.raises(CsvStructureError, match=message):
            scan_records(data)


def test_faults_after_a_literal_quote_are_still_found():
    with pytest.raises(CsvStructureError, match="opened on line 3 is never closed"):
        scan_records(b'a,b\n1,x"\n2,"open\n3,4\n')
    with pytest.raises(CsvStructureError, match="carriage return without a line feed on line 3"):
        scan_records(b'a,b\n1,x"\n2,y\r3,4\n')


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
