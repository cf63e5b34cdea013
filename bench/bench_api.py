"""API load bench: p50/p99 latency of the worklist and the patient summary, 50 clients.

Issue 8 §5: 50 concurrent clients on loopback for 60 s. The server is ``axhub serve`` (one
uvicorn process) on a synthetic region (synth -> ingest -> de-identify -> demo seed); the
clients are one asyncio process with 50 keep-alive connections, each looping over its
request. Printed beside the figures, measured in the same run with the same clients: the
``/healthz`` floor (framework + loopback, no data) — the physical reference of this machine.

    .venv/bin/python bench/bench_api.py              # 60 s per endpoint, 2,000 people
    .venv/bin/python bench/bench_api.py --quick      # 5 s per endpoint, 500 people
    .venv/bin/python bench/bench_api.py --data-dir D # an existing data folder (seeds it)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np


def build_region(root: Path, people: int, seed: int) -> Path:
    import pyarrow.parquet as pq

    from axhub.config import Settings
    from axhub.governance.principals import Principal, Role
    from axhub.governance.stewardship import StewardStore
    from axhub.ingest import ingest
    from axhub.synth import generate

    out = root / "region"
    generate(people, seed, out)
    settings = Settings(data_dir=root / "data", seed=seed)
    for site in sorted(p for p in (out / "sites").iterdir() if p.is_dir()):
        ingest(site, site=site.name, settings=settings)
    mapping = pq.read_table(out / "ground_truth" / "site_records.parquet")
    StewardStore(settings).deidentify(
        Principal("bench-op", Role.OPERATOR), mapping.select(["site", "patient_id", "person_id"])
    )
    return settings.data_dir


async def load(url: str, headers: dict[str, str], clients: int, seconds: float) -> np.ndarray:
    """Latencies (ms) of every request completed by ``clients`` loops within ``seconds``."""
    lat: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        end = time.perf_counter() + seconds

        async def one() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                r = await client.get(url)
                if r.status_code != 200:
                    errors += 1
                lat.append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(one() for _ in range(clients)))
    if errors:
        print(f"  !! {errors} non-200 responses from {url}")
    return np.array(lat)


def row(name: str, lat: np.ndarray, seconds: float) -> str:
    p50, p99 = np.percentile(lat, [50, 99]) if len(lat) else (float("nan"), float("nan"))
    return f"{name:<28} {len(lat):>8,} {len(lat) / seconds:>8.1f} {p50:>9.1f} {p99:>9.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="5 s per endpoint, 500 people")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--people", type=int, default=None)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 60.0)
    people = args.people or (500 if args.quick else 2000)

    from axhub.api.seed import seed_demo
    from axhub.config import Settings

    tmp = Path(tempfile.mkdtemp(prefix="axhub-bench-api-"))
    try:
        t0 = time.perf_counter()
        data_dir = args.data_dir or build_region(tmp, people, 20261126)
        settings = Settings(data_dir=data_dir)
        report = seed_demo(settings)
        print(f"region ready in {time.perf_counter() - t0:.1f} s "
              f"({'given' if args.data_dir else f'{people:,} people'})")  # fmt: skip
        port = args.port
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        env = dict(os.environ, AXHUB_DATA_DIR=str(data_dir), AXHUB_LOG_LEVEL="ERROR")
        server = subprocess.Popen(
            [sys.executable, "-c", "from axhub.cli.main import app; app()", "serve",
             "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            auth = {"Authorization": f"Bearer {report.tokens['care-manager']}"}
            pid = report.enrolled["north-1"][0]
            runs = [
                ("/healthz (floor)", f"{base}/healthz", {}),
                ("worklist", f"{base}/api/v1/care/worklist", auth),
                ("patient summary", f"{base}/api/v1/persons/{pid}/summary", auth),
            ]
            print(f"\n{args.clients} clients, {seconds:g} s each, loopback, one uvicorn process; "
                  f"{os.cpu_count()} cores, {platform.platform()}")  # fmt: skip
            print(f"{'endpoint':<28} {'requests':>8} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9}")
            for name, url, headers in runs:
                lat = asyncio.run(load(url, headers, args.clients, seconds))
                print(row(name, lat, seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
