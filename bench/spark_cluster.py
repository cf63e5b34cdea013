"""The bundled views on a real 2-worker Spark cluster, compared with DuckDB row for row.

    .venv/bin/python bench/spark_cluster.py                     # 400 people, standalone
    .venv/bin/python bench/spark_cluster.py --people 2000 --json out.json

Starts a Spark standalone master and two workers (one core, 1 GB each) on 127.0.0.1 with the
``spark-class`` launcher that the PyPI ``pyspark`` wheel ships, so every executor is its own
JVM and every view is split over the two of them. A synthetic region is ingested into a raw
zone, DuckDB runs each bundled view on it, Spark runs the same view on the Parquet export
through the cluster, and the two tables must hold the same rows (exact values, any order).
The master and workers are stopped at the end (by their process ids).

Exit status 0 only if every view is identical and both workers ran tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _wait(what: str, ok: Any, timeout: float, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{what}: a cluster process exited with {p.returncode}")
        try:
            if ok():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f}s")


def _alive_workers(ui_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as r:
        state = json.load(r)
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


@contextmanager
def standalone_cluster(
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    log_dir: Path | None = None,
    max_seconds: int = 1800,
) -> Iterator[str]:
    """A standalone master and ``workers`` workers on loopback; yields the master URL.

    Each daemon runs under ``timeout max_seconds``, so it ends even if this process is
    killed before it can stop them."""
    home = _spark_home()
    spark_class = str(home / "bin" / "spark-class")
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_NO_DAEMONIZE": "1",
    }
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="spark-cluster-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    port, ui = _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, args: list[str]) -> None:
        out = (log_dir / f"{name}.log").open("wb")
        procs.append(
            subprocess.Popen(
                ["timeout", str(max_seconds), spark_class, *args], env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip

    try:
        master = "org.apache.spark.deploy.master.Master"
        start("master", [master, "--host", "127.0.0.1", "--port", str(port),
                         "--webui-port", str(ui)])  # fmt: skip
        _wait("master", lambda: _alive_workers(ui) >= 0, 120, procs)
        for i in range(workers):
            work_dir = log_dir / f"worker{i + 1}"
            start(f"worker{i + 1}", [
                "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                "--cores", str(cores), "--memory", memory, "--webui-port", str(_free_port()),
                "--work-dir", str(work_dir), url,
            ])  # fmt: skip
        _wait(f"{workers} workers", lambda: _alive_workers(ui) == workers, 120, procs)
        yield url
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def build_region(root: Path, people: int, seed: int) -> Any:
    """A synthetic region ingested into a raw zone; returns its Settings."""
    from axhub.config import Settings
    from axhub.ingest import ingest
    from axhub.synth import generate

    generate(people, seed, root / "synth")
    settings = Settings(data_dir=root / "data")
    for site_dir in sorted((root / "synth" / "sites").iterdir()):
        ingest(site_dir, site=site_dir.name, settings=settings)
    return settings


def _exact_key(row: dict[str, Any]) -> str:
    return repr(sorted(row.items()))


def compare_views(settings: Any, master: str, executors: int) -> dict[str, Any]:
    """Every bundled view on DuckDB and on the Spark cluster at ``master``."""
    from axhub.engine.duckdb import DuckDBEngine
    from axhub.engine.spark import SparkEngine
    from axhub.views import library
    from axhub.views.run import raw_zone, spark_export

    export = spark_export(settings)
    duck = DuckDBEngine(raw_zone(settings), read_only=True)
    resources = int(duck.con.execute("SELECT count(*) FROM resources").fetchall()[0][0])
    conf = {
        "spark.executor.cores": "1",
        "spark.executor.memory": "768m",
        "spark.cores.max": str(executors),
    }
    started = time.perf_counter()
    spark = SparkEngine(master=master, conf=conf, app_name="axhub-cluster-parity")
    sc = spark.spark.sparkContext
    _wait(
        f"{executors} executors",
        lambda: sc._jsc.sc().getExecutorMemoryStatus().size() - 1 >= executors,  # minus driver
        120,
        [],
    )
    session_s = time.perf_counter() - started
    # spread the resources over twice as many partitions as executors, so every view's
    # rows are computed on both executors (a small region is one file per resource type)
    frame = spark.spark.read.parquet(str(export)).repartition(2 * executors)
    frame.createOrReplaceTempView("resources")
    views: dict[str, Any] = {}
    for name in library.names():
        vd = library.load(name)
        a = duck.run_view(vd)
        t0 = time.perf_counter()
        b = spark.run_view(vd, "resources")
        same = a.column_names == b.column_names and Counter(
            map(_exact_key, a.to_pylist())
        ) == Counter(map(_exact_key, b.to_pylist()))
        views[name] = {
            "rows_duckdb": a.num_rows,
            "rows_spark": b.num_rows,
            "identical": same,
            "spark_seconds": round(time.perf_counter() - t0, 2),
        }
    tasks = _tasks_per_executor(spark.spark)
    spark.spark.stop()
    duck.close()
    return {
        "master": master,
        "resources": resources,
        "session_seconds": round(session_s, 1),
        "executors": len(tasks),
        "tasks_per_executor": tasks,
        "views": views,
    }


def _tasks_per_executor(session: Any) -> dict[str, int]:
    """Completed tasks per executor id, from the driver's status store."""
    store = session.sparkContext._jsc.sc().statusStore()
    summaries = store.executorList(True)
    out: dict[str, int] = {}
    for i in range(summaries.size()):
        e = summaries.apply(i)
        if e.id() != "driver":
            out[str(e.id())] = int(e.completedTasks())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=400)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the result here")
    args = ap.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="axhub-cluster-") as tmp:
        root = Path(tmp)
        settings = build_region(root, args.people, args.seed)
        with standalone_cluster(args.workers, log_dir=root / "cluster") as url:
            result = compare_views(settings, url, args.workers)
    result["people"] = args.people
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load"] = os.getloadavg()
    for name, v in result["views"].items():
        flag = "identical" if v["identical"] else "DIFFERENT"
        print(
            f"{name:22s} duckdb {v['rows_duckdb']:>7,} rows  spark cluster {v['rows_spark']:>7,}"
            f" rows  {flag}  ({v['spark_seconds']:.1f}s)"
        )
    print(
        f"{result['resources']:,} resources; cluster {result['master']}: "
        f"{result['executors']} executors, tasks per executor "
        f"{result['tasks_per_executor']}; total {result['seconds']}s, load {result['load']}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    ok = all(v["identical"] for v in result["views"].values())
    ok = ok and len(result["tasks_per_executor"]) == args.workers
    ok = ok and all(n > 0 for n in result["tasks_per_executor"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
