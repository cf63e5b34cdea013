"""Train and evaluate every chronic-disease model on a synthetic region (the big run), with the
published equations on the same held-out people, plus the same pipeline on MASS Pima.

    .venv/bin/python bench/bench_models.py --people 60000          # generate, load, train
    .venv/bin/python bench/bench_models.py --region DIR             # an existing axhub synth folder
    .venv/bin/python bench/bench_models.py --quick                  # 5,000 people smoke run
    .venv/bin/python bench/bench_models.py --quick --direct         # direct synthetic loader

The training table is read through the governance boundary (as ``axhub models train``):
ingest -> de-identify -> steward import of the research tables -> governed read under
``ai_training`` in a throw-away data folder (or --data-dir).  ``--direct`` reads the region's
files with ``load_region`` instead (the reference the governed path is tested against).

Prints held-out AUROC (95 % bootstrap CI), calibration intercept/slope, Brier, the comparator
AUROC beside the model's on the same computable people, the metabolome panel's incremental
AUROC, and the wall time of each stage.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from axhub.cli.models import governed_region
from axhub.clinical.external import train_pima
from axhub.clinical.models import SPECS, TrainResult, incremental_auroc, train
from axhub.clinical.research import load_region
from axhub.errors import InputError


def fmt(v: object) -> str:
    return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def report(r: TrainResult) -> None:
    m = r.metrics
    print(
        f"{r.spec.model_id:<20} n {m['n']:>6} events {m['events']:>5}  AUROC {m['auroc']:.3f} "
        f"({m['auroc_lo']:.3f}-{m['auroc_hi']:.3f})  cal-int {m['calibration_intercept']:+.3f} "
        f"slope {m['calibration_slope']:.3f}  Brier {m['brier']:.4f}"
    )
    for c in r.comparators:
        pub, mod = c.get("published", {}), c.get("model_same_people", {})
        print(
            f"    vs {c['score_id']:<20} computable {c['computable']:>6}/{c['of']:<6} "
            f"equation AUROC {fmt(pub.get('auroc'))}  model AUROC {fmt(mod.get('auroc'))}"
            f"  {c.get('note', '')}"
        )
    for s in r.subgroups:
        print(
            f"    {s['dimension']:<9} {s['group']:<14} n {s['n']:>6} events {s['events']:>4} "
            f"AUROC {fmt(s['auroc'])}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--region", type=Path)
    ap.add_argument("--people", type=int, default=60_000)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--bootstrap", type=int, default=500)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--direct", action="store_true", help="read the region files directly")
    ap.add_argument("--data-dir", type=Path, help="data folder for the governed path")
    args = ap.parse_args()
    if args.quick:
        args.people, args.bootstrap = 5_000, 100
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    region = args.region
    if region is None:
        from axhub.synth import generate

        region = Path(tempfile.mkdtemp(prefix="bench-models-")) / "region"
        t0 = time.perf_counter()
        generate(args.people, args.seed, region)
        print(f"generate {args.people:,} people: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    if args.direct:
        data = load_region(region)
        how = "direct (views + features + outcomes from the region files)"
    else:
        from axhub.config import Settings

        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-models-data-"))
        settings = Settings(data_dir=data_dir, seed=args.seed)
        data = governed_region(region, settings, echo=True)
        how = "governed (ingest + de-identify + import + governed read)"
    print(f"load {how}: {time.perf_counter() - t0:.1f} s, {data.table.num_rows:,} persons")
    if not args.direct:
        t0 = time.perf_counter()
        ref = load_region(region).table
        print(
            f"    reference, direct load_region in the same run: {time.perf_counter() - t0:.1f} s, "
            f"{ref.num_rows:,} persons, {sum(ref['outcome_diabetes'].to_pylist())} diabetes "
            f"outcomes (governed: {sum(data.table['outcome_diabetes'].to_pylist())})"
        )
    for model_id in ("t2d_5y", "ckd_kf_5y", "stroke_5y"):
        t0 = time.perf_counter()
        try:
            r = train(data.table, SPECS[model_id], seed=args.seed, n_boot=args.bootstrap)
        except InputError as exc:
            print(f"{model_id:<20} not trained: {exc}")
            continue
        report(r)
        print(f"    train + evaluate: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    try:
        aug, _, delta = incremental_auroc(data.table, seed=args.seed, n_boot=args.bootstrap)
        report(aug)
        print(
            f"    incremental AUROC ({delta['method']}; n {delta['n']}, events {delta['events']}): "
            f"metabolome {delta['auroc_metabolome']:.3f} vs clinical {delta['auroc_clinical']:.3f}"
            f", Δ {delta['delta_auroc']:+.3f} "
            f"({delta['delta_lo']:+.3f} to {delta['delta_hi']:+.3f})"
        )
    except InputError as exc:
        print(f"t2d_5y_metabolome    not trained: {exc}")
    print(f"    {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    report(train_pima(args.seed, n_boot=args.bootstrap))
    print(f"    {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
