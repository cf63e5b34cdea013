"""The SQL-on-FHIR v2 conformance suite (22 files, 144 tests), one pytest case each, on DuckDB."""

from __future__ import annotations

import pytest

from axhub.engine.duckdb import DuckDBEngine
from axhub.views.conformance import SuiteFile, SuiteTest, load_suite, run_test

SUITE = load_suite()
CASES = [(f, t) for f in SUITE for t in f.tests]


def test_suite_is_complete() -> None:
    assert len(SUITE) == 22
    assert len(CASES) == 144


@pytest.mark.parametrize(
    ("suite_file", "test"), CASES, ids=[f"{f.name}::{t.title}" for f, t in CASES]
)
def test_conformance(duck: DuckDBEngine, suite_file: SuiteFile, test: SuiteTest) -> None:
    duck.register_resources("sof_resources", suite_file.resource_table())
    outcome = run_test(duck, test, "sof_resources")
    assert outcome.passed, outcome.error
