"""Synthetic prescribing follows the cited Korean figures it is drawn from (records.py)."""

from __future__ import annotations

import numpy as np
import pytest

from axhub.synth import records
from axhub.synth.generate import draw_region
from axhub.synth.records import DRUG_INDEX, PrescribingRate

PEOPLE, SEED = 100_000, 20261126


@pytest.fixture(scope="module")
def drawn():
    return draw_region(PEOPLE, SEED)


def _people_on(plan, keys) -> np.ndarray:
    ids = [DRUG_INDEX[k] for k in keys]
    return np.unique(plan["person"][np.isin(plan["drug"], ids)])


def test_antihypertensive_classes_match_the_fact_sheet(drawn) -> None:
    treated = int(drawn.h["bp_treated"].sum())
    classes = {
        "A": ("losartan", "telmisartan"),
        "C": ("amlodipine",),
        "D": ("hydrochlorothiazide",),
        "B": ("bisoprolol",),
    }
    per_person = np.zeros(PEOPLE, dtype=int)
    for letter, keys in classes.items():
        who = _people_on(drawn.plan, keys)
        per_person[who] += 1
        share = len(who) / treated
        assert abs(share - records.HTN_CLASS_SHARE[letter]) < 0.03, (letter, share)
    combination = (per_person >= 2).sum() / treated
    assert abs(combination - records.HTN_COMBINATION.value) < 0.03, combination


def test_glucose_lowering_regimen_sizes_match_the_source(drawn) -> None:
    dm = ("metformin", "glimepiride", "sitagliptin", "dapagliflozin")
    ids = [DRUG_INDEX[k] for k in dm]
    sel = np.isin(drawn.plan["drug"], ids)
    counts = np.bincount(drawn.plan["person"][sel], minlength=PEOPLE)[drawn.h["diabetes_treated"]]
    assert abs((counts == 2).mean() - records.DM_DUAL.value) < 0.03
    assert abs((counts == 3).mean() - records.DM_TRIPLE.value) < 0.03


def test_noac_share_among_anticoagulated(drawn) -> None:
    noac = len(_people_on(drawn.plan, ("apixaban", "rivaroxaban", "edoxaban")))
    warfarin = len(_people_on(drawn.plan, ("warfarin",)))
    assert noac + warfarin == int(drawn.h["oac"].sum())
    assert abs(noac / (noac + warfarin) - records.NOAC_SHARE.value) < 0.04


def test_new_medicines_only_with_their_indication(drawn) -> None:
    h, age = drawn.h, drawn.p["age"]
    nsaid = _people_on(drawn.plan, ("aceclofenac", "celecoxib"))
    assert len(nsaid) and h["knee_oa"][nsaid].all() and (age[nsaid] >= 50).all()
    ppi = _people_on(drawn.plan, records.PPI_KEYS)
    assert h["nsaid_regular"][ppi].all() and (h["oac"] | h["antiplatelet"])[ppi].all()
    bzd = _people_on(drawn.plan, ("diazepam", "alprazolam"))
    assert len(bzd) and (age[bzd] >= 65).all()
    share = len(bzd) / (age >= 65).sum()
    assert abs(share - records.LONG_TERM_BZD.value) < 0.004
    # no primary-prevention aspirin on an anticoagulant
    aspirin = _people_on(drawn.plan, ("aspirin",))
    assert not (h["oac"][aspirin] & ~h["antiplatelet"][aspirin]).any()


def test_older_people_take_more_medicines_than_before(drawn) -> None:
    """The plan is wider than the old 17-drug one; the gap to the national figure is known."""
    old = drawn.p["age"] >= 65
    n_drugs = np.bincount(drawn.plan["person"], minlength=PEOPLE)[old]
    assert len(np.unique(drawn.plan["drug"])) >= len(records.DRUG_KEYS) - 3  # rare PPIs
    assert 0.04 < (n_drugs >= 5).mean() < records.POLYPHARMACY_65.value


def test_every_prescribing_rate_names_its_source() -> None:
    rates = [v for v in vars(records).values() if isinstance(v, PrescribingRate)]
    assert len(rates) >= 10
    for r in rates:
        assert 0 < r.value < 1 and any(ch.isdigit() for ch in r.source), r


def test_plan_is_deterministic_for_a_seed() -> None:
    a, b = draw_region(3000, 7), draw_region(3000, 7)
    for k in ("person", "drug", "klass"):
        assert np.array_equal(a.plan[k], b.plan[k])
    c = draw_region(3000, 8)
    assert not np.array_equal(a.plan["drug"], c.plan["drug"][: len(a.plan["drug"])])


def test_calibration_report_states_prescribing_and_the_polypharmacy_gap(drawn) -> None:
    rx = drawn.report()["prescribing"]
    poly = rx["polypharmacy_65"]
    assert poly["target"] == records.POLYPHARMACY_65.value and "gap" in poly["note"]
    assert 0 < poly["achieved"] < poly["target"]
    for name in ("arb", "ccb", "thiazide", "beta_blocker", "two_or_more"):
        block = rx["antihypertensive_classes"][name]
        assert abs(block["achieved"] - block["target"]) < 0.03, name
    noac = rx["noac_among_anticoagulated"]
    assert abs(noac["achieved"] - noac["target"]) < 0.04
