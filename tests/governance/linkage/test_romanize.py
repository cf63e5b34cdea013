"""Revised Romanization: letter tables, vectorised form equals the one-value reference."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axhub.governance.linkage.romanize import romanize, romanize_text


@pytest.mark.parametrize(
    ("hangul", "rr"),
    [
        # examples from the RR rules (names are transcribed without inter-syllable assimilation)
        ("홍길동", "honggildong"),
        ("김민준", "gimminjun"),
        ("이서연", "iseoyeon"),
        ("최윤희", "choeyunhui"),
        ("박", "bak"),
        ("정", "jeong"),
        ("퇴계동", "toegyedong"),
        ("신북읍", "sinbukeup"),
        ("닭", "dak"),
        ("Lee 1", "Lee 1"),
    ],
)
def test_rr_examples(hangul: str, rr: str) -> None:
    assert romanize_text(hangul) == rr
    assert romanize(pa.array([hangul]), duckdb.connect()).to_pylist() == [rr]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
            | st.sampled_from(" -A1"),
            max_size=5,
        )
        | st.none(),
        max_size=30,
    )
)
def test_vectorised_equals_reference(values: list[str | None]) -> None:
    out = romanize(pa.array(values, pa.string()), duckdb.connect()).to_pylist()
    assert out == [None if v is None else romanize_text(v) for v in values]


def test_decomposed_jamo_are_normalised_first() -> None:
    decomposed = "\u1100\u1175\u11b7"  # 김 as conjoining jamo (NFD)
    assert romanize(pa.array([decomposed]), duckdb.connect()).to_pylist() == ["gim"]
