"""Medication-safety benchmark: accuracy (cold start, controls) and speed (one person, population).

Usage::

    .venv/bin/python bench/bench_medsafety.py            # full: 100k people
    .venv/bin/python bench/bench_medsafety.py --quick    # smoke: 10k people

Prints, in one run:
* cold-start recovery of cited interactions by severity, severity agreement, control alerts,
  precision on labelled pairs, predictions on unlabelled pairs;
* the time to check a 10-drug regimen against the full food list (target < 5 ms), next to
  the same check done pair by pair in pure Python (the peer reference measured in this run);
* the time of one vectorised ``check_population`` pass over N synthetic older people on
  >= 5 medicines, next to the per-person ``check()`` loop measured on a sample and scaled.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import pyarrow as pa

from axhub.medsafety import check, check_population, default_knowledge, summarise
from axhub.medsafety.evaluation import evaluate
from axhub.medsafety.inference import tables_for
from axhub.medsafety.vocabulary import vocabulary_for

REGIMEN_10 = [
    "amlodipine",
    "losartan",
    "metformin",
    "glimepiride",
    "atorvastatin",
    "warfarin",
    "digoxin",
    "furosemide",
    "zolpidem",
    "omeprazole",
]


def _median_ms(fn, reps: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _population(n: int, seed: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    """N people aged 65-95 on 5-12 medicines (common chronic drugs more likely), 0-5 foods."""
    kb = default_knowledge()
    rng = np.random.default_rng(seed)
    names = np.array([d.name_ko if i % 2 else d.drug_id for i, d in enumerate(kb.drugs)])
    weights = np.ones(len(names))
    for common in (
        "amlodipine",
        "losartan",
        "metformin",
        "atorvastatin",
        "rosuvastatin",
        "aspirin",
        "clopidogrel",
        "glimepiride",
        "omeprazole",
        "acetaminophen",
        "warfarin",
        "apixaban",
        "zolpidem",
        "alprazolam",
        "tramadol",
        "furosemide",
    ):
        weights[kb.drug_index[common]] = 12.0
    weights /= weights.sum()
    k = rng.integers(5, 13, n)
    person = np.repeat(np.arange(n), k)
    drug = rng.choice(len(names), size=int(k.sum()), p=weights)
    foods = np.array([f.name_ko for f in kb.foods])
    m = rng.integers(0, 6, n)
    fperson = np.repeat(np.arange(n), m)
    food = rng.integers(0, len(foods), int(m.sum()))
    pid = pa.array(np.char.add("p", np.arange(n).astype(str)))
    return (
        pa.table({"person_id": pid.take(pa.array(person)), "drug": names[drug]}),
        pa.table({"person_id": pid.take(pa.array(fperson)), "food": foods[food]}),
        pa.table({"person_id": pid, "age": rng.integers(65, 96, n)}),
    )


def _pairwise_python(kb, drugs: list[str], foods: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Peer reference: the same lookups one pair at a time in plain Python (no NumPy)."""
    vocab = vocabulary_for(kb)
    t = tables_for(kb)
    fsev, dsev = t.food_sev.tolist(), t.dd_sev.tolist()
    di = [vocab.resolve(x, "drug").index for x in drugs]
    fi = [vocab.resolve(x, "food").index for x in foods]
    hits = 0
    for a in di:
        for f in fi:
            hits += fsev[a][f] > 0  # type: ignore[index]
        for b in di:
            hits += a < b and dsev[a][b] > 0  # type: ignore[operator,index]
    return hits


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smoke run (10k people, fewer repeats)")
    ap.add_argument("--people", type=int, default=None, help="population size (default 100k)")
    ap.add_argument("--seed", type=int, default=20261126)
    args = ap.parse_args()
    n = args.people or (10_000 if args.quick else 100_000)
    reps = 20 if args.quick else 200

    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}"
    )
    t0 = time.perf_counter()
    kb = default_knowledge()
    tables_for(kb)
    load_ms = (time.perf_counter() - t0) * 1000
    print(
        f"load + validate + vectorised prediction of all pairs: {load_ms:.0f} ms "
        f"({len(kb.drugs)} drugs x {len(kb.foods)} foods; {len(kb.drugs) ** 2} drug pairs)"
    )

    report = evaluate(kb).as_dict()
    print("\n== accuracy (cold start: each drug's cited rows removed in turn) ==")
    print(
        json.dumps(
            {
                k: report[k]
                for k in (
                    "recall_major_or_contraindicated",
                    "recall_by_known_severity",
                    "recall_by_kind",
                    "severity_agreement",
                    "precision_by_predicted_severity",
                    "controls",
                    "unlabelled_predictions",
                )
            },
            ensure_ascii=False,
        )
    )
    print(f"missed major/contraindicated: {report['missed_major']}")

    foods = [f.name_ko for f in kb.foods]
    check(REGIMEN_10, foods, 78)  # warm caches
    ms = _median_ms(lambda: check(REGIMEN_10, foods, 78), reps)
    peer = _median_ms(lambda: _pairwise_python(kb, REGIMEN_10, foods), reps)
    print("\n== one person ==")
    print(
        f"check(10 drugs, all {len(foods)} foods, age 78): median {ms:.2f} ms (target < 5 ms); "
        f"peer: same pairs one by one in plain Python {peer:.2f} ms"
    )

    reg, diet, ages = _population(n, args.seed)
    check_population(reg.slice(0, 1000), diet.slice(0, 500), ages.slice(0, 1000))  # warm
    t0 = time.perf_counter()
    out = check_population(reg, diet, ages)
    pop_s = time.perf_counter() - t0
    sample = 300 if args.quick else 1000
    drugs_of: dict[str, list[str]] = {}
    for p, d in zip(reg["person_id"].to_pylist(), reg["drug"].to_pylist(), strict=True):
        drugs_of.setdefault(p, []).append(d)
    foods_of: dict[str, list[str]] = {}
    for p, f in zip(diet["person_id"].to_pylist(), diet["food"].to_pylist(), strict=True):
        foods_of.setdefault(p, []).append(f)
    people = ages["person_id"].to_pylist()[:sample]
    age_list = ages["age"].to_pylist()[:sample]
    t0 = time.perf_counter()
    for p, a in zip(people, age_list, strict=True):
        check(drugs_of.get(p, []), foods_of.get(p, []), a)
    loop_s = (time.perf_counter() - t0) / sample * n
    print(
        f"\n== population: {n:,} people aged 65+, {reg.num_rows:,} medication rows, "
        f"{diet.num_rows:,} diet rows =="
    )
    print(
        f"check_population, one vectorised pass: {pop_s:.2f} s ({n / pop_s:,.0f} people/s), "
        f"{out.num_rows:,} findings; peer: per-person check() loop on {sample} people, "
        f"scaled to {n:,}: {loop_s:.1f} s"
    )
    print("\nmost common major/contraindicated findings:")
    for r in summarise(out, min_rank=3, top=8).to_pylist():
        print(
            f"  {r['people']:>6} people  {r['severity']:<15} {r['drug']} + {r['other']} "
            f"({r['kind']}, {r['evidence']}, {r['mechanism']})"
        )
    print("\nnote: timings on a shared 2-core machine are noisy; compare figures within one run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
