"""``ingest()``: read a site's files, validate every record, merge into the raw zone.

A *record* is one NDJSON line or one Bundle entry.  Every record read ends in exactly one
of: stored (now the current version), superseded (kept in history: an older or replaced
version), duplicate (same content already stored: nothing written), deleted (a deletion
request), quarantined (with file, line, JSON path and reason).  Each run checks
``read = stored + superseded + duplicates + deleted + quarantined`` and records it.
Blank lines are not records; they are counted apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import re
import threading
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from axhub import __version__
from axhub.config import Settings
from axhub.errors import InputError, IntegrityError
from axhub.fhir import bundle as fhir_bundle
from axhub.fhir.ndjson import LineBlock
from axhub.ingest import rawzone
from axhub.ingest.sources import Chunk, Document, Source, discover
from axhub.ingest.validate import Accepted, check, check_sql

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Rows a transaction stores before it commits: DuckDB's row group size (122,880 rows).  A
#: transaction that appends at least this many rows to a table that is not empty has them
#: written to the database file as compressed row groups; a smaller one logs every row to the
#: write-ahead log and compresses it again at the next checkpoint.
COMMIT_ROWS = 122_880
SEQ_SHIFT = 20  # records of one line: line << SEQ_SHIFT | entry number (Bundle entries)
_SITE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass
class FileReport:
    path: str
    source: str
    read: int = 0
    stored: int = 0
    superseded: int = 0
    duplicates: int = 0
    deleted: int = 0
    quarantined: int = 0
    blank_lines: int = 0
    note: str = ""

    def add(self, other: FileReport) -> None:
        for name in ("read", "stored", "superseded", "duplicates", "deleted", "quarantined",
                     "blank_lines"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def balanced(self) -> bool:
        return self.read == (
            self.stored + self.superseded + self.duplicates + self.deleted + self.quarantined
        )


@dataclass
class IngestReport:
    run_id: str
    site: str
    source_path: str
    raw_zone: str
    files: list[FileReport] = field(default_factory=list)
    skipped: list[FileReport] = field(default_factory=list)
    stored_by_type: dict[str, int] = field(default_factory=dict)

    @property
    def totals(self) -> FileReport:
        total = FileReport(self.source_path, "all files")
        for f in self.files:
            total.add(f)
        return total

    @property
    def balanced(self) -> bool:
        return self.totals.balanced

    def equation(self) -> str:
        t = self.totals
        return (
            f"records read {t.read:,} = stored {t.stored:,} + superseded {t.superseded:,} "
            f"+ duplicates {t.duplicates:,} + deleted {t.deleted:,} "
            f"+ quarantined {t.quarantined:,}" + ("" if t.balanced else "  [DOES NOT BALANCE]")
        )


ProgressFn = Callable[[str, int], None]  # (file name, bytes done in that file)


@dataclass
class _Batch:
    """What one chunk produced before the merge."""

    quarantine: list[tuple[int, str, str, bytes]] = field(default_factory=list)
    deletions: list[tuple[int, str, str, str]] = field(default_factory=list)
    read: int = 0
    blank: int = 0
    lines: bool = False  # the batch is NDJSON lines (``lines_in`` is what ``chk`` checked)
    known: bool = False  # a key of the batch is already stored (found by append_clean)


def ingest(
    path: Path | str,
    *,
    site: str,
    settings: Settings,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest every file under ``path`` for ``site`` into ``<data_dir>/raw.duckdb``."""
    root = Path(path)
    if not _SITE_RE.match(site):
        raise InputError(
            "site must be a short lowercase id such as 'knuh'", field="site", reason=site
        )
    if not root.exists():
        raise InputError("ingest path does not exist", path=str(root))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db_path = settings.raw_zone_path
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    report = IngestReport(run_id, site, str(root.resolve()), str(db_path))
    con = rawzone.connect(
        str(db_path),
        threads=settings.duckdb_threads,
        memory_limit=settings.duckdb_memory_limit or rawzone.INGEST_MEMORY_LIMIT,
    )
    txn = _Transaction(con, settings.ingest_batch_lines)
    try:
        con.execute(
            "INSERT INTO ingest_runs VALUES (?, ?, ?, now(), NULL, 'running', "
            "0, 0, 0, 0, 0, 0, 0, ?)",
            [run_id, site, report.source_path, __version__],
        )
        jobs: list[_FileJob] = []
        for file_path, source in discover(root):
            rel = str(file_path.relative_to(root)) if root.is_dir() else file_path.name
            if not source.holds_resources:
                report.skipped.append(FileReport(rel, source.describe(), note="not ingested"))
                continue
            jobs.append(_plan_file(con, file_path, rel, source, site))
        report.files = _ingest_files(con, jobs, site, run_id, settings, progress, txn)
        txn.commit()
        totals = report.totals
        if not totals.balanced:
            raise IntegrityError(
                "ingest accounting does not balance", equation=report.equation(), run_id=run_id
            )
        con.execute(
            "UPDATE ingest_runs SET status = 'completed', finished_at = now() WHERE run_id = ?",
            [run_id],
        )
        con.execute("CHECKPOINT")
        report.stored_by_type = dict(
            con.execute(
                "SELECT resource_type, count(*) FROM resources WHERE site = ? AND run_id = ? "
                "GROUP BY ALL ORDER BY 1",
                [site, run_id],
            ).fetchall()
        )
    except BaseException:
        txn.rollback()
        raise
    finally:
        con.close()
    return report


class _Transaction:
    """The run's open transaction: it spans batches, and files, until it has read
    ``max_lines`` lines or stored :data:`COMMIT_ROWS` rows.

    A batch lands whole or not at all (with its quarantine rows and progress counters); an
    interrupted run loses the batches since the last commit and a rerun resumes there.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, max_lines: int) -> None:
        self.con, self.max_lines = con, max_lines
        self.open = False
        self.lines = self.rows = 0

    def begin(self) -> None:
        if not self.open:
            self.con.execute("BEGIN TRANSACTION")
            self.open = True

    def done(self, lines: int, stored: int) -> None:
        """A batch of ``lines`` lines storing ``stored`` rows is in; commit when due."""
        self.lines += lines
        self.rows += stored
        if self.lines >= self.max_lines or self.rows >= COMMIT_ROWS:
            self.commit()

    def commit(self) -> None:
        if self.open:
            self.con.execute("COMMIT")
        self.open, self.lines, self.rows = False, 0, 0

    def rollback(self) -> None:
        if self.open:
            self.con.execute("ROLLBACK")
        self.open, self.lines, self.rows = False, 0, 0


def _fingerprint(path: Path) -> str:
    st = path.stat()
    with open(path, "rb") as fh:
        head = hashlib.md5(fh.read(1 << 20)).hexdigest()
    return f"{st.st_size}:{st.st_mtime_ns}:{head}"


@dataclass
class _FileJob:
    """A file to ingest and where its read starts (after an interrupted run, mid-file)."""

    path: Path
    rel: str
    source: Source
    key: str  # absolute path: the file's key in ingest_files and source_file
    fingerprint: str
    start_offset: int = 0
    start_line: int = 1
    note: str = ""


def _plan_file(
    con: duckdb.DuckDBPyConnection, path: Path, rel: str, source: Source, site: str
) -> _FileJob:
    key = str(path.resolve())
    job = _FileJob(path, rel, source, key, _fingerprint(path))
    row = con.execute(
        "SELECT fingerprint, status, lines_done, byte_offset FROM ingest_files "
        "WHERE site = ? AND source_file = ?",
        [site, key],
    ).fetchone()
    if row and source.resumable and row[0] == job.fingerprint and row[1] == "partial" and row[2]:
        job.start_offset, job.start_line = int(row[3]), int(row[2]) + 1
        job.note = f"resumed at line {job.start_line:,} after an interrupted run"
    return job


def _chunks(jobs: list[_FileJob], max_lines: int) -> Iterator[tuple[int, Chunk | None]]:
    """The chunks of every file in turn, as (file number, chunk); (file number, None) ends a
    file.  One stream for the whole run, so the next file is read and checked while the
    current one is stored."""
    for i, job in enumerate(jobs):
        chunks = job.source.read(
            job.path, max_lines=max_lines, start_offset=job.start_offset,
            start_line=job.start_line,
        )  # fmt: skip
        for chunk in chunks:
            yield i, chunk
        yield i, None


def _ingest_files(
    con: duckdb.DuckDBPyConnection,
    jobs: list[_FileJob],
    site: str,
    run_id: str,
    settings: Settings,
    progress: ProgressFn | None,
    txn: _Transaction,
) -> list[FileReport]:
    reports = [FileReport(job.rel, job.source.describe(), note=job.note) for job in jobs]
    started = -1
    stream = _prefetch(_chunks(jobs, settings.ingest_batch_lines), threads=settings.duckdb_threads)
    with contextlib.closing(stream) as prefetched:
        for i, prepared in prefetched:
            job, fr = jobs[i], reports[i]
            if i != started:
                started = i
                con.execute(
                    "INSERT OR REPLACE INTO ingest_files VALUES "
                    "(?, ?, ?, 'partial', ?, ?, ?, now())",
                    [site, job.key, job.fingerprint, job.start_line - 1, job.start_offset,
                     run_id],
                )  # fmt: skip
            if prepared is None:  # the file's end
                con.execute(
                    "UPDATE ingest_files SET status = 'done', updated_at = now() "
                    "WHERE site = ? AND source_file = ?",
                    [site, job.key],
                )
                log.info("ingested %s: %d records read", job.rel, fr.read)
                continue
            counts, offset = _ingest_chunk(con, prepared, site, run_id, job.key, txn)
            fr.add(counts)
            if progress:
                progress(job.rel, offset)
    return reports


def _ingest_chunk(
    con: duckdb.DuckDBPyConnection,
    prepared: _Prepared,
    site: str,
    run_id: str,
    key: str,
    txn: _Transaction,
) -> tuple[FileReport, int]:
    """Store one chunk inside the run's transaction; its counts and the file offset after it."""
    chunk = prepared.chunk
    batch = _Batch()
    try:
        counts = None
        if isinstance(chunk, Document):
            _stage_document(con, chunk.data, batch)
            lines_done, offset = 1, len(chunk.data)
        else:
            lines_done, offset = chunk.first_line + len(chunk.lines) - 1, chunk.end_offset
            if prepared.clean_blank is not None and not chunk.error:
                txn.begin()
                counts = _append_clean(con, prepared, site, run_id, key)
                batch.known = counts is None
            if counts is None:
                _stage_lines(con, chunk, prepared, batch)
            if chunk.error:
                last = chunk.first_line + len(chunk.lines)
                batch.read += 1
                reason = f"file could not be read to its end: {chunk.error}"
                batch.quarantine.append((last, "$", reason, b""))
        if counts is None:
            txn.begin()
            counts = _commit_batch(con, batch, site, run_id, key)
            counts.read, counts.blank_lines = batch.read, batch.blank
        _record_progress(con, counts, site, key, run_id, lines_done, offset)
    finally:
        con.unregister("lines_in")
        con.unregister("chk")
    txn.done(1 if isinstance(chunk, Document) else len(chunk.lines), counts.stored)
    return counts, offset


def _record_progress(
    con: duckdb.DuckDBPyConnection,
    counts: FileReport,
    site: str,
    key: str,
    run_id: str,
    lines_done: int,
    offset: int,
) -> None:
    """Where the file's read has got to and the run's counters (inside the transaction)."""
    con.execute(
        "UPDATE ingest_files SET lines_done = ?, byte_offset = ?, updated_at = now() "
        "WHERE site = ? AND source_file = ?",
        [lines_done, offset, site, key],
    )
    con.execute(
        """UPDATE ingest_runs SET records_read = records_read + ?, stored = stored + ?,
           superseded = superseded + ?, duplicates = duplicates + ?,
           deleted = deleted + ?, quarantined = quarantined + ?,
           blank_lines = blank_lines + ? WHERE run_id = ?""",
        [counts.read, counts.stored, counts.superseded, counts.duplicates,
         counts.deleted, counts.quarantined, counts.blank_lines, run_id],
    )  # fmt: skip


_GOOD_RECORD = "NOT chk.bad AND NOT chk.blank AND chk.has_text"
_GOOD_LINE = _GOOD_RECORD + " AND NOT chk.is_bundle"  # Bundle lines are unpacked instead

_SCAN_ROWS = 16_384  # rows per Arrow record batch handed to DuckDB

_TEXT_SCHEMA = pa.schema(
    [("seq", pa.int64()), ("line", pa.int64()), ("path", pa.string()), ("text", pa.string_view())]
)


def _open_batch(con: duckdb.DuckDBPyConnection, records: pa.Table) -> None:
    """Register the batch's records and create its staging tables.

    ``lines_in`` (the Arrow records, zero-copy) and ``xt`` (texts of Bundle entries and of
    lines accepted by the precise check) together form view ``texts``; ``st`` holds the keys
    and hashes of the records to merge.  Texts are copied once, into the raw zone.
    """
    con.register("lines_in", records)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE xt (seq BIGINT, text VARCHAR);
        CREATE OR REPLACE TEMP TABLE st (seq BIGINT, line BIGINT, resource_type VARCHAR,
            id VARCHAR, version_id VARCHAR, last_updated VARCHAR);
        CREATE OR REPLACE TEMP VIEW texts AS
            SELECT seq, text FROM lines_in UNION ALL SELECT seq, text FROM xt;
        """
    )


@dataclass
class _Prepared:
    """A chunk made ready off the main thread: its records and, when it could, their check."""

    chunk: Chunk
    records: pa.Table | None = None  # (seq, line, path, text) when every line is UTF-8
    checked: pa.Table | None = None  # ``check_sql`` over ``records``
    #: the number of blank lines when the batch is clean: every other line passed the
    #: vectorised check, none is a Bundle, no key repeats, ``checked`` is in line order
    clean_blank: int | None = None


def _records(text: pa.Array, first_line: int) -> pa.Table:
    n = len(text)
    line_no = np.arange(first_line, first_line + n, dtype=np.int64)
    records = pa.table(
        [pa.array(line_no << SEQ_SHIFT), pa.array(line_no), pa.nulls(n, pa.string()), text],
        schema=_TEXT_SCHEMA,
    )
    # record batches (zero-copy slices) let DuckDB scan the batch on every thread; the scan
    # keeps their order, which the append fast path checks (rawzone.append_new)
    return pa.Table.from_batches(records.to_batches(max_chunksize=_SCAN_ROWS), schema=_TEXT_SCHEMA)


def _prepare(chunk: Chunk, checker: duckdb.DuckDBPyConnection) -> _Prepared:
    """Decode and check a block of lines (in the checking thread).

    The check needs nothing from the raw zone, so it runs in that thread's own in-memory
    DuckDB while the main connection stores the previous block.  A block with a line that is
    not UTF-8, and a whole JSON document, are left to the main thread.
    """
    if isinstance(chunk, Document):
        return _Prepared(chunk)
    try:
        text = chunk.lines.cast(pa.string_view())  # checks UTF-8; the views stay as they are
    except pa.ArrowInvalid:
        return _Prepared(chunk)
    records = _records(text, chunk.first_line)
    checker.register("lines_in", records)
    try:
        checked = _check(checker, "lines_in")
        checker.register("chk", checked)
        flagged, blank, repeated, misordered = checker.execute(_CLEAN_SQL).fetchall()[0]
    finally:
        checker.unregister("lines_in")
        checker.unregister("chk")
    clean = not (flagged or repeated or misordered)
    return _Prepared(chunk, records, checked, int(blank) if clean else None)


#: Over ``chk``, the check of ``lines_in``: lines to look at again (flagged, Bundles), blank
#: lines, lines repeating a key of the batch, and rows out of line order.
_CLEAN_SQL = """
SELECT count(*) FILTER (WHERE bad OR is_bundle OR NOT has_text),
       count(*) FILTER (WHERE blank),
       (SELECT count(*) - count(DISTINCT (resource_type, id)) FROM chk WHERE NOT blank),
       (SELECT count(*) FROM lines_in l POSITIONAL JOIN chk c WHERE l.seq IS DISTINCT FROM c.seq)
FROM chk
"""


def _append_clean(
    con: duckdb.DuckDBPyConnection, prepared: _Prepared, site: str, run_id: str, key: str
) -> FileReport | None:
    """Store a clean batch (see :class:`_Prepared`) without staging it, when its keys are new
    to the site (:func:`rawzone.append_clean`); None when it must be merged."""
    assert prepared.records is not None and prepared.checked is not None
    assert prepared.clean_blank is not None
    con.register("lines_in", prepared.records)
    con.register("chk", prepared.checked)
    stored = rawzone.append_clean(con, site, run_id, key)
    if stored is None:
        return None
    out = FileReport(key, "")
    out.stored, out.blank_lines = stored, prepared.clean_blank
    out.read = len(prepared.records) - prepared.clean_blank
    return out


def _check(con: duckdb.DuckDBPyConnection, source: str) -> pa.Table:
    """:func:`check_sql` over ``source``: unguarded (cheaper) first, guarded when a line of
    ``source`` is not JSON (the unguarded query then raises)."""
    try:
        return con.sql(check_sql(source, guarded=False)).to_arrow_table()
    except duckdb.Error:
        return con.sql(check_sql(source)).to_arrow_table()


def _prefetch(
    chunks: Iterator[tuple[int, Chunk | None]], *, threads: int = 0, depth: int = 2
) -> Generator[tuple[int, _Prepared | None], None, None]:
    """Read and check the next chunks in two threads while the current one is merged.

    DuckDB releases the GIL while it works, so three stages overlap: one thread reads the
    files and finds their lines, one checks their encoding and runs the vectorised check in
    its own in-memory DuckDB (:func:`_prepare`), and the caller's connection stores.  At most
    ``depth`` chunks wait between stages, so memory stays bounded by the batch size; two let
    the checker run on while the store commits (measured: 6.5 instead of 7.5 s per 732 MB).
    An error in a stage is raised here, in order; when the consumer stops early the stages
    stop too.  ``threads`` is the checker's DuckDB threads (0: DuckDB's
    default, one per core).
    """
    checked = _checked(_in_thread(chunks, "ingest-reader", depth), threads)
    return _in_thread(checked, "ingest-check", depth)


def _checked(
    chunks: Iterator[tuple[int, Chunk | None]], threads: int
) -> Generator[tuple[int, _Prepared | None], None, None]:
    checker = duckdb.connect()
    checker.execute("SET enable_progress_bar = false")
    try:
        if threads:
            checker.execute(f"SET threads = {int(threads)}")
        for i, chunk in chunks:
            yield i, None if chunk is None else _prepare(chunk, checker)
    finally:
        checker.close()


def _in_thread(items: Iterator[T], name: str, depth: int) -> Generator[T, None, None]:
    """Iterate ``items`` in a thread of its own, at most ``depth`` items ahead."""
    q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, object]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        put(("end", None))

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                assert isinstance(item, BaseException)
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _stage_lines(
    con: duckdb.DuckDBPyConnection, chunk: LineBlock, prepared: _Prepared, batch: _Batch
) -> None:
    """Validate NDJSON lines (vectorised) and stage the good ones.

    ``prepared`` holds the records and their check when the reader thread could make them;
    otherwise (a line that is not UTF-8) the lines are decoded one by one here, the bad ones
    quarantined, and the rest checked on the main connection.
    """
    records, checked = prepared.records, prepared.checked
    if records is None:
        n = len(chunk.lines)
        line_no = np.arange(chunk.first_line, chunk.first_line + n, dtype=np.int64)
        records = _records(_decode_lines(chunk.lines, line_no, batch), chunk.first_line)
    _open_batch(con, records)
    batch.lines = True
    _stage(con, "lines_in", batch, unpack_bundles=True, checked=checked)


def _decode_lines(lines: pa.Array, line_no: np.ndarray, batch: _Batch) -> pa.Array:
    """Per-line UTF-8 decoding for the rare batch that has an invalid line."""
    out: list[str | None] = []
    for raw, line in zip(lines.to_pylist(), line_no.tolist(), strict=True):
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            out.append(None)
            batch.read += 1
            reason = f"invalid UTF-8 at byte {exc.start} of the line"
            batch.quarantine.append((line, "$", reason, raw.rstrip(b"\r\n")))
    return pa.array(out, type=pa.string_view())


def _stage_document(con: duckdb.DuckDBPyConnection, data: bytes, batch: _Batch) -> None:
    """A JSON file: unpack a Bundle into its entries, or take it as one resource."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        _open_batch(con, _TEXT_SCHEMA.empty_table())
        batch.read += 1
        batch.quarantine.append((1, "$", f"invalid JSON: {exc}", data))
        return
    if fhir_bundle.is_unpacked(doc):
        _open_batch(con, _TEXT_SCHEMA.empty_table())
        _unpack(con, doc, 1 << SEQ_SHIFT, 1, "$", batch)
        return
    records = pa.table(
        [[1 << SEQ_SHIFT], [1], [None], [data.decode("utf-8", errors="replace")]],
        schema=_TEXT_SCHEMA,
    )
    _open_batch(con, records)
    _stage(con, "lines_in", batch, unpack_bundles=False)


def _stage(
    con: duckdb.DuckDBPyConnection,
    source: str,
    batch: _Batch,
    *,
    unpack_bundles: bool,
    checked: pa.Table | None = None,
) -> None:
    """Check the records of ``source`` and add the good ones to ``st``.

    ``checked`` is the check of ``source`` already made (in the checking thread), else it is
    made here.  It is registered as ``chk`` (the Arrow table itself, not a copy) until the
    batch ends.
    """
    con.register("chk", _check(con, source) if checked is None else checked)
    counts = con.execute(
        "SELECT count(*) FILTER (WHERE blank), count(*) FILTER (WHERE NOT blank AND has_text) "
        "FROM chk"
    ).fetchone()
    assert counts is not None
    batch.blank += int(counts[0])
    batch.read += int(counts[1])
    good = _GOOD_LINE if unpack_bundles else _GOOD_RECORD
    con.execute(
        "INSERT INTO st SELECT seq, line, resource_type, id, version_id, last_updated "
        f"FROM chk WHERE {good}"
    )
    flagged = con.execute(
        f"SELECT c.seq, c.line, c.path, s.text FROM chk c JOIN {source} s USING (seq) "
        "WHERE c.has_text AND NOT c.blank AND "
        + ("(c.bad OR c.is_bundle)" if unpack_bundles else "c.bad")
    ).fetchall()
    extra: list[tuple[int, int, str, str, str | None, str | None, str]] = []
    for seq, line, path, raw_text in flagged:
        text = raw_text.rstrip("\r\n")
        prefix = path or "$"
        result = check(text)
        if isinstance(result, Accepted) and result.is_bundle and unpack_bundles:
            batch.read -= 1  # the Bundle line is not a record; its entries are
            _unpack(con, orjson.loads(text), seq, line, prefix, batch)
        elif isinstance(result, Accepted) and result.id is not None:
            extra.append(
                (seq, line, result.resource_type, result.id, result.version_id,
                 result.last_updated, text)
            )  # fmt: skip
        elif isinstance(result, Accepted):
            reason = "nested Bundle without id (only top-level Bundles are unpacked)"
            batch.quarantine.append((line, prefix, reason, text.encode()))
        else:
            path_in = prefix + result.path[1:]
            batch.quarantine.append((line, path_in, result.reason, text.encode()))
    if extra:
        cols = list(zip(*extra, strict=True))
        names = ["seq", "line", "resource_type", "id", "version_id", "last_updated", "text"]
        table = pa.table({n: pa.array(c, pa.int64() if i < 2 else pa.string())
                          for i, (n, c) in enumerate(zip(names, cols, strict=True))})  # fmt: skip
        con.register("accepted_in", table)
        try:
            con.execute("INSERT INTO xt SELECT seq, text FROM accepted_in")
            con.execute(
                "INSERT INTO st SELECT seq, line, resource_type, id, version_id, last_updated "
                "FROM accepted_in"
            )
        finally:
            con.unregister("accepted_in")


def _unpack(
    con: duckdb.DuckDBPyConnection,
    doc: dict[str, object],
    seq: int,
    line: int,
    prefix: str,
    batch: _Batch,
) -> None:
    """Stage the entries of one Bundle (found at ``line``) as records."""
    unpacked = fhir_bundle.unpack(doc, prefix)
    batch.read += len(unpacked.deletions) + len(unpacked.problems)
    for p in unpacked.problems:
        batch.quarantine.append((line, p.path, p.reason, p.raw))
    for d in unpacked.deletions:
        batch.deletions.append((line, d.path, d.resource_type, d.id))
    if not unpacked.resources:
        return
    n = len(unpacked.resources)
    entries = pa.table(
        [
            pa.array(seq + np.arange(1, n + 1, dtype=np.int64)),
            pa.array(np.full(n, line, dtype=np.int64)),
            pa.array([r.path for r in unpacked.resources], pa.string()),
            pa.array([r.text.decode("utf-8") for r in unpacked.resources], pa.string_view()),
        ],
        schema=_TEXT_SCHEMA,
    )
    con.register("entries_in", entries)
    try:
        con.execute("INSERT INTO xt SELECT seq, text FROM entries_in")
        con.execute("CREATE OR REPLACE TEMP TABLE entries AS SELECT * FROM entries_in")
    finally:
        con.unregister("entries_in")
    _stage(con, "entries", batch, unpack_bundles=False)


def _commit_batch(
    con: duckdb.DuckDBPyConnection, batch: _Batch, site: str, run_id: str, source_file: str
) -> FileReport:
    """Write quarantine rows, apply deletions, merge ``st`` (inside the open transaction)."""
    out = FileReport(source_file, "")
    if batch.quarantine:
        q = pa.table(
            {
                "line": pa.array([x[0] for x in batch.quarantine], pa.int64()),
                "json_path": pa.array([x[1] for x in batch.quarantine], pa.string()),
                "reason": pa.array([x[2] for x in batch.quarantine], pa.string()),
                "raw": pa.array([x[3] for x in batch.quarantine], pa.binary()),
            }
        )
        con.register("q", q)
        try:
            con.execute(
                """
                INSERT INTO quarantine
                SELECT $1, $2, $3, q.line, q.json_path, q.reason, q.raw FROM q
                WHERE NOT EXISTS (SELECT 1 FROM quarantine x WHERE x.site = $2
                    AND x.source_file = $3 AND x.line = q.line AND x.json_path = q.json_path
                    AND x.reason = q.reason AND md5(x.raw) = md5(q.raw))
                """,
                [run_id, site, source_file],
            )
        finally:
            con.unregister("q")
        out.quarantined = len(batch.quarantine)
    if batch.deletions:
        d = pa.table(
            {
                "line": pa.array([x[0] for x in batch.deletions], pa.int64()),
                "json_path": pa.array([x[1] for x in batch.deletions], pa.string()),
                "resource_type": pa.array([x[2] for x in batch.deletions], pa.string()),
                "id": pa.array([x[3] for x in batch.deletions], pa.string()),
            }
        )
        con.register("del_in", d)
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE del AS SELECT * FROM del_in")
        finally:
            con.unregister("del_in")
        out.deleted = rawzone.apply_deletions(con, site, run_id, source_file)
    appended = (
        rawzone.append_new(con, site, run_id, source_file, _GOOD_LINE.replace("chk.", "c."))
        if batch.lines and not batch.deletions and not batch.known
        else None
    )
    if appended is not None:
        out.stored = appended
        return out
    merged = rawzone.merge(con, site, run_id, source_file)
    out.stored, out.superseded, out.duplicates = (
        merged.stored, merged.superseded, merged.duplicates
    )  # fmt: skip
    return out
