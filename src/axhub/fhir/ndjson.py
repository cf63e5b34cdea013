"""Stream NDJSON files (plain or gzip) as Arrow arrays of lines, in bounded memory.

Lines are cut with NumPy on raw byte blocks and handed out as Arrow ``binary_view`` arrays
whose views point into the block as read, so no Python code runs per line and no line is
copied.  A line longer than a block is read whole (memory then grows to that one line, never
to the file).  Line numbers are 1-based physical lines; ``\\r\\n`` endings and a UTF-8
byte-order mark on the first line are left out of the lines.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

#: Bytes read per block.  Ingest stores each block's lines as one batch, so the block (times
#: the few blocks in flight) bounds memory; fewer, larger batches cost less per byte
#: (bench_ingest.py, decisions 0027 and 0028).
BLOCK_BYTES = 128 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class LineBlock:
    """Consecutive lines of one file.

    ``lines`` holds the lines without their end-of-line bytes (``binary_view`` pointing into
    the block read; ``large_binary`` for a block over 2 GB); ``first_line`` is the 1-based
    number of ``lines[0]``; ``end_offset`` is the (decompressed) byte offset just after the
    last line, where a resumed read starts.  ``error`` is set on the last block when the file
    could not be read to its end (for example a truncated gzip stream).
    """

    lines: pa.Array
    first_line: int
    end_offset: int
    error: str | None = None


def is_gzip(path: Path) -> bool:
    return path.name.endswith(".gz")


def open_binary(path: Path) -> io.BufferedReader | gzip.GzipFile:
    """Open a file for reading bytes, decompressing ``.gz`` on the fly."""
    if is_gzip(path):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _lines_array(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Arrow array of the lines ``buf[starts[i]:ends[i]]`` without their end-of-line bytes.

    ``ends[i]`` is the position of line i's newline (or the end of data); a ``\\r`` before
    it is left out.  The result is a ``binary_view`` array over ``buf`` itself (Arrow's
    view layout: a line of at most 12 bytes is held inline, a longer one by its length,
    first 4 bytes and offset in ``buf``), built with NumPy; ``buf`` must not change after.
    """
    view = buf
    starts = starts.astype(np.int64)
    stops = ends.astype(np.int64)
    cr = (stops > starts) & (view[np.maximum(stops - 1, 0)] == 13)
    lengths = stops - starts - cr
    n = len(starts)
    if len(buf) >= 2**31:  # view offsets are 32-bit: copy the (few, giant) lines instead
        data = b"".join(
            buf[int(s) : int(s) + int(k)].tobytes() for s, k in zip(starts, lengths, strict=True)
        )
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
    views = np.zeros((n, 4), dtype="<i4")  # length, prefix, buffer index, offset
    views[:, 0] = lengths
    long = np.flatnonzero(lengths > 12)
    if len(long):
        prefix = view[starts[long, None] + np.arange(4)]
        views[long, 1] = np.ascontiguousarray(prefix).view("<i4")[:, 0]
        views[long, 3] = starts[long]
    short = np.flatnonzero(lengths <= 12)
    if len(short):
        pos = starts[short, None] + np.arange(12)
        inline = view[np.minimum(pos, len(view) - 1)]
        inline[np.arange(12)[None, :] >= lengths[short, None]] = 0
        views.view(np.uint8).reshape(n, 16)[short, 4:] = inline
    return pa.Array.from_buffers(
        pa.binary_view(), n, [None, pa.py_buffer(views), pa.py_buffer(buf)]
    )


def _fill(fh: io.BufferedReader | gzip.GzipFile, target: memoryview) -> int:
    """Read into ``target`` until it is full or the stream ends; the number of bytes read."""
    got = 0
    while got < len(target):
        k = fh.readinto(target[got:])
        if not k:
            break
        got += k
    return got


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
        carry = b""  # the start of a line that the previous block did not end
        eof = False
        error: str | None = None
        delivered = False
        while not eof:
            # a fresh block per read (the lines handed out point into it), not zero-filled:
            # only the pages read into are touched
            want = block_bytes or BLOCK_BYTES
            buf = np.empty(len(carry) + want, dtype=np.uint8)
            buf[: len(carry)] = np.frombuffer(carry, dtype=np.uint8)
            got = 0
            try:
                got = _fill(fh, buf.data[len(carry) :])
            except (EOFError, OSError, zlib.error) as exc:
                got, error = 0, f"{type(exc).__name__}: {exc}"
            eof = got < want
            buf = buf[: len(carry) + got]
            ends = np.flatnonzero(buf == 10)
            if eof and len(buf) and (len(ends) == 0 or ends[-1] != len(buf) - 1):
                ends = np.append(ends, len(buf))  # last line without a newline
            if len(ends) == 0:
                carry = buf.tobytes()
                continue  # a line longer than the block: read on
            starts = np.empty(len(ends), dtype=np.int64)
            starts[0] = len(_BOM) if base == 0 and buf[: len(_BOM)].tobytes() == _BOM else 0
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
            carry = buf[consumed:].tobytes()
        if error and not delivered:
            yield LineBlock(pa.array([], type=pa.binary_view()), line_no, base, error)
