"""Generator bench: people/s and resources/s of ``axhub synth``, beside a plain orjson loop.

Target (issue 2 §2): 100,000 people in under 2 minutes on 2 cores.

    .venv/bin/python bench/bench_synth.py            # 100,000 people
    .venv/bin/python bench/bench_synth.py --quick    # 5,000 people smoke run
    .venv/bin/python bench/bench_synth.py --people 200000 --gzip

Reference measured in the same run: the same resources (a sample of every file of the
generated region, parsed into Python dicts beforehand, untimed) written with a plain loop of
``orjson.dumps`` per resource.  That is the cost of serialisation alone with the dicts
already built; the generator's figure includes drawing the people, their records and ground
truth.  A second reference renders the same quantity Observations of one site from the same
columns both ways: the Arrow template and a loop building a dict per resource for
``orjson.dumps``.  The usual peer, Synthea (Java), cannot run here (no JVM, no downloads), so
no Synthea figure is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import orjson

from axhub.synth import generate

SAMPLE_PER_FILE = 200_000
CATEGORY_DISPLAY = {"vital-signs": "Vital Signs", "laboratory": "Laboratory"}


def orjson_reference(region: Path, out: Path) -> tuple[int, int, float]:
    """(resources, bytes, seconds) writing a sample of every file with an orjson loop."""
    resources: list[dict] = []
    for path in sorted(region.rglob("*.ndjson")):
        with path.open("rb") as fh:
            for i, line in enumerate(fh):
                if i >= SAMPLE_PER_FILE:
                    break
                resources.append(orjson.loads(line))
    t0 = time.perf_counter()
    written = 0
    with (out / "reference.ndjson").open("wb") as fh:
        for res in resources:
            line = orjson.dumps(res) + b"\n"
            fh.write(line)
            written += len(line)
    return len(resources), written, time.perf_counter() - t0


def same_rows_comparison(people: int, seed: int, out: Path) -> dict[str, float]:
    """Quantity Observations of one site from the same columns: Arrow template vs dict loop.

    Both start from the same NumPy/Arrow columns (ids, references, times, codes, values) and
    write NDJSON to a file; the loop builds one dict per resource and calls ``orjson.dumps``.
    """
    import numpy as np

    from axhub.fhir import codes
    from axhub.synth import records
    from axhub.synth import render as r
    from axhub.synth import resources as res
    from axhub.synth.generate import draw_region
    from axhub.synth.sitewriter import chunks, ids, take

    d = draw_region(people, seed)
    rng = np.random.default_rng(seed)
    site = 3  # clinics, the largest export
    vp = d.visits["person"][d.visits["site"] == site]
    enc = records.encounters(rng, vp, d.h)
    obs = records.observations(rng, "clinics", enc, d.h, d.p["age"], d.p["male"])
    n = len(obs["enc"])
    obs_id = ids(n, 99, seed)
    patient = take(ids(len(vp), 98, seed), enc["visit"][obs["enc"]])
    encounter = take(ids(len(enc["visit"]), 97, seed), obs["enc"])
    when = take(res.datetimes(enc["start"]), obs["enc"])
    value = r.number(obs["value"], obs["decimals"])
    # Python-side inputs for the loop (conversion not timed).
    py = {
        k: a.to_pylist()
        for k, a in (("id", obs_id), ("patient", patient), ("encounter", encounter), ("when", when))
    }
    py_value = [float(v) for v in value.to_pylist()]
    key = obs["key"].tolist()
    spec = [codes.OBSERVATIONS[q.key] for q in records.QUANTITIES]
    cat = "http://terminology.hl7.org/CodeSystem/observation-category"

    # Rendering only (into memory), then the same bytes written once, for both paths.
    t0 = time.perf_counter()
    rendered = [
        res.quantity_observations(
            obs_id[s], patient[s], encounter[s], when[s], obs["key"][s], value[s]
        )
        for s in chunks(n)
    ]
    t_arrow = time.perf_counter() - t0
    t0 = time.perf_counter()
    with (out / "arrow.ndjson").open("wb") as fh:
        for lines in rendered:
            r.write_lines(fh, lines)
    t_write = time.perf_counter() - t0

    t0 = time.perf_counter()
    loop_lines: list[bytes] = []
    for i in range(n):
        o = spec[key[i]]
        doc = {
            "resourceType": "Observation",
            "id": py["id"][i],
            "meta": {"versionId": "1", "lastUpdated": py["when"][i]},
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": cat,
                            "code": o.category,
                            "display": CATEGORY_DISPLAY[o.category],
                        }
                    ]
                }
            ],
            "code": {
                "coding": [{"system": codes.LOINC, "code": o.code, "display": o.display}],
                "text": o.display_ko,
            },
            "subject": {"reference": "Patient/" + py["patient"][i]},
            "encounter": {"reference": "Encounter/" + py["encounter"][i]},
            "effectiveDateTime": py["when"][i],
            "valueQuantity": {
                "value": py_value[i],
                "unit": o.unit,
                "system": codes.UCUM,
                "code": o.unit,
            },
        }
        loop_lines.append(orjson.dumps(doc))
    t_loop = time.perf_counter() - t0
    (out / "loop.ndjson").write_bytes(b"\n".join(loop_lines) + b"\n")
    return {"rows": n, "arrow_s": t_arrow, "loop_s": t_loop, "write_s": t_write}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--gzip", action="store_true", help="write .ndjson.gz")
    ap.add_argument("--quick", action="store_true", help="5,000 people smoke run")
    ap.add_argument("--keep", type=Path, default=None, help="keep the region in this folder")
    args = ap.parse_args()
    people = 5_000 if args.quick else args.people
    tmp = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    out = args.keep or tmp / "region"
    try:
        t0 = time.perf_counter()
        manifest = generate(people, args.seed, out, gzip_output=args.gzip)
        seconds = time.perf_counter() - t0
        n_res = manifest["resources_total"]
        n_bytes = sum(f["bytes"] for f in manifest["files"])
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}"
        )
        print(
            f"axhub synth: {people:,} people, {n_res:,} resources, {n_bytes / 1e6:,.0f} MB "
            f"uncompressed NDJSON{' (gzip)' if args.gzip else ''} in {seconds:.1f} s"
        )
        print(
            f"  {people / seconds:,.0f} people/s, {n_res / seconds:,.0f} resources/s, "
            f"{n_bytes / seconds / 1e6:,.0f} MB/s (drawing people and ground truth: "
            f"{manifest['seconds_people']:.1f} s)"
        )
        verdict = "meets" if people < 100_000 or seconds < 120 else "MISSES"
        print(
            f"  target 100,000 people < 120 s: {verdict}"
            + (f" ({100_000 / (people / seconds):.0f} s extrapolated)" if people != 100_000 else "")
        )
        if not args.gzip:
            n, b, s = orjson_reference(out, tmp)
            w = manifest["seconds_write"]
            print(
                f"  of which rendering and writing NDJSON: {w:.1f} s = {n_res / w:,.0f} "
                f"resources/s, {n_bytes / w / 1e6:,.0f} MB/s (vectorised Arrow templates)"
            )
            print(
                f"reference: plain orjson.dumps loop over {n:,} pre-built resources: "
                f"{n / s:,.0f} resources/s, {b / s / 1e6:,.0f} MB/s (serialisation only)"
            )
            print(
                f"  writer / orjson loop: {(n_res / w) / (n / s):.2f}x; whole generator / orjson "
                f"loop: {(n_res / seconds) / (n / s):.2f}x"
            )
        cmp = same_rows_comparison(min(people, 30_000), args.seed, tmp)
        print(
            f"same {cmp['rows']:,} quantity Observations from the same columns, rendering in "
            f"memory: Arrow template {cmp['rows'] / cmp['arrow_s']:,.0f}/s vs dict + "
            f"orjson.dumps loop {cmp['rows'] / cmp['loop_s']:,.0f}/s "
            f"({cmp['loop_s'] / cmp['arrow_s']:.1f}x); writing those bytes: "
            f"{cmp['write_s']:.2f} s"
        )
        print("peer: Synthea (Java) not runnable on this machine (no JVM, no downloads); no figure")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
