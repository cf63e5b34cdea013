"""The raw zone: one DuckDB file holding what each site sent, current and past versions.

Tables (see docs/ingest.md):

* ``resources`` - the current version of every resource, keyed by (site, resource_type, id).
* ``resource_history`` - every other version ever stored: replaced by a newer one, arrived
  after a newer one (``stale``), superseded inside one run, or removed by a deletion.
* ``quarantine`` - every record that could not be stored, with file, line, JSON path,
  reason and the raw bytes.
* ``deletions`` - deletion requests read (bulk ``deleted`` files, Bundle ``DELETE`` entries).
* ``ingest_runs`` - one row per run with its counts; ``ingest_files`` - per-file progress
  used to resume an interrupted run.

Every batch is merged in one transaction, together with its quarantine rows and the
progress counters, so the file is consistent after a crash at any point.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from axhub.errors import EngineError

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    site VARCHAR, resource_type VARCHAR, id VARCHAR, version_id VARCHAR,
    last_updated TIMESTAMPTZ, resource VARCHAR USING COMPRESSION zstd,
    source_file VARCHAR, source_line BIGINT, run_id VARCHAR,
    PRIMARY KEY (site, resource_type, id));
CREATE TABLE IF NOT EXISTS resource_history (
    site VARCHAR, resource_type VARCHAR, id VARCHAR, version_id VARCHAR,
    last_updated TIMESTAMPTZ, resource VARCHAR USING COMPRESSION zstd,
    source_file VARCHAR, source_line BIGINT, run_id VARCHAR, superseded_run_id VARCHAR,
    reason VARCHAR);
CREATE TABLE IF NOT EXISTS quarantine (
    run_id VARCHAR, site VARCHAR, source_file VARCHAR, line BIGINT, json_path VARCHAR,
    reason VARCHAR, raw BLOB);
CREATE TABLE IF NOT EXISTS deletions (
    site VARCHAR, resource_type VARCHAR, id VARCHAR, run_id VARCHAR, source_file VARCHAR,
    source_line BIGINT, json_path VARCHAR, applied BOOLEAN, recorded_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id VARCHAR PRIMARY KEY, site VARCHAR, source_path VARCHAR, started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ, status VARCHAR, records_read BIGINT, stored BIGINT,
    superseded BIGINT, duplicates BIGINT, deleted BIGINT, quarantined BIGINT,
    blank_lines BIGINT, code_version VARCHAR);
CREATE TABLE IF NOT EXISTS ingest_files (
    site VARCHAR, source_file VARCHAR, fingerprint VARCHAR, status VARCHAR,
    lines_done BIGINT, byte_offset BIGINT, run_id VARCHAR, updated_at TIMESTAMPTZ,
    PRIMARY KEY (site, source_file));
"""


#: DuckDB memory bound for an ingest run when the ``duckdb_memory_limit`` setting is empty:
#: without it DuckDB keeps what it wrote cached up to 80% of RAM, so the process grows with
#: the input instead of staying flat (measured in bench/bench_ingest.py).
INGEST_MEMORY_LIMIT = "1GB"


@dataclass
class MergeCounts:
    stored: int = 0
    superseded: int = 0
    duplicates: int = 0
    deleted: int = 0


def connect(path: str, *, threads: int = 0, memory_limit: str = "") -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the raw zone; one writer at a time."""
    try:
        con = duckdb.connect(path)
    except duckdb.IOException as exc:
        raise EngineError(
            "cannot open the raw zone (is another ingest writing to it?)",
            path=path,
            reason=str(exc).splitlines()[0],
        ) from None
    # no DuckDB progress bar: it would print into the command's output (the CLI has its own)
    # whenever a statement runs for more than two seconds
    con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    # Checkpoint rarely: each batch commits to the write-ahead log, which DuckDB replays after a
    # crash; frequent checkpoints (default 16 MB) would recompress the table every batch.
    con.execute("SET checkpoint_threshold = '1GB'")
    con.execute(SCHEMA)
    _upgrade(con)
    return con


def _upgrade(con: duckdb.DuckDBPyConnection) -> None:
    """Bring a raw zone written by an earlier version to the current columns.

    Raw zones written before 2026-11-26 held a ``content_hash`` (md5 of the text) in the
    version tables; duplicates are now found by comparing the texts themselves, so the
    column is dropped (no other data changes).
    """
    for table in ("resources", "resource_history"):
        cols = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        if "content_hash" in cols:
            con.execute(f"ALTER TABLE {table} DROP COLUMN content_hash")


def apply_deletions(
    con: duckdb.DuckDBPyConnection, site: str, run_id: str, source_file: str
) -> int:
    """Apply the deletions in temp table ``del(line, json_path, resource_type, id)``."""
    params = [site, run_id]
    con.execute(
        """
        INSERT INTO resource_history
        SELECT r.*, $2, 'deleted' FROM resources r
        WHERE r.site = $1 AND (r.resource_type, r.id) IN (SELECT (resource_type, id) FROM del)
        """,
        params,
    )
    con.execute(
        """
        INSERT INTO deletions
        SELECT $1, d.resource_type, d.id, $2, $3, d.line, d.json_path,
               EXISTS (SELECT 1 FROM resources r WHERE r.site = $1
                       AND r.resource_type = d.resource_type AND r.id = d.id),
               now()
        FROM del d
        WHERE NOT EXISTS (SELECT 1 FROM deletions x WHERE x.site = $1
              AND x.resource_type = d.resource_type AND x.id = d.id AND x.source_file = $3
              AND x.source_line = d.line AND x.json_path = d.json_path)
        """,
        [site, run_id, source_file],
    )
    con.execute(
        """
        DELETE FROM resources
        WHERE site = $1 AND (resource_type, id) IN (SELECT (resource_type, id) FROM del)
        """,
        [site],
    )
    row = con.execute("SELECT count(*) FROM del").fetchone()
    return int(row[0]) if row else 0


def _known_keys(keys: str) -> str:
    """SQL counting the site's ($1) stored keys, current or in history, found in ``keys``
    (a relation with resource_type and id).  The scan is limited to the batch's resource
    types, so DuckDB can skip other types' row groups by their statistics."""
    types = f"(SELECT resource_type FROM {keys})"
    return f"""
        SELECT count(*) FROM (
            SELECT resource_type, id FROM resources
            WHERE site = $1 AND resource_type IN {types}
            UNION ALL
            SELECT resource_type, id FROM resource_history
            WHERE site = $1 AND resource_type IN {types}
        ) k SEMI JOIN {keys} USING (resource_type, id)"""


def append_clean(
    con: duckdb.DuckDBPyConnection, site: str, run_id: str, source_file: str
) -> int | None:
    """Append a batch of NDJSON lines that needs no merge, if its keys are new to the site.

    ``lines_in`` holds the lines and ``chk`` their check, row for row (in order), where
    every line passed, none is a Bundle and no key repeats (``pipeline._prepare`` made sure
    in the checking thread).  When no key is stored for the site, current or in history, the
    non-blank lines are appended and their number returned; otherwise nothing is written and
    None returned (the batch then goes through :func:`merge`).
    """
    known = con.execute(_known_keys("chk"), [site]).fetchall()[0][0]
    if known:
        return None
    return _insert_lines(con, site, run_id, source_file, "NOT c.blank")


def _insert_lines(
    con: duckdb.DuckDBPyConnection, site: str, run_id: str, source_file: str, where: str
) -> int:
    """Append the lines of ``lines_in`` whose check row in ``chk`` (alias c, same order)
    matches ``where``; the number appended."""
    inserted = con.execute(
        f"""
        INSERT INTO resources
        SELECT $1, c.resource_type, c.id, c.version_id,
               try_cast(c.last_updated AS TIMESTAMPTZ), l.text, $3, c.line, $2
        FROM lines_in l POSITIONAL JOIN chk c WHERE {where}
        """,
        [site, run_id, source_file],
    ).fetchall()
    return int(inserted[0][0])


def append_new(
    con: duckdb.DuckDBPyConnection, site: str, run_id: str, source_file: str, good: str
) -> int | None:
    """Fast path of :func:`merge` for a batch of NDJSON lines that are all new.

    When no record came from elsewhere than ``lines_in`` (no Bundle entries, no line
    accepted by the precise check), every key of ``st`` is unique and unknown to the site
    (neither current nor in history), the merge has nothing to rank: the good rows of
    ``chk`` are appended, their text taken from ``lines_in`` by position (``chk`` was built
    from ``lines_in`` in order; checked).  ``good`` is the SQL filter on ``chk`` (alias c)
    that selected ``st``.  Returns the number stored, or None when the full merge is needed.
    Measured: 0.7 instead of 1.9 CPU-s per 100 MB of new resources.
    """
    row = con.execute(
        f"""
        SELECT (SELECT count(*) FROM xt),
               (SELECT count(*) - count(DISTINCT (resource_type, id)) FROM st),
               ({_known_keys("st")}),
               (SELECT count(*) FROM lines_in l POSITIONAL JOIN chk c
                WHERE l.seq IS DISTINCT FROM c.seq),
               (SELECT count(*) FROM st)
        """,
        [site],
    ).fetchone()
    if row is None or any(row[:4]):
        return None
    stored = _insert_lines(con, site, run_id, source_file, good)
    assert stored == row[4], "the good lines of chk are the rows of st"
    return stored


def merge(con: duckdb.DuckDBPyConnection, site: str, run_id: str, source_file: str) -> MergeCounts:
    """Merge temp table ``st(seq, line, resource_type, id, version_id, last_updated)`` whose
    texts are in view ``texts(seq, text)``.

    Records are compared by their text with the stored versions of the batch's keys only, so
    a record pays for the comparison only when another record of its key exists.

    * a record whose text is already stored for its key (current or history), or
      repeats an earlier record of the batch, is a duplicate: nothing is written;
    * among the other records of a key and the current stored version, the newest wins:
      latest ``meta.lastUpdated``, then highest numeric ``meta.versionId``, then the latest
      arrival (records without lastUpdated rank below those with one);
    * the winner becomes current; every loser is kept in ``resource_history``.
    """
    p = [site, run_id, source_file]
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE cand AS
        WITH s AS (
            SELECT st.seq, line, resource_type, id, version_id,
                   try_cast(last_updated AS TIMESTAMPTZ) AS last_updated,
                   rtrim(t.text, chr(13) || chr(10)) AS text
            FROM st JOIN texts t ON t.seq = st.seq
        ), keys AS (
            SELECT DISTINCT resource_type, id FROM st
        ), known AS (
            SELECT resource_type, id, CAST(resource AS VARCHAR) AS text
            FROM resources SEMI JOIN keys USING (resource_type, id) WHERE site = $1
            UNION ALL
            SELECT resource_type, id, CAST(resource AS VARCHAR) AS text
            FROM resource_history SEMI JOIN keys USING (resource_type, id) WHERE site = $1
        )
        SELECT s.* EXCLUDE (text),
            row_number() OVER (PARTITION BY s.resource_type, s.id, s.text ORDER BY s.seq) > 1
            OR (s.resource_type, s.id, s.text) IN
               (SELECT (resource_type, id, text) FROM known) AS dup
        FROM s
        """,
        [site],
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ranked AS
        WITH keys AS (SELECT DISTINCT resource_type, id FROM cand WHERE NOT dup),
        contenders AS (
            SELECT seq, resource_type, id, version_id, last_updated FROM cand WHERE NOT dup
            UNION ALL
            SELECT -1, r.resource_type, r.id, r.version_id, r.last_updated
            FROM resources r JOIN keys k USING (resource_type, id) WHERE r.site = $1
        )
        SELECT seq, resource_type, id,
            row_number() OVER w = 1 AS win,
            bool_or(seq = -1) OVER (PARTITION BY resource_type, id) AS has_current,
            first_value(seq) OVER w = -1 AS current_wins
        FROM contenders
        WINDOW w AS (PARTITION BY resource_type, id ORDER BY last_updated DESC NULLS LAST,
                     try_cast(version_id AS BIGINT) DESC NULLS LAST, seq DESC)
        """,
        [site],
    )
    con.execute(
        """
        INSERT INTO resource_history
        SELECT r.*, $2, 'replaced' FROM resources r
        JOIN ranked k ON k.seq = -1 AND NOT k.win
             AND r.resource_type = k.resource_type AND r.id = k.id
        WHERE r.site = $1
        """,
        p[:2],
    )
    con.execute(
        """
        INSERT INTO resource_history
        SELECT $1, c.resource_type, c.id, c.version_id, c.last_updated,
               rtrim(t.text, chr(13) || chr(10)), $3, c.line, $2, $2,
               CASE WHEN k.current_wins THEN 'stale' ELSE 'superseded' END
        FROM cand c JOIN ranked k ON k.seq = c.seq AND NOT k.win
        JOIN texts t ON t.seq = c.seq
        """,
        p,
    )
    con.execute(
        """
        DELETE FROM resources WHERE site = $1 AND (resource_type, id) IN
            (SELECT (resource_type, id) FROM ranked WHERE seq = -1 AND NOT win)
        """,
        [site],
    )
    con.execute(
        """
        INSERT INTO resources
        SELECT $1, c.resource_type, c.id, c.version_id, c.last_updated,
               rtrim(t.text, chr(13) || chr(10)), $3, c.line, $2
        FROM cand c JOIN ranked k ON k.seq = c.seq AND k.win
        JOIN texts t ON t.seq = c.seq
        """,
        p,
    )
    row = con.execute(
        """
        SELECT (SELECT count(*) FROM cand WHERE dup),
               (SELECT count(*) FROM ranked WHERE seq >= 0 AND win),
               (SELECT count(*) FROM ranked WHERE seq >= 0 AND NOT win)
        """
    ).fetchone()
    assert row is not None
    return MergeCounts(stored=int(row[1]), superseded=int(row[2]), duplicates=int(row[0]))
