"""Run the SQL-on-FHIR v2 conformance suite on an engine and write ``test_report.json``.

Comparison follows the reference runner: rows compared as a multiset, exact values,
arrays in order, integers and decimals compared numerically (booleans stay distinct),
``expectError`` passes iff running the view raises, ``expectColumns`` checked in order.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from axhub.engine.base import Engine
from axhub.errors import AxhubError, NotFoundError

log = logging.getLogger(__name__)

SUITE_ENV = "AXHUB_SOF_SUITE"


def default_suite_dir() -> Path:
    """The vendored suite: ``$AXHUB_SOF_SUITE`` or ``<repo>/../shared/conformance/...``."""
    import os

    env = os.environ.get(SUITE_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    return repo.parent / "shared" / "conformance" / "sql-on-fhir-v2" / "tests"


@dataclass(frozen=True)
class SuiteTest:
    file: str
    title: str
    view: Any
    expect: list[dict[str, Any]] | None
    expect_error: bool
    expect_count: int | None
    expect_columns: list[str] | None


@dataclass(frozen=True)
class SuiteFile:
    name: str
    resources: list[dict[str, Any]]
    tests: list[SuiteTest]

    def resource_table(self) -> pa.Table:
        return resources_table(self.resources)


def resources_table(resources: list[dict[str, Any]]) -> pa.Table:
    """Arrow ``(resource_type, id, resource)`` from resource dicts (resource as JSON text)."""
    return pa.table(
        {
            "resource_type": pa.array([r.get("resourceType") for r in resources], pa.string()),
            "id": pa.array([r.get("id") for r in resources], pa.string()),
            "resource": pa.array([json.dumps(r) for r in resources], pa.string()),
        }
    )


def load_suite(suite_dir: Path | None = None) -> list[SuiteFile]:
    suite_dir = suite_dir or default_suite_dir()
    files = sorted(suite_dir.glob("*.json"))
    if not files:
        raise NotFoundError(f"no SQL-on-FHIR test files in {suite_dir}", path=str(suite_dir))
    out = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        tests = [
            SuiteTest(
                file=path.name,
                title=t["title"],
                view=t["view"],
                expect=t.get("expect"),
                expect_error=bool(t.get("expectError", False)),
                expect_count=t.get("expectCount"),
                expect_columns=t.get("expectColumns"),
            )
            for t in data["tests"]
        ]
        out.append(SuiteFile(path.name, data["resources"], tests))
    return out


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return ("num", round(float(value), 9))
    if isinstance(value, list):
        return tuple(_norm(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    return str(value)


def _row_key(row: dict[str, Any]) -> str:
    return repr(sorted((k, _norm(v)) for k, v in row.items()))


def compare(test: SuiteTest, table: pa.Table) -> str | None:
    """None when ``table`` meets the test's expectation, else the reason it does not."""
    if test.expect_columns is not None and table.column_names != test.expect_columns:
        return f"columns {table.column_names} != expected {test.expect_columns}"
    rows = table.to_pylist()
    if test.expect_count is not None:
        return (
            None
            if len(rows) == test.expect_count
            else f"{len(rows)} rows, expected {test.expect_count}"
        )
    expected = test.expect or []
    got = Counter(_row_key(r) for r in rows)
    want = Counter(_row_key(r) for r in expected)
    if got == want:
        return None
    missing = list((want - got).elements())[:3]
    extra = list((got - want).elements())[:3]
    return f"{len(rows)} rows vs {len(expected)} expected; missing {missing}; unexpected {extra}"


@dataclass(frozen=True)
class Outcome:
    file: str
    title: str
    passed: bool
    error: str | None = None
    table: pa.Table | None = None


def run_file(
    engine: Engine, suite_file: SuiteFile, source: str = "sof_resources"
) -> Iterator[Outcome]:
    engine.register_resources(source, suite_file.resource_table())
    for test in suite_file.tests:
        yield run_test(engine, test, source)


def run_test(engine: Engine, test: SuiteTest, source: str) -> Outcome:
    try:
        table = engine.run_view(test.view, source)
    except AxhubError as exc:
        if test.expect_error:
            return Outcome(test.file, test.title, True)
        return Outcome(test.file, test.title, False, f"{type(exc).__name__}: {_short(exc)}")
    if test.expect_error:
        return Outcome(test.file, test.title, False, "expected an error, the view ran", table)
    reason = compare(test, table)
    return Outcome(test.file, test.title, reason is None, reason, table)


def _short(exc: AxhubError) -> str:
    return re.sub(r"\s+", " ", exc.message)[:500]


def run_suite(engine: Engine, suite_dir: Path | None = None) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for suite_file in load_suite(suite_dir):
        outcomes.extend(run_file(engine, suite_file))
    return outcomes


def report(outcomes: list[Outcome]) -> dict[str, Any]:
    """The spec's ``test_report.json`` shape: ``{file: {tests: [{name, result}]}}``."""
    out: dict[str, Any] = {}
    for o in outcomes:
        result: dict[str, Any] = {"passed": o.passed}
        if o.error:
            result["error"] = o.error
        out.setdefault(o.file, {"tests": []})["tests"].append({"name": o.title, "result": result})
    return out
