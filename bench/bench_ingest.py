"""Ingest throughput beside the physical references, measured in the same run.

    .venv/bin/python bench/bench_ingest.py            # 1,000,000 resources
    .venv/bin/python bench/bench_ingest.py --quick    # 50,000 resources, smoke run

Input: the shared Synthea bulk sample (7,160 resources, 13 types) replicated with new ids
(every UUID gets a per-copy prefix, so references stay consistent) until the count is
reached, in two halves.  References measured on the full input:

* orjson: ``orjson.loads`` of every line, one core (the raw parse rate);
* DuckDB ``read_json`` of the same files (resourceType and id columns), all cores;
* DuckDB storing the same lines, unchecked, in a table shaped like the raw zone's
  ``resources`` (primary key, zstd text) and checkpointing: the store's own floor;
* DuckDB checking the same lines with ingest's own vectorised check (``check_sql``) and
  storing the good ones, in one statement with no Python per block: into that table; into a
  zstd Parquet file instead; and into that file plus a key table (primary key, row pointer).
  These are the floors of a validating ingest on this engine: no line numbers, quarantine,
  versions or resume.

``axhub ingest`` runs in a fresh process per input size (half, full) so that its peak RSS
(``VmHWM``) is its own; then the full input is ingested again (idempotent re-run: all duplicates).
Target (issue 2): ingest >= 50% of the orjson rate; peak RSS flat from half to full.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "synthea-sample"
_UUID = re.compile(rb"[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def make_input(out: Path, resources: int) -> tuple[Path, Path]:
    """Write ``resources`` resources as two halves: out/part1 and out/part2."""
    files = sorted(SAMPLE.glob("*.000.ndjson"))
    data = {f.name: f.read_bytes() for f in files}
    per_copy = sum(d.count(b"\n") for d in data.values())
    copies = max(2, round(resources / per_copy))
    for part, rng in (("part1", range(copies // 2)), ("part2", range(copies // 2, copies))):
        folder = out / part
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in data.items():
            with open(folder / name, "wb") as w:
                for k in rng:
                    prefix = b"%08x" % k
                    w.write(_UUID.sub(lambda m, p=prefix: p + m.group(1), text))
    return out / "part1", out


def _size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*.ndjson")]
    lines = 0
    for p in files:
        with open(p, "rb") as fh:
            while chunk := fh.read(1 << 24):
                lines += chunk.count(b"\n")
    return sum(p.stat().st_size for p in files), lines


def orjson_rate(path: Path) -> float:
    import orjson

    t = time.perf_counter()
    for p in sorted(path.rglob("*.ndjson")):
        with open(p, "rb") as fh:
            for line in fh:
                orjson.loads(line)
    return time.perf_counter() - t


def duckdb_read_json(path: Path) -> float:
    import duckdb

    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(
        "SELECT count(*), count(DISTINCT id) FROM read_json(?, format = 'newline_delimited', "
        "columns = {resourceType: 'VARCHAR', id: 'VARCHAR'})",
        [str(path / "**" / "*.ndjson")],
    ).fetchall()
    return time.perf_counter() - t


def _lines(path: Path) -> str:
    """DuckDB's parallel CSV reader over every NDJSON file under ``path``, one text column:
    the lines as they are (no delimiter, quote or escape can occur in them)."""
    files = str(path / "**" / "*.ndjson").replace("'", "''")
    return (
        f"read_csv('{files}', columns = {{'text': 'VARCHAR'}}, delim = '\x01', quote = '', "
        "escape = '', header = false, auto_detect = false)"
    )


def duckdb_store_floor(path: Path, work: Path) -> float:
    """The store on its own: the same lines into a table shaped like ``resources``.

    DuckDB reads the files as lines (CSV with one text column, in parallel), takes the two
    key fields, and appends everything to a table with the raw zone's columns, primary key
    and zstd-compressed JSON text, then checkpoints: no validation, no history, no
    quarantine, no resume.  Any ingest that keeps the resource text in a DuckDB table with
    that key pays at least this.
    """
    import duckdb

    from axhub.ingest.rawzone import SCHEMA

    db = work / "store-floor.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(SCHEMA)
    t = time.perf_counter()
    con.execute(
        f"""INSERT INTO resources
        SELECT 'floor', f[1], f[2], NULL, NULL, text, 'file', 0, 'run'
        FROM (SELECT text, json_extract_string(text, ['$.resourceType', '$.id']) AS f
              FROM {_lines(path)})"""
    )
    con.execute("CHECKPOINT")
    dt = time.perf_counter() - t
    con.close()
    db.unlink(missing_ok=True)
    return dt


def duckdb_validated_floor(path: Path, work: Path) -> tuple[float, float, float]:
    """The check and the store together, all in DuckDB, in seconds: into a
    ``resources``-shaped table (with a checkpoint); into a zstd Parquet file; and into that
    Parquet file plus a key table (site, type, id primary key, pointing at the file's rows),
    the least a Parquet raw zone would need to find a resource's stored version."""
    import duckdb

    from axhub.ingest.rawzone import SCHEMA
    from axhub.ingest.validate import check_sql

    db = work / "validated-floor.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(SCHEMA)
    con.execute(
        "CREATE TABLE keys (site VARCHAR, resource_type VARCHAR, id VARCHAR, version_id VARCHAR, "
        "last_updated TIMESTAMPTZ, segment VARCHAR, segment_row BIGINT, "
        "PRIMARY KEY (site, resource_type, id))"
    )
    con.execute(
        "CREATE TEMP VIEW lines_in AS SELECT 0::BIGINT AS seq, 0::BIGINT AS line, "
        f"NULL::VARCHAR AS path, text FROM {_lines(path)}"
    )
    good = (
        "SELECT resource_type, id, version_id, try_cast(last_updated AS TIMESTAMPTZ) AS "
        f"last_updated, text FROM ({check_sql('lines_in', guarded=False, with_text=True)}) "
        "WHERE NOT bad AND NOT blank"
    )
    t = time.perf_counter()
    con.execute(
        "INSERT INTO resources SELECT 'floor', resource_type, id, version_id, last_updated, "
        f"text, 'file', 0, 'run' FROM ({good})"
    )
    con.execute("CHECKPOINT")
    table = time.perf_counter() - t
    stored = con.execute("SELECT count(*) FROM resources").fetchall()[0][0]
    out = work / "validated-floor.parquet"
    t = time.perf_counter()
    con.execute(f"COPY ({good}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    parquet = time.perf_counter() - t
    con.execute(
        "INSERT INTO keys SELECT 'floor', resource_type, id, version_id, last_updated, 'seg', "
        f"file_row_number FROM read_parquet('{out}', file_row_number = true)"
    )
    con.execute("CHECKPOINT")
    keyed = time.perf_counter() - t
    keys = con.execute("SELECT count(*) FROM keys").fetchall()[0][0]
    con.close()
    db.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    assert stored > 0 and keys == stored
    return table, parquet, keyed


def run_child(path: Path, data_dir: Path) -> dict[str, float]:
    """Ingest in a fresh process; return its wall time, counts and peak RSS (MB)."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(path), str(data_dir)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.wait() != 0:
        raise SystemExit(f"ingest child failed with status {proc.returncode}")
    result = json.loads(out)
    result["wall"] = time.perf_counter() - t
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``), in MB.

    Not ``ru_maxrss``: Linux carries that over from the parent through fork and exec, so a
    child of a large parent (this bench after its DuckDB references) would report the
    parent's size (measured: a child of a 1 GB parent reported 967 MB, VmHWM 14 MB).
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(path: str, data_dir: str) -> None:
    from axhub.config import Settings
    from axhub.ingest import ingest

    t = time.perf_counter()
    report = ingest(path, site="bench", settings=Settings(data_dir=Path(data_dir)))
    totals = report.totals
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - t,
                "read": totals.read,
                "stored": totals.stored,
                "duplicates": totals.duplicates,
                "quarantined": totals.quarantined,
                "balanced": report.balanced,
                "rss_mb": peak_rss_mb(),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="50,000 resources (smoke run)")
    ap.add_argument("--workdir", type=Path, default=None, help="keep input and zones here")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    n = 50_000 if args.quick else args.resources
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        t = time.perf_counter()
        half, full = make_input(work / "input", n)
        print(f"input: {work / 'input'} generated in {time.perf_counter() - t:.1f}s")
        sizes = {"half": _size(half), "full": _size(full)}
        full_bytes, full_lines = sizes["full"]
        print(f"full input: {full_lines:,} resources, {full_bytes / 1e6:,.0f} MB; "
              f"cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")  # fmt: skip

        rows = []
        dt = orjson_rate(full)
        rows.append(("orjson.loads per line (1 core)", full_lines, full_bytes, dt, None))
        orjson_mbs = full_bytes / dt / 1e6
        dt = duckdb_read_json(full)
        rows.append(("DuckDB read_json (type, id)", full_lines, full_bytes, dt, None))
        dt = duckdb_store_floor(full, work)
        rows.append(("DuckDB store only (no checks)", full_lines, full_bytes, dt, None))
        floor_mbs = full_bytes / dt / 1e6
        table_s, parquet_s, keyed_s = duckdb_validated_floor(full, work)
        rows.append(("DuckDB check + store (table)", full_lines, full_bytes, table_s, None))
        rows.append(("DuckDB check + Parquet file", full_lines, full_bytes, parquet_s, None))
        rows.append(("DuckDB check + Parquet + key table", full_lines, full_bytes, keyed_s, None))
        validated_mbs = full_bytes / table_s / 1e6
        runs = {}
        for name, path in (("half", half), ("full", full)):
            res = run_child(path, work / f"zone-{name}")
            if not res["balanced"] or res["quarantined"]:
                raise SystemExit(f"bench ingest {name} did not balance or quarantined: {res}")
            runs[name] = res
            b, lines = sizes[name]
            rows.append((f"axhub ingest ({name})", lines, b, res["seconds"], res["rss_mb"]))
        again = run_child(full, work / "zone-full")
        assert again["duplicates"] == runs["full"]["read"] and again["stored"] == 0
        rows.append(("axhub ingest (full, re-run)", full_lines, full_bytes, again["seconds"],
                     again["rss_mb"]))  # fmt: skip

        print(f"\n{'what':34s} {'resources':>10s} {'MB':>7s} {'s':>7s} {'res/s':>9s} "
              f"{'MB/s':>7s} {'% orjson':>8s} {'peak RSS':>9s}")  # fmt: skip
        for what, lines, b, dt, rss in rows:
            mbs = b / dt / 1e6
            rss_s = f"{rss:,.0f} MB" if rss else ""
            print(f"{what:34s} {lines:>10,} {b / 1e6:>7,.0f} {dt:>7.1f} {lines / dt:>9,.0f} "
                  f"{mbs:>7.1f} {100 * mbs / orjson_mbs:>7.0f}% {rss_s:>9s}")  # fmt: skip
        growth = runs["full"]["rss_mb"] / runs["half"]["rss_mb"]
        print(f"\npeak RSS full/half: {growth:.2f} (flat memory: close to 1 while input doubles)")
        ratio = (full_bytes / runs["full"]["seconds"] / 1e6) / orjson_mbs
        print(f"ingest / orjson raw parse rate: {100 * ratio:.0f}% (target >= 50%)")
        print(f"DuckDB store alone / orjson raw parse rate: {100 * floor_mbs / orjson_mbs:.0f}%; "
              f"ingest / store alone: {100 * ratio * orjson_mbs / floor_mbs:.0f}%")  # fmt: skip
        print(f"DuckDB check + store (table) / orjson: {100 * validated_mbs / orjson_mbs:.0f}%; "
              f"ingest / that floor: {100 * ratio * orjson_mbs / validated_mbs:.0f}%")  # fmt: skip
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
