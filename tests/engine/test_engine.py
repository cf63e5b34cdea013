"""The Engine interface: error wrapping, engine choice, outputs, no network installs."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import axhub.engine.duckdb as duckdb_module
from axhub.config import Settings
from axhub.engine import create_engine
from axhub.engine.duckdb import DuckDBEngine
from axhub.errors import EngineError, NotFoundError
from axhub.views.conformance import resources_table

VIEW = {
    "resource": "Patient",
    "select": [{"column": [{"name": "id", "path": "id", "type": "id"}]}],
}


def _engine() -> DuckDBEngine:
    eng = DuckDBEngine()
    eng.register_resources(
        "resources",
        resources_table([{"resourceType": "Patient", "id": f"p{i}"} for i in range(5)]),
    )
    return eng


def test_backend_error_is_wrapped_once_with_the_sql() -> None:
    with pytest.raises(EngineError) as err:
        _engine().query("SELECT * FROM no_such_table")
    assert err.value.sql == "SELECT * FROM no_such_table"
    assert "no_such_table" in str(err.value)


def test_unknown_engine_suggests_a_name() -> None:
    with pytest.raises(NotFoundError) as err:
        create_engine("duckbd", Settings())
    assert err.value.suggestions == ["duckdb"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_view(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"v.{fmt}"
    assert _engine().write_view(VIEW, out, fmt) == 5
    if fmt == "parquet":
        assert pq.read_table(out).column("id").to_pylist() == [f"p{i}" for i in range(5)]
    else:
        assert out.read_text().splitlines()[0] == "id"


def test_duckdb_engine_never_installs_extensions() -> None:
    source = Path(duckdb_module.__file__).read_text(encoding="utf-8")
    assert "INSTALL " not in source.upper().replace("NEVER CALLS ``INSTALL``", "")


def test_export_for_spark_is_partitioned_by_type(tmp_path: Path) -> None:
    eng = _engine()
    eng.con.execute("CREATE TABLE resources AS SELECT * FROM resources")
    assert eng.export_resources(tmp_path / "x") == 5
    assert (tmp_path / "x" / "resource_type=Patient").is_dir()
