"""Score a population with every score in one run: vectorised ``score_table`` beside the plain
per-person Python reference (tests/clinical/scores_reference.py), measured in the same run and
checked to give the same numbers (max abs difference printed).

    .venv/bin/python bench/bench_scores.py                 # 1,000,000 people (target < 30 s)
    .venv/bin/python bench/bench_scores.py --quick         # 20,000 people smoke run
    .venv/bin/python bench/bench_scores.py --reference-rows 1000000   # time the reference on all

The reference runs on ``--reference-rows`` people (default 50,000) and its time for the whole
population is extrapolated linearly (it is one independent loop iteration per person); the
numbers are compared on exactly those rows.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "clinical"))

from scores_population import population  # noqa: E402
from scores_reference import score_person  # noqa: E402

from axhub.clinical.scores import (  # noqa: E402
    DEFICITS,
    SCORE_IDS,
    kdm_fit,
    read_inputs,
    score_table,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--reference-rows", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--quick", action="store_true", help="20,000 people, 5,000 reference rows")
    args = ap.parse_args()
    if args.quick:
        args.people, args.reference_rows = 20_000, 5_000
    ref_rows = min(args.reference_rows, args.people)

    print(
        f"machine: {platform.machine()} {os.cpu_count()} logical CPUs, Python "
        f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f} "
        "(above 2 means the cores are shared)"
    )
    t0 = time.perf_counter()
    table = population(args.people, seed=args.seed)
    kdm = kdm_fit(read_inputs(population(20_000, seed=args.seed + 1)))
    print(
        f"generated {args.people:,} people x {table.num_columns} input columns "
        f"in {time.perf_counter() - t0:.1f} s (not timed below)"
    )

    t0 = time.perf_counter()
    scored = score_table(table, kdm=kdm)
    vec_s = time.perf_counter() - t0
    n_out = len(SCORE_IDS)

    # The reference runs chunk by chunk (rows become Python dicts outside the timed loop) and
    # each chunk is compared at once, so even 1,000,000 reference rows fit in memory.
    ids = [d.id for d in DEFICITS]
    ref_s, max_abs, none_mismatch, compared = 0.0, 0.0, 0, 0
    chunk = 50_000
    for start in range(0, ref_rows, chunk):
        length = min(chunk, ref_rows - start)
        rows = table.slice(start, length).to_pylist()
        t0 = time.perf_counter()
        ref = [score_person(r, kdm_model=kdm, deficit_ids=ids) for r in rows]
        ref_s += time.perf_counter() - t0
        head = scored.slice(start, length)
        for sid in SCORE_IDS:
            for a, r in zip(head.column(sid).to_pylist(), ref, strict=True):
                b = r[sid]
                if (a is None) != (b is None):
                    none_mismatch += 1
                elif isinstance(a, float):
                    compared += 1
                    max_abs = max(max_abs, abs(a - b))
                elif a is not None:
                    compared += 1
                    none_mismatch += int(a != b)
    ref_full = ref_s * args.people / ref_rows

    print(f"scores: {n_out} score columns (+ reason columns) per person")
    print(
        f"vectorised score_table (NumPy/Arrow): {args.people:,} people in {vec_s:.2f} s "
        f"= {args.people / vec_s:,.0f} people/s   target < 30 s: "
        f"{'MET' if vec_s < 30 else 'NOT MET'}"
    )
    print(
        f"plain per-person Python reference: {ref_rows:,} people in {ref_s:.2f} s "
        f"= {ref_rows / ref_s:,.0f} people/s; for {args.people:,} people "
        f"{'measured' if ref_rows == args.people else 'extrapolated'} {ref_full:.1f} s"
    )
    print(f"speed-up: {ref_full / vec_s:.1f}x")
    print(
        f"agreement on {ref_rows:,} people: {compared:,} values compared, "
        f"max abs difference {max_abs:.3e}, computable/not-computable mismatches "
        f"{none_mismatch}"
    )
    if none_mismatch or not math.isfinite(max_abs) or max_abs > 1e-9:
        sys.exit("vectorised and reference scores disagree")


if __name__ == "__main__":
    main()
