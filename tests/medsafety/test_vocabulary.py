"""Name resolution: Korean, English, brands, ATC codes, dosage text, typos, suggestions."""

from __future__ import annotations

import pytest

from axhub.medsafety.knowledge import Knowledge
from axhub.medsafety.texts import particle
from axhub.medsafety.vocabulary import normalise, vocabulary_for


@pytest.mark.parametrize(
    ("name", "kind", "expected", "how"),
    [
        ("와파린", "drug", "warfarin", "exact"),
        ("심바스타틴정 20mg", "drug", "simvastatin", "exact"),
        ("Lipitor", "drug", "atorvastatin", "exact"),
        ("리피토", "drug", "atorvastatin", "exact"),
        ("B01AA03", "drug", "warfarin", "atc"),
        ("acetylsalicylic acid", "drug", "aspirin", "exact"),
        ("insulin_glargine", "drug", "insulin_glargine", "exact"),
        ("paracetamol 500 mg", "drug", "acetaminophen", "exact"),
        ("asprin", "drug", "aspirin", "fuzzy"),
        ("심바스타딘", "drug", "simvastatin", "fuzzy"),
        ("홍삼", "food", "red_ginseng", "exact"),
        ("정관장", "food", "red_ginseng", "exact"),
        ("인삼", "food", "red_ginseng", "exact"),
        ("소주", "food", "alcohol", "exact"),
        ("케일 녹즙", "food", "green_juice", "exact"),
        ("저염 소금", "food", "salt_substitute", "exact"),
        ("Grapefruit Juice", "food", "grapefruit", "exact"),
        ("St. John's wort", "food", "st_johns_wort", "exact"),
    ],
)
def test_names_resolve(kb: Knowledge, name: str, kind: str, expected: str, how: str) -> None:
    r = vocabulary_for(kb).resolve(name, kind)
    assert (r.canonical, r.how) == (expected, how)


def test_unknown_names_are_unresolved_with_suggestions(kb: Knowledge) -> None:
    vocab = vocabulary_for(kb)
    near = vocab.resolve("메트폴", "drug")
    assert not near.resolved
    assert any("metformin" in s for s in near.suggestions)
    nothing = vocab.resolve("xyzzy-42", "drug")
    assert not nothing.resolved and nothing.how == "unresolved"


def test_ambiguous_fuzzy_match_is_not_accepted(kb: Knowledge) -> None:
    # "dapagliflozin" and "empagliflozin" share most letters: a mangled "agliflozin" must not
    # be silently mapped to one of them.
    r = vocabulary_for(kb).resolve("agliflozin", "drug")
    assert not r.resolved
    assert len(r.suggestions) >= 2


def test_normalise_drops_dose_and_punctuation() -> None:
    assert normalise("  Simvastatin-20 MG ") == "simvastatin"
    assert normalise("케일 녹즙") == "케일녹즙"


@pytest.mark.parametrize(
    ("word", "kind", "expected"),
    [
        ("자몽", "을", "자몽을"),
        ("우유", "을", "우유를"),
        ("술", "과", "술과"),
        ("커피", "과", "커피와"),
        ("홍삼", "이", "홍삼이"),
        ("녹차", "은", "녹차는"),
        ("오메가3", "을", "오메가3을"),
        ("술", "으로", "술로"),
        ("grapefruit", "을", "grapefruit을(를)"),
    ],
)
def test_korean_particles_follow_the_final_sound(word: str, kind: str, expected: str) -> None:
    assert particle(word, kind) == expected


def test_every_synthetic_region_medication_resolves_consistently(kb: Knowledge) -> None:
    """The synth engineer's ATC-coded medications (axhub.fhir.codes) all map to one entry."""
    from axhub.fhir.codes import MEDICATIONS

    vocab = vocabulary_for(kb)
    for key, drug in MEDICATIONS.items():
        results = {
            vocab.resolve(name, "drug").canonical
            for name in (key, drug.atc, drug.name_ko, drug.name_en)
        }
        assert len(results) == 1 and None not in results, (key, results)
        (canonical,) = results
        assert kb.drugs[kb.drug_index[canonical]].atc == drug.atc, key
