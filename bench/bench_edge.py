"""On-device models: ONNX size and single-prediction latency of the edge scorer (numpy +
onnxruntime) beside the server scikit-learn pipeline, measured in the same run, plus the
largest probability difference between the two on a batch.

    .venv/bin/python bench/bench_edge.py                       # models trained on a synthetic table
    .venv/bin/python bench/bench_edge.py --research res.parquet   # on a load_region() table
    .venv/bin/python bench/bench_edge.py --quick               # smoke run

Targets (issue 5 §4): model < 1 MB, single prediction < 1 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "edge"))

from axhub.clinical.external import train_pima  # noqa: E402
from axhub.clinical.models import SPECS, design_matrix, prepare, train  # noqa: E402
from axhub.clinical.onnx_export import to_onnx  # noqa: E402
from axhub.edge.scorer import EdgeScorer  # noqa: E402


def latency_us(fn, row: np.ndarray, repeats: int) -> tuple[float, float]:
    for _ in range(20):
        fn(row)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn(row)
        times.append((time.perf_counter_ns() - t0) / 1000.0)
    times.sort()
    return statistics.median(times), times[int(0.99 * (len(times) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--research", type=Path, help="Parquet from axhub.clinical.research")
    ap.add_argument("--repeats", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.batch = 500, 10_000
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    if args.research:
        table = pq.read_table(args.research)
        models = ["t2d_5y", "stroke_5y", "ckd_kf_5y"]
    else:
        from test_edge_scorer import population  # the test's synthetic table

        table = population(20_000)
        models = ["stroke_5y"]
    results = []
    for model_id in models:
        r = train(table, SPECS[model_id], seed=1, n_boot=10)
        x, _ = design_matrix(prepare(table), SPECS[model_id].features)
        results.append((model_id, r, x))
    pima = train_pima(1, n_boot=10)
    from axhub.clinical.external import pima_table

    pt, _ = pima_table()
    results.append(("pima_diabetes", pima, design_matrix(prepare(pt), pima.spec.features)[0]))

    print(
        f"{'model':<16} {'onnx bytes':>10} {'edge p50 µs':>12} {'edge p99 µs':>12} "
        f"{'server p50 µs':>14} {'server p99 µs':>14} {'batch max |Δp|':>15} {'edge rows/s':>12}"
    )
    for model_id, r, x in results:
        onnx = to_onnx(r.pipeline, r.features, model_id=model_id, model_hash=r.model_hash)
        scorer = EdgeScorer(onnx)
        row = x[:1].astype(np.float32)
        e50, e99 = latency_us(scorer.predict_matrix, row, args.repeats)
        s50, s99 = latency_us(r.pipeline.predict_proba, x[:1], args.repeats)
        reps = int(np.ceil(args.batch / x.shape[0]))
        big = np.tile(x, (reps, 1))[: args.batch]
        t0 = time.perf_counter()
        edge = scorer.predict_matrix(big)
        dt = time.perf_counter() - t0
        diff = float(np.max(np.abs(edge - r.pipeline.predict_proba(big)[:, 1])))
        print(
            f"{model_id:<16} {len(onnx):>10,} {e50:>12.1f} {e99:>12.1f} {s50:>14.1f} "
            f"{s99:>14.1f} {diff:>15.2e} {big.shape[0] / dt:>12,.0f}"
        )
    print("targets: ONNX < 1,000,000 bytes; single prediction < 1,000 µs")


if __name__ == "__main__":
    main()
