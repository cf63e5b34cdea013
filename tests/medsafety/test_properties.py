"""Hypothesis invariants of the checker over random regimens and diets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from axhub.medsafety import check, default_knowledge

_KB = default_knowledge()
_DRUGS = [d.drug_id for d in _KB.drugs]
_FOODS = [f.name_ko for f in _KB.foods]

regimens = st.lists(st.sampled_from(_DRUGS), min_size=1, max_size=10, unique=True)
diets = st.lists(st.sampled_from(_FOODS), max_size=6, unique=True)


@settings(max_examples=60, deadline=None)
@given(regimens, diets, st.one_of(st.none(), st.integers(40, 100)))
def test_every_finding_is_cited_ranked_and_labelled(
    drugs: list[str], foods: list[str], age: int | None
) -> None:
    findings = check(drugs, foods, age)
    ranks = [f.severity_rank for f in findings]
    assert ranks == sorted(ranks, reverse=True)
    for f in findings:
        assert f.evidence in {"known", "predicted", "criterion"}
        assert f.sources, f
        assert f.advice["ko"] and f.advice["en"] and f.action["ko"] and f.action["en"]
        assert (f.confidence is not None) == (f.evidence == "predicted")


@settings(max_examples=40, deadline=None)
@given(regimens, diets, st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(drugs: list[str], foods: list[str], rnd) -> None:  # type: ignore[no-untyped-def]
    a = check(drugs, foods, 80)
    shuffled_d, shuffled_f = drugs[:], foods[:]
    rnd.shuffle(shuffled_d)
    rnd.shuffle(shuffled_f)
    b = check(shuffled_d, shuffled_f, 80)

    def key(fs):  # type: ignore[no-untyped-def]
        return sorted((f.kind, f.drug, f.other or "", f.severity, f.evidence) for f in fs)

    assert key(a) == key(b)
