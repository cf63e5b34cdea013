"""Patients → normalised identifier table: Hangul and romanised spellings agree."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from axhub.errors import InputError
from axhub.governance.linkage import normalise, patients_from_ndjson, patients_from_raw_zone
from axhub.governance.linkage.identifiers import skeleton_sql
from axhub.governance.linkage.romanize import romanize_text

# Surname spellings seen in Korean records: Hangul, then Latin spellings (KOSTAT 2015 surname
# list as used by the synthetic region, axhub.synth.names.SURNAMES).
VARIANTS = [
    ("김", "Kim", "Gim"), ("이", "Lee", "Yi", "Rhee", "I"), ("박", "Park", "Pak", "Bak"),
    ("최", "Choi", "Choe"), ("정", "Jung", "Jeong", "Chung"), ("강", "Kang", "Gang"),
    ("조", "Cho", "Jo"), ("윤", "Yoon", "Yun"), ("장", "Jang", "Chang"), ("임", "Lim", "Im", "Rim"),
    ("오", "Oh", "O"), ("서", "Seo", "Suh"), ("신", "Shin", "Sin"), ("권", "Kwon", "Gwon"),
    ("안", "Ahn", "An"), ("전", "Jeon", "Jun", "Chun"), ("유", "Yoo", "Yu"), ("고", "Ko", "Go"),
    ("문", "Moon", "Mun"), ("손", "Son", "Sohn"), ("배", "Bae", "Pae"), ("백", "Baek", "Paik"),
    ("허", "Heo", "Huh"), ("노", "Noh", "Roh", "No"), ("심", "Shim", "Sim"),
    ("곽", "Kwak", "Gwak"), ("성", "Sung", "Seong"), ("주", "Joo", "Ju"), ("우", "Woo", "U"),
    ("구", "Koo", "Gu"), ("류", "Ryu", "Ryoo"),
]  # fmt: skip


def _skeleton(values: list[str]) -> list[str]:
    con = duckdb.connect()
    con.register("v", pa.table({"x": values}))
    return [r[0] for r in con.sql(f"SELECT {skeleton_sql('x')} FROM v").fetchall()]


@pytest.mark.parametrize("row", VARIANTS, ids=[v[1] for v in VARIANTS])
def test_surname_spellings_fold_to_the_rr_skeleton(row: tuple[str, ...]) -> None:
    hangul, *latin = row
    folded = _skeleton([romanize_text(hangul), *latin])
    assert len(set(folded)) == 1, folded


def test_distinct_common_surnames_stay_distinct() -> None:
    folded = _skeleton([romanize_text(v[0]) for v in VARIANTS])
    # 유 (Yu) and 류 (Ryu) share spellings in real records; all others stay apart
    assert len(set(folded)) == len(VARIANTS) - 1


def _patients(tmp_path: Path) -> Path:
    pats = [
        {"resourceType": "Patient", "id": "p1", "name": [{"text": "이민준"}],
         "birthDate": "1950-03-04", "gender": "male",
         "telecom": [{"system": "email", "value": "a@b"},
                     {"system": "phone", "value": "+82-10-1234-5678"}],
         "address": [{"district": "퇴계동", "city": "춘천시"}]},
        {"resourceType": "Patient", "id": "p2",
         "name": [{"family": "Rhee", "given": ["Min-jun"], "text": "Rhee Min-jun"}],
         "birthDate": "1950-03-04", "gender": "male",
         "telecom": [{"system": "phone", "value": "010-1234-5678"}],
         "address": [{"district": "퇴계동"}]},
        {"resourceType": "Patient", "id": "p3", "name": [{"text": "Yi Min Jun"}], "gender": "male"},
        {"resourceType": "Patient", "id": "p4"},
        {"resourceType": "Observation", "id": "o1"},
    ]  # fmt: skip
    path = tmp_path / "Patient.000.ndjson"
    path.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in pats) + "\n")
    return path


def test_hangul_and_romanised_records_normalise_alike(tmp_path: Path) -> None:
    out = normalise(patients_from_ndjson([_patients(tmp_path)])).to_pylist()
    assert [r["record_id"] for r in out] == ["p1", "p2", "p3", "p4"]
    p1, p2, p3, p4 = out
    assert p1["name"] == p2["name"] == p3["name"] == "iminjun"
    assert p1["birth_date"] == "19500304" and p1["birth_year"] == "1950"
    assert p1["phone"] == p2["phone"] == "12345678"
    assert p1["district"] == "toegyedong" and p1["sex"] == "m"
    assert p4["name"] is None and p4["birth_date"] is None


def test_raw_zone_reader_matches_ndjson_reader(tmp_path: Path) -> None:
    path = _patients(tmp_path)
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE resources (site VARCHAR, resource_type VARCHAR, id VARCHAR, resource JSON)"
    )
    for line in path.read_text().splitlines():
        doc = json.loads(line)
        con.execute(
            "INSERT INTO resources VALUES ('knuh', ?, ?, ?)", [doc["resourceType"], doc["id"], line]
        )
    raw = normalise(patients_from_raw_zone(con, "knuh")).sort_by("record_id")
    assert raw.to_pylist() == normalise(patients_from_ndjson([path])).to_pylist()


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        patients_from_ndjson([tmp_path / "Patient.000.ndjson"])
    assert "Patient.000.ndjson" in str(err.value)
