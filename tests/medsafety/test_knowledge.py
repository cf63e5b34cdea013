"""The knowledge base as data: every row cited, validated on load, no duplicates/conflicts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from axhub.errors import InputError
from axhub.medsafety.audit import audit
from axhub.medsafety.knowledge import Knowledge, load_knowledge
from axhub.medsafety.texts import render


def test_bundled_knowledge_loads_and_covers_the_brief(kb: Knowledge) -> None:
    drug_ids = {d.drug_id for d in kb.drugs}
    assert {
        "warfarin",
        "simvastatin",
        "amlodipine",
        "metformin",
        "apixaban",
        "clopidogrel",
    } <= drug_ids
    assert kb.drugs[kb.drug_index["warfarin"]].atc == "B01AA03"
    assert kb.drugs[kb.drug_index["simvastatin"]].atc == "C10AA01"
    korean = {f.name_ko for f in kb.foods}
    for name in (
        "자몽",
        "홍삼",
        "녹즙",
        "청국장",
        "낫토",
        "술",
        "우유",
        "커피",
        "감초",
        "저염소금",
        "세인트존스워트",
        "은행잎 추출물",
        "오메가3",
        "시금치",
        "녹차",
    ):
        assert name in korean, name
    assert len(kb.known_food) > 80 and len(kb.known_drug) > 100


def test_every_source_is_permitted_and_described(kb: Knowledge) -> None:
    for src in kb.sources.values():
        text = f"{src.citation} {src.url}".lower()
        assert "drugbank" not in text and "ddinter" not in text, src.source_id
        assert src.verified in {"V", "U", "S"}
        assert src.licence


def test_audit_finds_no_duplicates_or_conflicts_in_bundled_data(kb: Knowledge) -> None:
    assert [str(p) for p in audit(kb)] == []


def test_audit_catches_a_duplicated_row(data_copy: Path) -> None:
    path = data_copy / "food_interactions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    simva = next(line for line in lines if line.startswith("simvastatin,grapefruit,"))
    path.write_text("\n".join([*lines, simva]) + "\n", encoding="utf-8")
    problems = audit(load_knowledge(data_copy))
    assert [p.kind for p in problems] == ["duplicate"]
    assert problems[0].pair == "simvastatin + grapefruit"


def test_audit_catches_opposite_effects_and_control_conflicts(data_copy: Path) -> None:
    path = data_copy / "food_interactions.csv"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(
            "simvastatin,grapefruit,minor,exposure_down,cyp3a_gut,fda_label,invented test row,U\n"
        )
        fh.write(
            "amlodipine,grapefruit,minor,exposure_up,cyp3a_gut,kfda_2012_03,CCBs and grapefruit,U\n"
        )
    problems = audit(load_knowledge(data_copy))
    reasons = sorted({p.reason for p in problems})
    assert reasons == ["cited interaction and control", "exposure_down vs exposure_up"]
    assert all(p.kind == "conflict" for p in problems)


@pytest.mark.parametrize(
    ("file", "find", "replace", "field"),
    [
        (
            "drug_properties.csv",
            "simvastatin,cyp3a_sub,2,fda_cyp_table",
            "simvastatin,cyp3a_sub,2,drugbank",
            "source",
        ),
        ("drug_properties.csv", "simvastatin,cyp3a_sub,2,", "simvastatin,cyp3a_sub,7,", "level"),
        (
            "food_interactions.csv",
            "simvastatin,grapefruit,major,",
            "simvastatin,grapefruit,severe,",
            "severity",
        ),
        ("food_interactions.csv", "simvastatin,grapefruit,", "simvastatine,grapefruit,", "target"),
        ("drug_interactions.csv", "\natc:C09A,", "\natc:Z99,", "a"),
    ],
)
def test_bad_rows_fail_naming_file_line_and_field(
    data_copy: Path, file: str, find: str, replace: str, field: str
) -> None:
    path = data_copy / file
    text = path.read_text(encoding="utf-8")
    assert find in text
    path.write_text(text.replace(find, replace, 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_knowledge(data_copy)
    assert err.value.path is not None and err.value.path.endswith(file)
    assert err.value.line is not None and err.value.line > 1
    assert err.value.field == field


def test_every_mechanism_text_renders_in_both_languages(kb: Knowledge) -> None:
    values = {
        "drug": "warfarin",
        "drug_ko": "와파린",
        "other": "grapefruit",
        "other_ko": "자몽",
        "enzyme": "CYP3A4",
        "consequence": "x",
        "consequence_ko": "x",
        "criterion": "c",
        "criterion_ko": "c",
        "score": "3",
        "suggestions": "s",
    }
    for code, spec in kb.mechanisms.items():
        for part in ("title", "explain", "action", "advice"):
            for lang in ("en", "ko"):
                text = render(spec[f"{part}_{lang}"], values)
                assert not re.search(r"\{\w+(:\w+)?\}", text), (code, part, lang)
                assert not re.search(r"\bsafe\b", text.lower()), (code, part)
                assert "안전합니다" not in text and "안전해요" not in text, (code, part)
