"""Benchmark the federation: time and bytes per federated query and per training round.

Builds a synthetic region, prepares four site nodes (ingest, de-identify, register a project),
runs each as its own `axhub node serve` process on loopback and measures, in one run:
  * each query kind through the coordinator (HTTP fan-out to four sites, governed release at
    each), next to the same release computed in-process at one site through GovernedStore
    (the cost without the network and the node) and next to the bytes of person-level rows a
    pooled analysis would have moved (the integrated zone's resources of those types);
  * training rounds (FedAvg, FedProx) in the nodes' own HTTP rounds and in **Flower's deployment
    runtime** (a SuperLink and one SuperNode per site, `axhub coordinator superlink` /
    `axhub node supernode`): seconds and payload bytes per round;
  * AUROC of FedAvg, FedProx, centralised training on pooled data and each site alone (on the
    sites' governed rows, scored on the pooled held-out rows).

    .venv/bin/python bench/bench_federation.py [--people N] [--rounds R] [--quick] [--no-http]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from axhub.clinical.training import project_scope
from axhub.config import Settings
from axhub.federation import flower
from axhub.federation.coordinator import Coordinator, Site, new_query_id
from axhub.federation.node import NodeStore
from axhub.federation.spec import Cohort, QuerySpec
from axhub.federation.training import (
    LocalData,
    comparison,
    harness_site_data,
    import_site_research,
)
from axhub.governance.access import GovernedStore
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.purposes import Purpose
from axhub.governance.stewardship import StewardStore
from axhub.ingest import ingest
from axhub.synth import generate

SITES = ("knuh", "hallym", "phc", "clinics")
PROJECT, RESEARCHER = "bench-fed", "r-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(region: Path, site: str, data_dir: Path) -> str:
    s = Settings(data_dir=data_dir)
    ingest(region / "sites" / site, site=site, settings=s)
    steward = StewardStore(s)
    op = Principal("op-bench", Role.OPERATOR)
    steward.deidentify(op)
    steward.register_project(
        op,
        Project(
            PROJECT,
            "DRB-BENCH",
            frozenset({Purpose.RESEARCH, Purpose.AI_TRAINING}),
            project_scope(),
            dt.datetime(2099, 12, 31, tzinfo=dt.UTC),
            epsilon_budget=100.0,
        ),
    )
    import_site_research(s, region, site, op)
    return NodeStore(data_dir).issue_token("coordinator")


def person_level_bytes(data_dir: Path, types: list[str]) -> int:
    """Bytes of the governed person-level rows a pooled analysis would have moved."""
    me = Principal("r-bench", Role.RESEARCHER, project_id=PROJECT)
    table = GovernedStore(Settings(data_dir=data_dir)).read(me, "research", types)
    return int(table.nbytes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each query kind")
    ap.add_argument("--quick", action="store_true", help="smoke run on 800 people, 3 rounds")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP-round training")
    args = ap.parse_args()
    people = 800 if args.quick else args.people
    rounds = 3 if args.quick else args.rounds
    repeat = 2 if args.quick else args.repeat
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        generate(people, 11, root / "region")
        sites = []
        for site in SITES:
            token = prepare(root / "region", site, root / site)
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", "from axhub.cli.main import app; app()", "node",
                     "serve", "--site", site, "--data-dir", str(root / site), "--port",
                     str(port)],
                    stdout=subprocess.DEVNULL,
                    env={**os.environ, "AXHUB_LOG_LEVEL": "WARNING"},
                )
            )  # fmt: skip
            sites.append(Site(site, f"http://127.0.0.1:{port}", token))
        for s in sites:
            for _ in range(300):
                try:
                    if httpx.get(s.url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
        print(f"setup: {people:,} people, 4 nodes up in {time.perf_counter() - t0:.1f} s")
        records = pq.read_table(root / "region" / "ground_truth" / "site_records.parquet")
        print("site records:", {s: records.column("site").to_pylist().count(s) for s in SITES})
        coord = Coordinator(sites, timeout=120)
        try:
            queries = {
                "count (hypertension, 40+)": dict(
                    kind="count", cohort=Cohort(conditions=("hypertension",), age_min=40)
                ),
                "count DP eps=0.5": dict(kind="count", epsilon=0.5),
                "district indicator (diabetes)": dict(
                    kind="district", cohort=Cohort(conditions=("diabetes",))
                ),
                "mean SBP (8480-6)": dict(kind="mean", measure="8480-6"),
                "quantiles SBP, 16 bins": dict(
                    kind="quantile",
                    measure="8480-6",
                    bins=tuple(float(x) for x in range(70, 231, 10)),
                ),
            }
            pooled = sum(
                person_level_bytes(root / s, ["Patient", "Condition", "Observation"]) for s in SITES
            )
            print(
                f"\nper federated query ({repeat} runs; median) vs in-process release at one "
                f"site; person-level rows a pooled analysis would move: {pooled:,} bytes"
            )
            print(f"{'query':32} {'federated s':>12} {'in-process s':>13} {'bytes in':>9}")
            gov = GovernedStore(Settings(data_dir=root / "clinics"))
            from axhub.federation.node import Node, NodeConfig

            local = Node(Settings(data_dir=root / "clinics"), NodeConfig("clinics"))
            local.store = gov
            results = {}
            for name, kw in queries.items():
                times, sizes = [], []
                for _ in range(repeat):
                    spec = QuerySpec(new_query_id(), PROJECT, RESEARCHER, **kw)  # type: ignore[arg-type]
                    t = time.perf_counter()
                    r = coord.submit(spec)
                    times.append(time.perf_counter() - t)
                    sizes.append(sum(r.bytes_received.values()))
                    results[name] = r
                spec = QuerySpec(new_query_id(), PROJECT, RESEARCHER, **kw)  # type: ignore[arg-type]
                t = time.perf_counter()
                try:
                    local.run(spec)
                except Exception as exc:  # a refusal still costs the same work
                    print(f"  (in-process run refused: {exc})")
                t_local = time.perf_counter() - t
                print(
                    f"{name:32} {statistics.median(times):12.3f} {t_local:13.3f} "
                    f"{statistics.median(sizes):9,.0f}"
                )
            print("\ncombined answers:")
            for name, r in results.items():
                print(f"  {name}: {json.dumps(r.combined, ensure_ascii=False)[:160]}")
                if r.partial:
                    print(f"    partial: refused {r.refused} unreachable {r.unreachable}")

            parts = harness_site_data(
                {site: root / site for site in SITES},
                "t2d_5y",
                project_id=PROJECT,
                researcher_id="r-harness",
                seed=Settings().seed,
            )
            if not args.no_http:
                t = time.perf_counter()
                out = comparison(
                    parts, coord, "t2d_5y", rounds=rounds, epochs=20,
                    project_id=PROJECT, researcher_id=RESEARCHER,
                )  # fmt: skip
                took = time.perf_counter() - t
                print(f"\nHTTP rounds: t2d_5y ({rounds} rounds x 20 local steps), {took:.1f} s")
                report(out, scaling_in_rounds=True)
            t = time.perf_counter()
            out = bench_flower(root, parts, rounds)
            print(f"\nFlower deployment runtime: t2d_5y ({rounds} rounds x 20 local steps each for "
                  f"FedAvg and FedProx, one run), {time.perf_counter() - t:.1f} s with start-up; "
                  f"run {out['wall_seconds']:.1f} s")  # fmt: skip
            report(out, scaling_in_rounds=False)
        finally:
            for p in procs:
                p.terminate()
                p.wait()


def report(out: dict[str, Any], *, scaling_in_rounds: bool) -> None:
    for method in ("fedavg", "fedprox"):
        rs = out[method]["rounds"]
        scaling = rs[0] if scaling_in_rounds else out["scaling"]
        fit = [r for r in rs if r["round"] > 0]
        secs = [r["seconds"] for r in fit]
        print(
            f"  {method}: scaling round {scaling['seconds']:.3f} s "
            f"({scaling['bytes_received']:,} B received); per fit round median "
            f"{statistics.median(secs):.3f} s (min {min(secs):.3f}, max {max(secs):.3f}), "
            f"{statistics.median(r['bytes_sent'] for r in fit):,.0f} B sent, "
            f"{statistics.median(r['bytes_received'] for r in fit):,.0f} B received; "
            f"sites per round {[len(r['sites']) for r in fit]}"
        )
    print(f"  AUROC on {out['test_n']} held-out rows ({out['test_events']} events):")
    for method in ("fedavg", "fedprox", "centralised"):
        print(f"    {method:12} {out[method]['auroc']}")
    for site, v in out["site_alone"].items():
        print(
            f"    {site + ' alone':12} {v['auroc']}  "
            f"(train {v['train_n']}, {v['train_events']} events)"
        )


def bench_flower(root: Path, parts: dict[str, LocalData], rounds: int) -> dict[str, Any]:
    """A SuperLink and one SuperNode per site (through the axhub commands), one Flower run."""
    port = free_port()
    cli = [sys.executable, "-c", "from axhub.cli.main import app; app()"]
    procs = []
    try:
        for name, args in [("superlink", ["coordinator", "superlink", "--port", str(port)])] + [
            (site, ["node", "supernode", "--site", site, "--data-dir", str(root / site),
                    "--superlink", f"127.0.0.1:{port}", "--port", str(free_port())])
            for site in SITES
        ]:  # fmt: skip
            home = root / "flwr" / name
            home.mkdir(parents=True)
            procs.append(
                subprocess.Popen(
                    cli + args,
                    stdout=(root / f"{name}.flower.log").open("wb"),
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "FLWR_HOME": str(home)},
                    start_new_session=True,
                )
            )
        return flower.flower_comparison(
            parts,
            f"127.0.0.1:{port}",
            "t2d_5y",
            project_id=PROJECT,
            researcher_id=RESEARCHER,
            rounds=rounds,
            epochs=20,
            expected_nodes=len(SITES),
            round_timeout=120.0,
        )
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)  # Flower's processes ignore SIGTERM
            p.wait()


if __name__ == "__main__":
    main()
