"""check_population: one vectorised pass that agrees with the per-person checker."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from axhub.errors import InputError
from axhub.medsafety import check, check_population, summarise
from axhub.medsafety.knowledge import Knowledge


def _random_population(kb: Knowledge, n: int, seed: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    common = [d.drug_id for d in kb.drugs[:90]]
    foods = [f.name_ko for f in kb.foods]
    people, drugs, dpeople, dfoods = [], [], [], []
    for i in range(n):
        k = int(rng.integers(1, 9))
        people += [f"p{i}"] * k
        drugs += list(rng.choice(common, size=k))
        m = int(rng.integers(0, 4))
        dpeople += [f"p{i}"] * m
        dfoods += list(rng.choice(foods, size=m))
    ages = pa.table({"person_id": [f"p{i}" for i in range(n)], "age": rng.integers(40, 95, n)})
    return (
        pa.table({"person_id": people, "drug": drugs}),
        pa.table({"person_id": dpeople, "food": dfoods}),
        ages,
    )


def _by_person(table: pa.Table, col: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pid, value in zip(table["person_id"].to_pylist(), table[col].to_pylist(), strict=True):
        out.setdefault(pid, []).append(value)
    return out


def test_population_matches_the_single_person_checker(kb: Knowledge) -> None:
    reg, diet, ages = _random_population(kb, 60, seed=7)
    table = check_population(reg, diet, ages)
    got = set()
    for r in table.to_pylist():
        other = r["detail"] if r["kind"] == "elderly" else r["other"]
        if r["kind"] == "anticholinergic":
            other = r["detail"]  # the burden score
        got.add((r["person_id"], r["kind"], r["drug"], other, r["severity"], r["evidence"]))
    drugs_of, foods_of = _by_person(reg, "drug"), _by_person(diet, "food")
    expected = set()
    for pid, age in zip(ages["person_id"].to_pylist(), ages["age"].to_pylist(), strict=True):
        for f in check(drugs_of.get(pid, []), foods_of.get(pid, []), age):
            other = f.other
            if f.kind == "elderly":
                other = f.extra["criterion"]
            drug = f.drug
            if f.kind == "anticholinergic":
                other = str(f.extra["score"])
            expected.add((pid, f.kind, drug, other, f.severity, f.evidence))
    assert got == expected
    assert any(g[1] == "drug-food" for g in got) and any(g[1] == "elderly" for g in got)


def test_unknown_names_become_rows_not_silence() -> None:
    reg = pa.table({"person_id": [1, 1, 2], "drug": ["warfarin", "no-such-drug", "aspirin"]})
    diet = pa.table({"person_id": [1], "food": ["마늘즙"]})
    t = check_population(reg, diet, None)
    rows = t.to_pylist()
    assert {"person_id": "1", "drug": "no-such-drug"}.items() <= next(
        r for r in rows if r["kind"] == "unresolved"
    ).items()
    assert any(r["drug"] == "warfarin" and r["other"] == "garlic" for r in rows)


def test_missing_column_is_a_clear_error() -> None:
    with pytest.raises(InputError) as err:
        check_population(pa.table({"pid": [1], "drug": ["warfarin"]}))
    assert err.value.field == "person_id"


def test_summary_counts_people(kb: Knowledge) -> None:
    reg = pa.table(
        {"person_id": ["a", "a", "b", "b"], "drug": ["simvastatin", "clarithromycin"] * 2}
    )
    top = summarise(check_population(reg), min_rank=3).to_pylist()
    assert top[0]["people"] == 2 and top[0]["drug"] == "simvastatin"


def test_regimens_from_the_medication_requests_view() -> None:
    from axhub.medsafety.population import regimens_from_view

    view = pa.table(
        {
            "patient_id": ["a", "a", "a", "b"],
            "status": ["active", "active", "stopped", "active"],
            "atc_code": ["C10AA01", None, "B01AA03", None],
            "atc_display": ["simvastatin", "clarithromycin", "warfarin", None],
        }
    )
    reg = regimens_from_view(view)
    assert reg.to_pylist() == [
        {"person_id": "a", "drug": "C10AA01"},
        {"person_id": "a", "drug": "clarithromycin"},
        {"person_id": "b", "drug": ""},
    ]
    rows = check_population(reg).to_pylist()
    assert any(r["drug"] == "simvastatin" and r["other"] == "clarithromycin" for r in rows)
    assert any(r["kind"] == "unresolved" and r["person_id"] == "b" for r in rows)
