"""The NDJSON line reader: line numbers, end-of-line handling, resume offsets, gzip errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axhub.fhir.ndjson import read_line_blocks


def _lines(path: Path, **kw) -> list[tuple[int, bytes]]:
    out = []
    for block in read_line_blocks(path, **kw):
        out += [(block.first_line + i, v) for i, v in enumerate(block.lines.to_pylist())]
    return out


@pytest.mark.parametrize("block_bytes", [1, 3, 7, 1 << 20])
@pytest.mark.parametrize("max_lines", [1, 2, 1000])
def test_lines_numbers_and_endings_whatever_the_block_size(tmp_path, block_bytes, max_lines):
    p = tmp_path / "a.ndjson"
    p.write_bytes(b'\xef\xbb\xbf{"a":1}\r\n\n  \nsecond\nlast-without-newline')
    got = _lines(p, block_bytes=block_bytes, max_lines=max_lines)
    assert got == [
        (1, b'{"a":1}'),
        (2, b""),
        (3, b"  "),
        (4, b"second"),
        (5, b"last-without-newline"),
    ]


def test_resume_at_the_offset_of_a_block_continues_with_the_next_line(tmp_path):
    p = tmp_path / "a.ndjson"
    p.write_bytes(b"".join(b"line%d\r\n" % i for i in range(1, 11)))
    blocks = list(read_line_blocks(p, max_lines=3))
    second = blocks[1]
    resumed = _lines(p, start_offset=second.end_offset, start_line=second.first_line + 3)
    assert resumed[0] == (7, b"line7") and resumed[-1] == (10, b"line10")


def test_a_line_longer_than_the_block_is_read_whole(tmp_path):
    p = tmp_path / "a.ndjson"
    p.write_bytes(b"x" * 5000 + b"\nshort\n")
    assert _lines(p, block_bytes=64) == [(1, b"x" * 5000), (2, b"short")]


def test_truncated_gzip_yields_what_was_read_and_reports_the_error(tmp_path):
    p = tmp_path / "a.ndjson.gz"
    full = gzip.compress(b"".join(b'{"n":%d}\n' % i for i in range(2000)))
    p.write_bytes(full[: len(full) // 2])
    blocks = list(read_line_blocks(p, block_bytes=256))
    assert blocks[-1].error and "EOFError" in blocks[-1].error
    assert all(b.error is None for b in blocks[:-1])
    n = sum(len(b.lines) for b in blocks)
    assert 0 < n < 2000


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.translate(None, b"\r\n")), max_size=30),
    crlf=st.lists(st.booleans(), min_size=30, max_size=30),
    final_newline=st.booleans(),
    block_bytes=st.integers(1, 200),
)
def test_views_point_at_exactly_each_line(tmp_path, lines, crlf, final_newline, block_bytes):
    """Any bytes, short (held inline in the view) or long (pointing into the block), with
    LF or CRLF endings and any block size: the view array is valid and holds the lines."""
    lines = [x for x in lines if not x.startswith(b"\xef\xbb\xbf")]
    ends = [b"\r\n" if c else b"\n" for c in crlf[: len(lines)]]
    data = b"".join(line + end for line, end in zip(lines, ends, strict=True))
    if lines and not final_newline:
        data = data[: -len(ends[-1])]
        if lines[-1] == b"":  # an empty last line without its newline is no line at all
            lines = lines[:-1]
    p = tmp_path / "v.ndjson"
    p.write_bytes(data)
    got = []
    for block in read_line_blocks(p, block_bytes=block_bytes, max_lines=7):
        block.lines.validate(full=True)
        got += block.lines.to_pylist()
    assert got == lines
