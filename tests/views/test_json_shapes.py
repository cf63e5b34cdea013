"""Awkward JSON shapes: the shortcuts of the DuckDB dialect (type tests on a node's first
character, one wildcard path for the members of an array) keep FHIRPath's answers."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from axhub.engine.duckdb import DuckDBEngine

RESOURCE = {
    "resourceType": "Observation",
    "id": "o1",
    # coding is an array, an object, a JSON null, absent
    "category": [
        {"coding": [{"code": "a"}, {"code": "b"}]},
        {"coding": {"code": "c"}},
        {"coding": None},
        {"text": "no coding"},
    ],
    # a string that starts with '[' is a string; a system array of two never equals 's'
    "code": {
        "coding": [
            {"system": "s", "code": "[not-an-array"},
            {"system": ["s", "t"], "code": "z"},
            {"system": "s", "code": None},
        ]
    },
    "note": [{"text": "[x"}, {"text": None}],
    "valueQuantity": {"value": 7.5, "unit": "mg"},
}

VIEW = {
    "resource": "Observation",
    "select": [
        {
            "column": [
                {"name": "cats", "path": "category.coding.code", "collection": True},
                {"name": "first_cat", "path": "category.coding.code.first()"},
                {"name": "n_coding", "path": "category.coding.count()", "type": "integer"},
                {"name": "s_codes", "path": "code.coding.where(system = 's').code",
                 "collection": True},
                {"name": "note", "path": "note.text"},
                {"name": "is_obs", "path": "%resource.ofType(Observation).exists()",
                 "type": "boolean"},
                {"name": "value", "path": "valueQuantity.value", "type": "decimal"},
                {"name": "null_empty", "path": "category.coding.where($this = {}).empty()",
                 "type": "boolean"},
            ]
        }
    ],
}  # fmt: skip

EXPECTED = {
    "cats": ["a", "b", "c"],
    "first_cat": "a",
    "n_coding": 3,
    "s_codes": ["[not-an-array"],
    "note": "[x",
    "is_obs": True,
    "value": 7.5,
    "null_empty": True,
}


def _table(text: str) -> pa.Table:
    return pa.table({"resource_type": ["Observation"], "id": ["o1"], "resource": [text]})


@pytest.mark.parametrize(
    "text",
    [json.dumps(RESOURCE), "  " + json.dumps(RESOURCE, indent=2)],
    ids=["minified", "indented"],
)
def test_duckdb_reads_awkward_shapes_as_fhirpath_does(text: str) -> None:
    eng = DuckDBEngine()
    eng.register_resources("r", _table(text))
    rows = eng.run_view(VIEW, "r").to_pylist()
    assert rows == [EXPECTED]


@pytest.mark.spark
def test_spark_reads_them_the_same(spark_engine: Any) -> None:
    spark_engine.register_resources("shapes", _table(json.dumps(RESOURCE)))
    rows = spark_engine.run_view(VIEW, "shapes").to_pylist()
    assert rows == [EXPECTED]


# lowBoundary/highBoundary of a decimal depend on the digits as written: 2.50 has two.
# Numbers inside strings and the same value written elsewhere must not confuse the reading.
DECIMALS = [
    {"resourceType": "Observation", "id": "d1", "valueQuantity": {"value": 2.50},
     "note": [{"text": "2.5000 and 2.5"}]},
    {"resourceType": "Observation", "id": "d2", "valueQuantity": {"value": 1.0},
     "component": [{"valueQuantity": {"value": 12.125}}]},
    {"resourceType": "Observation", "id": "d3", "valueQuantity": {"value": 7}},
]  # fmt: skip
BOUNDARY_VIEW = {
    "resource": "Observation",
    "select": [
        {
            "column": [
                {"name": "id", "path": "id"},
                {"name": "low", "path": "valueQuantity.value.lowBoundary()", "type": "decimal"},
                {"name": "high", "path": "valueQuantity.value.highBoundary()", "type": "decimal"},
            ]
        },
        {
            "forEachOrNull": "component",
            "column": [
                {"name": "c_low", "path": "valueQuantity.value.lowBoundary()", "type": "decimal"}
            ],
        },
    ],
}
BOUNDARIES = {
    "d1": (2.495, 2.505, None),
    "d2": (0.95, 1.05, 12.1245),
    "d3": (6.5, 7.5, None),
}


def _decimal_table() -> pa.Table:
    # json.dumps writes 2.5 for 2.50: the texts are written by hand
    texts = [json.dumps(r) for r in DECIMALS]
    texts[0] = texts[0].replace('"value": 2.5', '"value": 2.50')
    texts[1] = texts[1].replace('"value": 1.0,', '"value": 1.0,')
    return pa.table(
        {
            "resource_type": ["Observation"] * 3,
            "id": [r["id"] for r in DECIMALS],
            "resource": texts,
        }
    )


def _boundaries(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 6)

    return {row["id"]: (r(row["low"]), r(row["high"]), r(row["c_low"])) for row in rows}


def test_duckdb_decimal_boundaries_follow_the_written_digits() -> None:
    eng = DuckDBEngine()
    eng.register_resources("d", _decimal_table())
    assert _boundaries(eng.run_view(BOUNDARY_VIEW, "d").to_pylist()) == BOUNDARIES


@pytest.mark.spark
def test_spark_decimal_boundaries_follow_the_written_digits(spark_engine: Any) -> None:
    spark_engine.register_resources("decimals", _decimal_table())
    rows = spark_engine.run_view(BOUNDARY_VIEW, "decimals").to_pylist()
    assert _boundaries(rows) == BOUNDARIES
