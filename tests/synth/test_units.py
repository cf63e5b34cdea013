"""Unit tests: romanisation, typos, vectorised JSON rendering, ids."""

from __future__ import annotations

import gzip

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axhub.errors import NotFoundError
from axhub.fhir import codes, districts
from axhub.synth import render as r
from axhub.synth.names import NameTables, romanise_given, romanise_syllable, typo_variant


@pytest.mark.parametrize(
    ("name", "style", "expected"),
    [("민준", 0, "Min-jun"), ("서연", 1, "Seoyeon"), ("영숙", 2, "Yeong Suk"),
     ("지훈", 0, "Ji-hun"), ("은정", 0, "Eun-jeong"), ("채원", 1, "Chaewon")],
)  # fmt: skip
def test_revised_romanization(name, style, expected):
    assert romanise_given(name, style) == expected


def test_romanise_syllable_handles_every_final_and_passes_non_hangul():
    assert romanise_syllable("김") == "gim"
    assert romanise_syllable("곽") == "gwak"
    assert romanise_syllable("A") == "A"


def test_typo_variant_changes_one_syllable():
    for name in NameTables().given_ko:
        variant = typo_variant(name)
        assert variant != name
        assert sum(a != b for a, b in zip(variant, name, strict=False)) <= 1 or len(variant) > len(
            name
        )


def test_surname_shares_lead_with_kim_lee_park():
    t = NameTables()
    top = [t.surname_ko[i] for i in np.argsort(-t.surname_p)[:5]]
    assert top == ["김", "이", "박", "최", "정"]
    assert t.surname_p.sum() == pytest.approx(1.0)


def test_rendered_lines_are_json_with_escaping():
    names = np.array(["plain", 'quote " inside', "back\\slash", "한글 이름"], dtype=object)
    values = np.array([1.0, 2.25, 1234567.5, 0.1 + 0.2])
    lines = r.join([
        '{"name":"', r.text(names), '","v":', r.number(values, np.array([0, 2, 1, 1])),
        ',"n":', r.integer(np.arange(4)), r.optional(np.array([True, False, True, False]),
                                                    ',"flag":true'), "}",
    ])  # fmt: skip
    parsed = [orjson.loads(x) for x in r.buffer_lines(lines).splitlines()]
    assert [p["name"] for p in parsed] == list(names)
    assert [p["v"] for p in parsed] == [1, 2.25, 1234567.5, 0.3]
    assert [("flag" in p) for p in parsed] == [True, False, True, False]


def test_hex_ids_are_unique_opaque_and_seeded():
    a = r.hex_ids(np.arange(200_000), 3, 42).to_pylist()
    assert len(set(a)) == len(a)
    assert all(len(x) == 16 for x in a[:100])
    assert a[:5] != r.hex_ids(np.arange(5), 3, 43).to_pylist()
    assert a[:5] != r.hex_ids(np.arange(5), 4, 42).to_pylist()


def test_gzip_writer_has_no_timestamp(tmp_path):
    lines = r.join(['{"a":', r.integer(np.arange(3)), "}"])
    w = r.NdjsonWriter(tmp_path / "x.ndjson", gzip_output=True)
    w.write(lines)
    w.close()
    data = (tmp_path / "x.ndjson.gz").read_bytes()
    assert data[4:8] == b"\0\0\0\0"  # MTIME field of the gzip header
    assert gzip.decompress(data) == b'{"a":0}\n{"a":1}\n{"a":2}\n'
    assert w.lines == 3


def test_code_lookups_fail_with_suggestions():
    assert codes.condition("hypertension").code == "I10"
    assert codes.observation("sbp").code == "8480-6"
    assert codes.medication("amlodipine").atc == "C08CA01"
    with pytest.raises(NotFoundError) as err:
        codes.condition("hypertensoin")
    assert "hypertension" in err.value.suggestions
    assert districts.district("퇴계동").name_en == "Toegye-dong"
    with pytest.raises(NotFoundError) as err:
        districts.district("toegye-dng")
    assert "toegye-dong" in err.value.suggestions


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=20))
def test_any_text_roundtrips_through_the_renderer(values):
    lines = r.join(['{"t":"', r.text(np.array(values, dtype=object)), '"}'])
    parsed = [orjson.loads(x)["t"] for x in r.buffer_lines(lines).split(b"\n")[:-1]]
    assert parsed == values


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=-2_208_988_800, max_value=7_258_118_399), min_size=1))
def test_iso_datetimes_match_numpy(seconds):
    values = np.array(seconds, dtype="datetime64[s]")
    expected = [s + "+09:00" for s in np.datetime_as_string(values, unit="s").tolist()]
    assert r.iso_datetimes(values).to_pylist() == expected
    assert (
        r.iso_dates(values).to_pylist()
        == np.datetime_as_string(values.astype("datetime64[D]")).tolist()
    )
