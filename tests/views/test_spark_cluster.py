"""A real 2-worker Spark cluster (standalone master + two worker JVMs on loopback) gives the
same tables as DuckDB for every bundled view (bench/spark_cluster.py, small region)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.spark
@pytest.mark.slow
def test_two_worker_cluster_gives_duckdb_tables(tmp_path: Path) -> None:
    out = tmp_path / "cluster.json"
    # its own process: one SparkContext per JVM, and the suite's local session is another
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "spark_cluster.py"), "--people", "60",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.is_file(), proc.stderr[-2000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    views = result["views"]
    assert set(views) >= {"patient_demographics", "observations", "conditions"}
    for name, v in views.items():
        assert v["rows_duckdb"] > 0, name
        assert v["identical"], f"{name}: {v}"
    # two executors, each ran part of the work
    assert len(result["tasks_per_executor"]) == 2
    assert all(n > 0 for n in result["tasks_per_executor"].values())
    assert proc.returncode == 0
