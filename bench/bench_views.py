"""Flatten throughput of the bundled views beside the Python peer, measured in the same run.

    .venv/bin/python bench/bench_views.py              # >= 1,000,000 resources
    .venv/bin/python bench/bench_views.py --quick      # ~60,000 resources, smoke run

Data: the synthetic region (``axhub.synth.generate``) sized to the resource count, loaded
into a raw-zone-shaped DuckDB table ``resources(resource_type, id, resource JSON)``.

Measured, for the bundled ``patient_demographics`` and ``observations`` views:

* DuckDB (2 threads): raw zone -> Parquet view table, resources/s of the view's type, in a
  fresh process per input size (half, full) so its peak RSS is its own (memory bound);
* the peer ``sqlonfhir`` 0.0.2 (SAS, Apache-2.0, pure Python on fhirpathpy), installed only
  in ``bench/out/venv-peers`` (created on first run with pip), running the same view JSON
  on the same resources (the first ``--peer-resources`` of each type), NDJSON in -> CSV out;
* Spark (``local[2]``): the same full set exported to Parquet, both views -> Parquet.

Targets (issue 3): DuckDB >= 100,000 resources/s end to end on 2 cores and >= 20x the peer;
peak RSS flat from half to full input.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PEER_VENV = OUT / "venv-peers"
VIEWS = ("patient_demographics", "observations")
RESOURCES_PER_PERSON = 27.0  # synth average (measured: 983,194 resources / 36,207 people)

PEER_SCRIPT = r"""
import csv, json, sys, time
import sqlonfhir
view = json.load(open(sys.argv[1]))
started = time.perf_counter()
resources = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
rows = sqlonfhir.evaluate(resources, view)
names = [c["name"] for s in view["select"] for c in s.get("column", [])]
with open(sys.argv[3], "w", newline="") as fh:
    w = csv.writer(fh)
    for r in rows:
        w.writerow([r.get(k) for k in r])
print(json.dumps({"resources": len(resources), "rows": len(rows),
                  "seconds": time.perf_counter() - started}))
"""

DUCK_SCRIPT = r"""
import json, resource, sys, time
from pathlib import Path
from axhub.engine.duckdb import DuckDBEngine
from axhub.views import library
db, name, out, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
eng = DuckDBEngine(threads=2)
eng.con.execute(f"ATTACH '{db}' AS raw (READ_ONLY)")
vd = library.load(name)
source = "raw.resources"
if limit:
    eng.con.execute(
        f"CREATE TEMP VIEW part AS SELECT * FROM raw.resources WHERE resource_type = "
        f"'{vd.resource}' LIMIT {limit}"
    )
    source = "part"
n = eng.con.execute(
    f"SELECT count(*) FROM {source} WHERE resource_type = '{vd.resource}'").fetchone()[0]
started = time.perf_counter()
from axhub.views.compiler import compile_view
sql = compile_view(vd, eng.dialect, source).sql
row = eng.con.execute(f"COPY ({sql}) TO '{out}' (FORMAT PARQUET, COMPRESSION ZSTD)").fetchone()
seconds = time.perf_counter() - started
print(json.dumps({"resources": n, "rows": row[0], "seconds": seconds,
                  # VmHWM, not ru_maxrss (which Linux carries over from the parent)
                  "peak_rss_mb": next(int(x.split()[1]) for x in open("/proc/self/status")
                                      if x.startswith("VmHWM:")) / 1024}))
"""


def build_region(work: Path, resources: int, seed: int) -> Path:
    """Synthetic region -> raw-zone-shaped DuckDB file; returns its path."""
    import duckdb

    from axhub.synth import generate

    people = max(200, round(resources / RESOURCES_PER_PERSON))
    started = time.perf_counter()
    generate(people, seed, work / "synth")
    files = sorted(str(p) for p in (work / "synth" / "sites").rglob("*.ndjson"))
    db = work / "raw.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE resources AS SELECT json->>'resourceType' AS resource_type, "
        "json->>'id' AS id, json AS resource "
        f"FROM read_ndjson_objects({files!r})"
    )
    n = con.execute("SELECT count(*) FROM resources").fetchone()[0]  # type: ignore[index]
    con.close()
    print(f"region: {people:,} people, {n:,} resources in {time.perf_counter() - started:.0f}s")
    return db


def run_duckdb(db: Path, name: str, out: Path, limit: int = 0) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", DUCK_SCRIPT, str(db), name, str(out), str(limit)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def ensure_peer() -> Path:
    py = PEER_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "sqlonfhir==0.0.2"], check=True)
    return py


def run_peer(db: Path, name: str, work: Path, limit: int) -> dict[str, float] | str:
    import duckdb

    from axhub.views import library

    vd = library.raw(name)
    view_file = work / f"{name}.view.json"
    view_file.write_text(json.dumps(vd), encoding="utf-8")
    ndjson = work / f"{name}.peer.ndjson"
    con = duckdb.connect(str(db), read_only=True)
    con.execute(
        f"COPY (SELECT resource FROM resources WHERE resource_type = '{vd['resource']}' "
        f"LIMIT {limit}) TO '{ndjson}' (FORMAT CSV, HEADER false, QUOTE '', ESCAPE '')"
    )
    con.close()
    proc = subprocess.run(
        [str(ensure_peer()), "-c", PEER_SCRIPT, str(view_file), str(ndjson), str(work / "p.csv")],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_spark(db: Path, work: Path) -> dict[str, dict[str, float]]:
    from axhub.engine.duckdb import DuckDBEngine
    from axhub.engine.spark import SparkEngine
    from axhub.views import library

    export = work / "export"
    duck = DuckDBEngine(db, read_only=True)
    started = time.perf_counter()
    duck.export_resources(export)
    counts = dict(
        duck.con.execute("SELECT resource_type, count(*) FROM resources GROUP BY 1").fetchall()
    )
    duck.close()
    export_s = time.perf_counter() - started
    spark = SparkEngine(master="local[2]")
    spark.register_parquet("resources", export)
    out: dict[str, dict[str, float]] = {"export": {"seconds": export_s}}
    for name in VIEWS:
        vd = library.load(name)
        started = time.perf_counter()
        rows = spark.write_view(vd, work / f"{name}.spark.parquet")
        seconds = time.perf_counter() - started
        out[name] = {"resources": counts[vd.resource], "rows": rows, "seconds": seconds}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=1_050_000)
    ap.add_argument("--quick", action="store_true", help="~60k resources, small peer run")
    ap.add_argument("--peer-resources", type=int, default=100_000, help="per view (0 = skip)")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--seed", type=int, default=20261126)
    args = ap.parse_args()
    if args.quick:
        args.resources, args.peer_resources = 60_000, min(args.peer_resources, 10_000)
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"cpus": os.cpu_count(), "load": os.getloadavg()}
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        work = Path(tmp)
        db = build_region(work, args.resources, args.seed)
        total_res = total_s = 0.0
        for name in VIEWS:
            full = run_duckdb(db, name, work / f"{name}.parquet")
            half = run_duckdb(db, name, work / f"{name}.half.parquet", int(full["resources"] // 2))
            rate = full["resources"] / full["seconds"]
            total_res += full["resources"]
            total_s += full["seconds"]
            peer: dict[str, float] | str = "skipped"
            if args.peer_resources:
                peer = run_peer(db, name, work, args.peer_resources)
            peer_rate = (
                peer["resources"] / peer["seconds"] if isinstance(peer, dict) else float("nan")
            )
            results[name] = {"duckdb": full, "duckdb_half": half, "peer": peer}
            print(
                f"{name:22s} duckdb {full['resources']:>9,.0f} res in {full['seconds']:6.1f}s "
                f"= {rate:>9,.0f} res/s (rows {full['rows']:,.0f}); peak RSS half "
                f"{half['peak_rss_mb']:.0f} MB, full {full['peak_rss_mb']:.0f} MB"
            )
            if isinstance(peer, dict):
                print(
                    f"{'':22s} sqlonfhir {peer['resources']:>6,.0f} res in {peer['seconds']:6.1f}s "
                    f"= {peer_rate:>9,.0f} res/s (rows {peer['rows']:,.0f}); "
                    f"duckdb/peer = {rate / peer_rate:.1f}x"
                )
            else:
                print(f"{'':22s} sqlonfhir: {peer}")
        print(f"{'both views':22s} duckdb end to end {total_res / total_s:,.0f} res/s")
        results["duckdb_end_to_end"] = total_res / total_s
        if not args.no_spark:
            spark = run_spark(db, work)
            results["spark"] = spark
            print(f"spark export of the raw zone to Parquet: {spark['export']['seconds']:.1f}s")
            for name in VIEWS:
                r = spark[name]
                print(
                    f"{name:22s} spark  {r['resources']:>9,.0f} res in {r['seconds']:6.1f}s "
                    f"= {r['resources'] / r['seconds']:>9,.0f} res/s (rows {r['rows']:,.0f})"
                )
    results["maxrss_parent_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (OUT / "views.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(f"load average during run (1/5/15 min at start): {results['load']}")


if __name__ == "__main__":
    main()
