"""Vectorised NDJSON rendering: a resource line is literal JSON pieces joined with columns.

A template is a list of pieces; a piece is a literal ``str`` (JSON text) or an Arrow string
array (already JSON-encoded text for that position).  ``join`` concatenates the pieces
element-wise with Arrow's ``binary_join_element_wise`` (C++), so a million lines are built
without a Python loop per line.  Files are written straight from the Arrow data buffer.
"""

from __future__ import annotations

import gzip
import io
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Piece: TypeAlias = str | pa.Array

# zlib level 1: about 3x faster than the default 6 on NDJSON for somewhat larger files.
GZIP_LEVEL = 1

_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


def hex_ids(seq: np.ndarray, domain: int, seed: int) -> pa.Array:
    """Opaque 16-hex-digit ids: a bijective mix of (domain, sequence number, seed).

    Bijective for a fixed (domain, seed), so ids never collide within a domain.
    """
    with np.errstate(over="ignore"):
        x = seq.astype(np.uint64) + np.uint64(domain) * np.uint64(1 << 40)
        x = x * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed & 0xFFFFFFFFFFFF)
        x ^= x >> np.uint64(31)
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
    b = x.astype(">u8").view(np.uint8).reshape(-1, 8)
    data = np.ascontiguousarray(_HEX[b]).tobytes()
    n = len(x)
    offsets = np.arange(0, 16 * n + 1, 16, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)]
    )


_CONTROL = [chr(c) for c in range(0x20)] + ["\u2028", "\u2029"]


def _fixed_width(buf: np.ndarray) -> pa.Array:
    """A string array from an (n, width) uint8 matrix of ASCII bytes."""
    n, width = buf.shape
    offsets = np.arange(0, width * n + 1, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(),
        n,
        [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(np.ascontiguousarray(buf).tobytes())],
    )


def _put(buf: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    """Write zero-padded decimal ``values`` into ``buf[:, col:col+width]``."""
    v = values.astype(np.int64)
    for i in range(width - 1, -1, -1):
        buf[:, col + i] = 48 + v % 10
        v //= 10


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01 (H. Hinnant's civil_from_days)."""
    z = days.astype(np.int64) + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def iso_dates(values: np.ndarray) -> pa.Array:
    """``YYYY-MM-DD`` strings of datetime64 values (years 0-9999), without a Python loop."""
    days = values.astype("datetime64[D]").astype(np.int64)
    y, m, d = _civil(days)
    buf = np.empty((len(days), 10), dtype=np.uint8)
    _put(buf, 0, y, 4)
    buf[:, 4] = buf[:, 7] = ord("-")
    _put(buf, 5, m, 2)
    _put(buf, 8, d, 2)
    return _fixed_width(buf)


def iso_datetimes(values: np.ndarray, offset: str = "+09:00") -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS<offset>`` strings of (local) datetime64 values."""
    secs = values.astype("datetime64[s]").astype(np.int64)
    days, sod = np.divmod(secs, 86_400)
    y, m, d = _civil(days)
    tail = np.frombuffer(offset.encode("ascii"), dtype=np.uint8)
    buf = np.empty((len(secs), 19 + len(tail)), dtype=np.uint8)
    _put(buf, 0, y, 4)
    buf[:, 4] = buf[:, 7] = ord("-")
    _put(buf, 5, m, 2)
    _put(buf, 8, d, 2)
    buf[:, 10] = ord("T")
    _put(buf, 11, sod // 3600, 2)
    buf[:, 13] = buf[:, 16] = ord(":")
    _put(buf, 14, sod // 60 % 60, 2)
    _put(buf, 17, sod % 60, 2)
    buf[:, 19:] = tail
    return _fixed_width(buf)


def text(values: np.ndarray | pa.Array) -> pa.Array:
    """JSON string content (without the quotes) of text values, escaped (RFC 8259 §7)."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string())
    arr = pc.replace_substring(arr, "\\", "\\\\")
    arr = pc.replace_substring(arr, '"', '\\"')
    if pc.any(pc.match_substring_regex(arr, "[\\x00-\\x1f\u2028\u2029]")).as_py():
        for ch in _CONTROL:
            arr = pc.replace_substring(arr, ch, f"\\u{ord(ch):04x}")
    return arr


def raw(values: np.ndarray) -> pa.Array:
    """Values that need no escaping (ids, codes, dates we produced)."""
    return pa.array(values, type=pa.string())


def number(values: np.ndarray, decimals: np.ndarray | int) -> pa.Array:
    """JSON numbers rounded to ``decimals`` (per row or one for all)."""
    scale = 10.0 ** np.asarray(decimals, dtype=float)
    rounded = np.round(np.asarray(values, dtype=float) * scale) / scale
    return pc.cast(pa.array(rounded), pa.string())


def integer(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def pick(vocab: list[str], index: np.ndarray) -> pa.Array:
    """Element-wise choice from a small vocabulary of JSON fragments."""
    return pc.take(pa.array(vocab, type=pa.string()), pa.array(index, type=pa.int32()))


def optional(mask: np.ndarray, fragment: Piece) -> pa.Array:
    """``fragment`` where ``mask`` is true, else the empty string."""
    frag = pa.scalar(fragment, pa.string()) if isinstance(fragment, str) else fragment
    return pc.if_else(pa.array(mask, type=pa.bool_()), frag, pa.scalar("", pa.string()))


def join(pieces: list[Piece]) -> pa.Array:
    """Concatenate pieces element-wise into one JSON line per row (with trailing newline)."""
    return concat([*pieces, "\n"])


def concat(pieces: list[Piece]) -> pa.Array:
    """Concatenate pieces element-wise (a JSON fragment per row)."""
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + piece
        else:
            merged.append(piece)
    args = [pa.scalar(x, pa.string()) if isinstance(x, str) else x for x in merged]
    if not any(isinstance(x, pa.Array) for x in args):
        raise ValueError("a template needs at least one column")
    return pc.binary_join_element_wise(*args, pa.scalar("", pa.string()))


def write_lines(out: BinaryIO, lines: pa.Array | pa.ChunkedArray) -> int:
    """Write the rendered lines (each ends with a newline) to ``out``; returns bytes written."""
    if isinstance(lines, pa.ChunkedArray):
        return sum(write_lines(out, chunk) for chunk in lines.chunks)
    if len(lines) == 0:
        return 0
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    start, end = int(offsets[0]), int(offsets[len(lines)])
    data = memoryview(lines.buffers()[2])[start:end]
    out.write(data)
    return end - start


class NdjsonWriter:
    """One NDJSON output file (``.ndjson`` or deterministic ``.ndjson.gz``)."""

    def __init__(self, path: Path, gzip_output: bool = False) -> None:
        self.path = path.with_name(path.name + ".gz") if gzip_output else path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._gz: gzip.GzipFile | None = None
        self._out: BinaryIO = self._file
        if gzip_output:
            # mtime=0 and no file name in the header: same input → same bytes.
            self._gz = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._file, mtime=0, compresslevel=GZIP_LEVEL
            )
            self._out = self._gz  # type: ignore[assignment]
        self.lines = 0
        self.bytes = 0
        # One background thread writes (and compresses) while the caller renders the next
        # chunk: file writes, zlib and Arrow kernels all release the GIL.  At most one chunk
        # is in flight, so memory stays bounded and the byte order is the call order.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ndjson-writer")
        self._pending: Future[int] | None = None

    def _drain(self) -> None:
        if self._pending is not None:
            self.bytes += self._pending.result()
            self._pending = None

    def write(self, lines: pa.Array | pa.ChunkedArray) -> None:
        self._drain()
        self._pending = self._pool.submit(write_lines, self._out, lines)
        self.lines += len(lines)

    def write_raw(self, data: bytes) -> None:
        self._drain()
        self._out.write(data)
        self.bytes += len(data)
        self.lines += data.count(b"\n")

    def close(self) -> None:
        try:
            self._drain()
        finally:
            self._pool.shutdown(wait=True)
            if self._gz is not None:
                self._gz.close()
            self._file.close()


def buffer_lines(lines: pa.Array) -> bytes:
    """The rendered lines as bytes (used by tests and small files)."""
    buf = io.BytesIO()
    write_lines(buf, lines)
    return buf.getvalue()
