"""The bundled hub views on a small synthetic region, and their parity on DuckDB and Spark."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pyarrow.compute as pc
import pytest

from axhub.config import Settings
from axhub.engine.duckdb import DuckDBEngine
from axhub.errors import NotFoundError
from axhub.fhir import codes
from axhub.views import library
from axhub.views.conformance import _row_key
from axhub.views.run import run_view, spark_export

NAMES = ["conditions", "encounters", "medication_requests", "observations", "patient_demographics"]


def test_library_lists_the_bundled_views() -> None:
    assert library.names() == NAMES
    for name in NAMES:
        assert library.load(name).name == name


def test_unknown_view_suggests_names() -> None:
    with pytest.raises(NotFoundError) as err:
        library.load("observation")
    assert "observations" in err.value.suggestions


def test_conditions_view_is_rendered_from_the_grouping_data() -> None:
    on_disk = json.loads((library.LIBRARY_DIR / "conditions.json").read_text(encoding="utf-8"))
    assert on_disk == library.render_conditions_view()
    for group in library.kcd8_groups()["groups"]:
        assert group["source"] and group["categories"]


def _duck(region: Settings) -> DuckDBEngine:
    return DuckDBEngine(region.raw_zone_path, read_only=True)


def _count(engine: DuckDBEngine, resource_type: str) -> int:
    sql = f"SELECT count(*) FROM resources WHERE resource_type = '{resource_type}'"
    return int(engine.con.execute(sql).fetchone()[0])  # type: ignore[index]


def test_patient_view_has_one_row_per_patient_with_district(region: Settings) -> None:
    eng = _duck(region)
    table = eng.run_view(library.load("patient_demographics"))
    assert table.num_rows == _count(eng, "Patient")
    sites = set(table.column("site").to_pylist())
    assert {"knuh", "hallym"} <= sites and None not in sites
    with_district = eng.con.execute(
        "SELECT count(*) FROM resources WHERE resource_type = 'Patient' "
        "AND json_extract_string(resource, '$.address[0].district') IS NOT NULL"
    ).fetchone()
    assert (
        with_district and pc.sum(pc.is_valid(table.column("district"))).as_py() == with_district[0]
    )
    assert "name" not in table.column_names and "phone" not in table.column_names


def test_conditions_carry_the_kcd8_groups(region: Settings) -> None:
    table = _duck(region).run_view(library.load("conditions"))
    pairs = set(
        zip(
            table.column("kcd_code").to_pylist(), table.column("kcd_group").to_pylist(), strict=True
        )
    )
    expected = {
        codes.condition("hypertension").code: "hypertension",
        codes.condition("diabetes").code: "diabetes",
        codes.condition("dyslipidaemia").code: "dyslipidaemia",
        codes.condition("stroke").code: "stroke",
    }
    seen = {code: group for code, group in pairs if code in expected}
    assert seen, "the synthetic region has none of the expected conditions"
    for code, group in seen.items():
        assert group == expected[code]


def test_observations_flatten_blood_pressure_components(region: Settings) -> None:
    table = _duck(region).run_view(library.load("observations"))
    rows = table.to_pylist()
    sbp = [r for r in rows if r["loinc_code"] == codes.observation("sbp").code]
    assert sbp and all(r["part"] == "component" and r["unit"] == "mm[Hg]" for r in sbp)
    assert all(r["value"] is not None for r in sbp)


def test_medication_requests_have_atc_levels(region: Settings) -> None:
    table = _duck(region).run_view(library.load("medication_requests"))
    for row in table.to_pylist():
        if row["atc_code"]:
            assert row["atc_level1"] == row["atc_code"][0]
            assert row["atc_level3"] == row["atc_code"][:4]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_run_writes_the_view_file(region: Settings, tmp_path: Any, fmt: str) -> None:
    out = tmp_path / f"enc.{fmt}"
    result = run_view("encounters", engine="duckdb", settings=region, fmt=fmt, out=out)
    assert out.is_file() and result.rows == _count(_duck(region), "Encounter")


@pytest.mark.spark
@pytest.mark.parametrize("name", NAMES)
def test_bundled_views_identical_on_duckdb_and_spark(
    region: Settings, spark_engine: Any, name: str
) -> None:
    """Spark local[2] (two worker threads) and DuckDB give identical tables."""
    spark_engine.register_parquet("region_resources", spark_export(region))
    a = _duck(region).run_view(library.load(name))
    b = spark_engine.run_view(library.load(name), "region_resources")
    assert a.column_names == b.column_names
    assert a.num_rows > 0
    assert Counter(map(_row_key, a.to_pylist())) == Counter(map(_row_key, b.to_pylist()))
