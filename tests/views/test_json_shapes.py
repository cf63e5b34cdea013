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
