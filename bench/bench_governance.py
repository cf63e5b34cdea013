"""Benchmark the governance boundary on a synthetic region.

Measures, in one run on the same data:
  * de-identification (raw zone -> integrated zone, allow-list SQL + keyed pseudonyms), next to
    two physical references on the same rows: a plain copy of the raw table, and a JSON
    parse + re-serialise of every resource (the least any rebuild of the JSON must do);
  * a governed research read (consent anti-join + per-project re-keying) next to a plain
    `SELECT *` of the integrated zone;
  * a clinician's one-person read (what the patient summary asks for), p50 and p90 over 40
    persons of the clinician's site, next to a plain one-person SELECT on an open connection;
  * audit verification per entry.

    .venv/bin/python bench/bench_governance.py [--people N] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from axhub.config import Settings
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.purposes import Purpose
from axhub.governance.stewardship import StewardStore
from axhub.ingest import ingest
from axhub.synth import generate


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="smoke run on 500 people")
    args = ap.parse_args()
    people = 500 if args.quick else args.people
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(people, 11, root / "region")
        s = Settings(data_dir=root / "data", secret_key="bench")
        for site in sorted(p.name for p in (root / "region" / "sites").iterdir()):
            ingest(root / "region" / "sites" / site, site=site, settings=s)
        truth = pq.read_table(root / "region" / "ground_truth" / "site_records.parquet")
        mapping = truth.select(["site", "patient_id", "person_id"])
        con = duckdb.connect()
        con.execute(f"ATTACH '{s.raw_zone_path}' AS raw (READ_ONLY)")
        rows = con.execute("SELECT count(*) FROM raw.resources").fetchone()[0]  # type: ignore[index]
        t_copy, _ = timed(
            lambda: con.execute("CREATE TABLE c AS SELECT * FROM raw.resources").fetchall()
        )
        t_json, _ = timed(
            lambda: con.execute(
                "CREATE TABLE j AS SELECT json(resource::VARCHAR) AS r FROM raw.resources"
            ).fetchall()
        )
        con.close()

        now = dt.datetime.now(dt.UTC)
        store = StewardStore(s, clock=lambda: now)
        op = Principal("bench-op", Role.OPERATOR)
        t_deid, report = timed(lambda: store.deidentify(op, mapping))
        out_rows = sum(report.resources_out.values())
        store.register_project(
            op,
            Project(
                "bench",
                "DRB-BENCH",
                frozenset({Purpose.RESEARCH}),
                frozenset({"Patient", "Condition", "Observation"}),
                now + dt.timedelta(days=1),
            ),
        )
        res = Principal("bench-r", Role.RESEARCHER, project_id="bench")
        t_read, table = timed(lambda: store.read(res, "research"))
        icon = duckdb.connect(str(s.data_dir / "integrated.duckdb"), read_only=True)
        t_plain, plain = timed(
            lambda: icon.sql(
                "SELECT * FROM resources "
                "WHERE resource_type IN ('Patient', 'Condition', 'Observation')"
            ).to_arrow_table()
        )
        site = sorted(p.name for p in (root / "region" / "sites").iterdir())[0]
        persons = [
            r[0]
            for r in icon.execute(
                "SELECT DISTINCT person_id FROM person_keys WHERE site = ? ORDER BY 1", [site]
            ).fetchall()
        ]
        sample = persons[:: max(1, len(persons) // 40)][:40]
        clin = Principal("bench-clin", Role.CLINICIAN, site=site)
        types = ["Patient", "Condition", "Observation", "MedicationRequest", "Encounter"]
        person_ms, plain_ms = [], []
        for pid in sample:
            dt_read, _ = timed(lambda pid=pid: store.read(clin, "treatment", types, persons=[pid]))
            person_ms.append(dt_read * 1000)
            dt_plain, _ = timed(
                lambda pid=pid: icon.execute(
                    "SELECT * FROM resources WHERE person_id = ? AND resource_type IN "
                    "('Patient', 'Condition', 'Observation', 'MedicationRequest', 'Encounter')",
                    [pid],
                ).fetchall()
            )
            plain_ms.append(dt_plain * 1000)
        icon.close()
        t_verify, ver = timed(store.audit.verify)

    print(
        f"people {people:,}; raw resources {rows:,}; integrated resources {out_rows:,}; "
        f"persons {report.persons:,}"
    )
    print(f"{'step':44} {'seconds':>8} {'rows/s':>12}")
    for name, secs, n in (
        ("de-identify (allow-list SQL + HMAC pseudonyms)", t_deid, rows),
        ("  reference: plain copy of raw.resources", t_copy, rows),
        ("  reference: JSON parse + re-serialise", t_json, rows),
        ("governed research read (consent + re-key)", t_read, table.num_rows),
        ("  reference: plain SELECT of the same types", t_plain, plain.num_rows),
        (f"audit verify ({ver.entries} entries)", t_verify, ver.entries),
    ):
        print(f"{name:44} {secs:8.2f} {n / secs if secs else 0:12,.0f}")
    person_ms.sort()
    plain_ms.sort()
    mid, p90 = len(person_ms) // 2, int(len(person_ms) * 0.9)
    print(f"clinician one-person read ({len(person_ms)} persons): p50 {person_ms[mid]:.1f} ms, "
          f"p90 {person_ms[p90]:.1f} ms; reference plain SELECT on an open connection: "
          f"p50 {plain_ms[mid]:.1f} ms, p90 {plain_ms[p90]:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
