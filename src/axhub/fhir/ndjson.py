"""Stream NDJSON files (plain or gzip) as Arrow arrays of lines, in bounded memory.

Lines are cut with NumPy on raw byte blocks and handed out as zero-copy Arrow ``binary``
arrays, so no Python code runs per line.  A line longer than a block is read whole (memory
then grows to that one line, never to the file).  Line numbers are 1-based physical lines;
``\\r\\n`` endings and a UTF-8 byte-order mark on the first line are removed.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

#: Bytes read per block.  Each block's lines are merged in one transaction, so the block
#: bounds memory; 128 MB makes most batches large enough for DuckDB to write their rows
#: straight to the database file instead of through its write-ahead log (bench_ingest.py).
BLOCK_BYTES = 128 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class LineBlock:
    """Consecutive lines of one file.

    ``lines`` holds the lines without their end-of-line bytes; ``first_line`` is the 1-based
    number of ``lines[0]``; ``end_offset`` is the (decompressed) byte offset just after the
    last line, where a resumed read starts.  ``error`` is set on the last block when the file
    could not be read to its end (for example a truncated gzip stream).
    """

    lines: pa.BinaryArray
    first_line: int
    end_offset: int
    error: str | None = None


def is_gzip(path: Path) -> bool:
    return path.name.endswith(".gz")


def open_binary(path: Path) -> BinaryIO | gzip.GzipFile:
    """Open a file for reading bytes, decompressing ``.gz`` on the fly."""
    if is_gzip(path):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _lines_array(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.BinaryArray:
    """Arrow array of the lines ``buf[starts[i]:ends[i]]`` without their end-of-line bytes.

    ``ends[i]`` is the position of line i's newline (or the end of data).  The line bytes are
    made contiguous with ``bytes.replace`` (C speed); ``\\r\\n`` endings lose their ``\\r``.
    """
    lo, hi = int(starts[0]), min(int(ends[-1]) + 1, len(buf))
    view = np.frombuffer(buf, dtype=np.uint8)
    stops = ends.astype(np.int64)
    cr = (stops > starts) & (view[np.maximum(stops - 1, 0)] == 13)
    lengths = stops - starts - cr
    part = buf[lo:hi]
    if cr.any():
        part = part.replace(b"\r\n", b"\n")
    data = part.replace(b"\n", b"")
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if int(offsets[-1]) != len(data):  # a stray "\r\n" split differently: copy line by line
        data = b"".join(buf[int(s) : int(s) + int(n)] for s, n in zip(starts, lengths, strict=True))
    n = len(starts)
    if offsets[-1] < 2**31:
        return pa.BinaryArray.from_buffers(
            pa.binary(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        )
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def read_line_blocks(
    path: Path,
    *,
    max_lines: int = 200_000,
    block_bytes: int | None = None,
    start_offset: int = 0,
    start_line: int = 1,
) -> Iterator[LineBlock]:
    """Yield the lines of an NDJSON file in blocks of at most ``max_lines`` lines.

    ``start_offset``/``start_line`` resume a read where an earlier :class:`LineBlock` ended.
    A last line without a final newline is still yielded.  A read error (truncated or corrupt
    gzip) ends the stream: the lines read until then are yielded and the last block carries
    ``error``.
    """
    with open_binary(path) as fh:
        if start_offset:
            fh.seek(start_offset)
        base = start_offset  # stream offset of buf[0]
        line_no = start_line
        buf = b""
        eof = False
        error: str | None = None
        delivered = False
        while not eof:
            try:
                chunk = fh.read(block_bytes or BLOCK_BYTES)
            except (EOFError, OSError, zlib.error) as exc:
                chunk, error = b"", f"{type(exc).__name__}: {exc}"
            if not chunk:
                eof = True
            buf = buf + chunk if buf else chunk
            view = np.frombuffer(buf, dtype=np.uint8)
            ends = np.flatnonzero(view == 10)
            if eof and len(buf) and (len(ends) == 0 or ends[-1] != len(buf) - 1):
                ends = np.append(ends, len(buf))  # last line without a newline
            if len(ends) == 0:
                continue  # a line longer than the block: read on
            starts = np.empty(len(ends), dtype=np.int64)
            starts[0] = len(_BOM) if base == 0 and buf.startswith(_BOM) else 0
            starts[1:] = ends[:-1] + 1
            for pos in range(0, len(ends), max_lines):
                sl = slice(pos, pos + max_lines)
                last_end = int(ends[sl][-1])
                final = eof and pos + max_lines >= len(ends)
                delivered = delivered or (final and error is not None)
                yield LineBlock(
                    _lines_array(buf, starts[sl], ends[sl]),
                    line_no,
                    base + min(last_end + 1, len(buf)),
                    error if final else None,
                )
                line_no += len(starts[sl])
            consumed = min(int(ends[-1]) + 1, len(buf))
            base += consumed
            buf = buf[consumed:]
        if error and not delivered:
            yield LineBlock(pa.array([], type=pa.binary()), line_no, base, error)
