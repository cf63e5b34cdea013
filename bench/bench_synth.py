"""Generator bench: people/s and resources/s of ``axhub synth``, beside a plain orjson loop.

Target (issue 2 §2): 100,000 people in under 2 minutes on 2 cores.

    .venv/bin/python bench/bench_synth.py            # 100,000 people
    .venv/bin/python bench/bench_synth.py --quick    # 5,000 people smoke run
    .venv/bin/python bench/bench_synth.py --people 200000 --gzip

Reference measured in the same run: the same resources (a sample of every file of the
generated region, parsed into Python dicts beforehand, untimed) written with a plain loop of
``orjson.dumps`` per resource.  That is the cost of serialisation alone with the dicts
already built; the generator's figure includes drawing the people, their records and ground
truth.  The usual peer, Synthea (Java), cannot run here (no JVM, no downloads), so no Synthea
figure is printed.
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
        print("peer: Synthea (Java) not runnable on this machine (no JVM, no downloads); no figure")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
