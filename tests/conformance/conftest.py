"""Fixtures for the conformance suite: one DuckDB engine per module, one Spark session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from axhub.engine.duckdb import DuckDBEngine


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[object]:
    """The one local SparkSession of the test run (getOrCreate shares it across areas)."""
    from axhub.engine.spark import SparkEngine

    yield SparkEngine(master="local[2]", conf={"spark.sql.shuffle.partitions": "2"})


@pytest.fixture(scope="module")
def duck() -> DuckDBEngine:
    return DuckDBEngine()
