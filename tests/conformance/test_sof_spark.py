"""The conformance suite on Spark, and DuckDB/Spark parity on every test of the suite."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from axhub.engine.duckdb import DuckDBEngine
from axhub.views.conformance import SuiteFile, SuiteTest, _row_key, load_suite, run_test

pytestmark = pytest.mark.spark

SUITE = load_suite()
CASES = [(f, t) for f in SUITE for t in f.tests]


def _params(with_errors: bool = True) -> list[Any]:
    out = []
    for f, t in CASES:
        if t.expect_error and not with_errors:
            continue
        out.append(pytest.param(f, t, id=f"{f.name}::{t.title}"))
    return out


_registered: dict[int, str] = {}
# Spark results of the conformance run, reused by the parity test (one Spark job per view).
_spark_tables: dict[tuple[str, str], Any] = {}


def _register(engine: Any, suite_file: SuiteFile) -> str:
    name = "sof_" + suite_file.name.removesuffix(".json")
    if _registered.get(id(engine)) != name:
        engine.register_resources(name, suite_file.resource_table())
        _registered[id(engine)] = name
    return name


@pytest.mark.parametrize(("suite_file", "test"), _params())
def test_conformance_spark(spark_engine: Any, suite_file: SuiteFile, test: SuiteTest) -> None:
    source = _register(spark_engine, suite_file)
    outcome = run_test(spark_engine, test, source)
    if outcome.table is not None:
        _spark_tables[(suite_file.name, test.title)] = outcome.table
    assert outcome.passed, outcome.error


@pytest.mark.parametrize(("suite_file", "test"), _params(with_errors=False))
def test_parity_duckdb_spark(
    spark_engine: Any, duck: DuckDBEngine, suite_file: SuiteFile, test: SuiteTest
) -> None:
    """Same view, same resources: the same columns and the same multiset of rows."""
    source = "sof_" + suite_file.name.removesuffix(".json")
    duck.register_resources(source, suite_file.resource_table())
    a = duck.run_view(test.view, source)
    b = _spark_tables.get((suite_file.name, test.title))
    if b is None:
        b = spark_engine.run_view(test.view, _register(spark_engine, suite_file))
    assert a.column_names == b.column_names
    assert Counter(map(_row_key, a.to_pylist())) == Counter(map(_row_key, b.to_pylist()))
