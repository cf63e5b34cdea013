"""Validation before any SQL runs: invalid views name the JSON path and the reason."""

from __future__ import annotations

from typing import Any

import pytest

from axhub.engine.duckdb import DuckDBEngine
from axhub.errors import EngineError, UnsupportedFeature, ViewDefinitionError
from axhub.views.compiler import compile_view
from axhub.views.conformance import resources_table
from axhub.views.model import ViewDefinition


def _view(**select: Any) -> dict[str, Any]:
    return {"resource": "Patient", "select": [select]}


ID = {"name": "id", "path": "id", "type": "id"}


@pytest.mark.parametrize(
    ("view", "field", "reason"),
    [
        ({"select": [{"column": [ID]}]}, "resource", "required"),
        ({"resource": "Patient"}, "select", "at least one select"),
        (_view(forEach=1, column=[ID]), "select[0].forEach", "must be a FHIRPath string"),
        (
            _view(forEach="name", forEachOrNull="name", column=[ID]),
            "select[0]",
            "cannot be combined",
        ),
        (_view(column=[{"name": "1x", "path": "id"}]), "select[0].column[0].name", "must match"),
        (_view(column=[ID, ID]), "select[0].column[1]", "duplicate column name"),
        (
            _view(column=[{"name": "a", "path": "id", "type": "nope"}]),
            "select[0].column[0].type",
            "unsupported column type",
        ),
        (
            _view(unionAll=[{"column": [dict(ID, name="a")]}, {"column": [dict(ID, name="b")]}]),
            "select[0].unionAll[1]",
            "same columns in the same order",
        ),
        ({**_view(column=[ID]), "constant": [{"name": "c"}]}, "constant[0]", "exactly one value"),
        (
            {**_view(column=[ID]), "where": [{"path": "name.("}]},
            "where[0].path",
            "invalid FHIRPath",
        ),
    ],
)
def test_invalid_view_names_path_and_reason(view: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(ViewDefinitionError) as err:
        ViewDefinition.parse(view)
    assert err.value.field == field
    assert reason in str(err.value)


def test_syntax_error_names_the_offset() -> None:
    with pytest.raises(ViewDefinitionError) as err:
        ViewDefinition.parse(_view(column=[{"name": "a", "path": "name.given @@"}]))
    assert err.value.fields["position"] == 11
    assert err.value.field == "select[0].column[0].path"


def test_unsupported_function_names_itself_and_position() -> None:
    vd = ViewDefinition.parse(_view(column=[{"name": "a", "path": "name.given.aggregate($this)"}]))
    with pytest.raises(UnsupportedFeature) as err:
        compile_view(vd, DuckDBEngine.dialect, "t")
    assert "aggregate()" in str(err.value)
    assert err.value.fields["position"] == 11
    assert err.value.field == "select[0].column[0].path"


def test_undefined_constant_is_rejected_before_sql() -> None:
    vd = ViewDefinition.parse(_view(column=[{"name": "a", "path": "name.where(use = %nope)"}]))
    with pytest.raises(ViewDefinitionError, match="undefined constant %nope"):
        compile_view(vd, DuckDBEngine.dialect, "t")


def test_many_values_in_a_non_collection_column_fail_with_the_sql() -> None:
    engine = DuckDBEngine()
    engine.register_resources(
        "r",
        resources_table([{"resourceType": "Patient", "id": "p", "name": [{"given": ["a", "b"]}]}]),
    )
    with pytest.raises(EngineError) as err:
        engine.run_view(_view(column=[{"name": "g", "path": "name.given"}]), "r")
    assert "more than one value" in str(err.value)
    assert err.value.sql and "SELECT" in err.value.sql


def test_resource_type_view_definition_is_accepted() -> None:
    vd = ViewDefinition.parse({"resourceType": "ViewDefinition", **_view(column=[ID])})
    assert [c.name for c in vd.columns] == ["id"]
