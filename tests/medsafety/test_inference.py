"""Vectorised mechanism inference: rule semantics and independence from the cited rows."""

from __future__ import annotations

import dataclasses

import numpy as np

from axhub.medsafety.inference import FOOD_RULES, predict
from axhub.medsafety.knowledge import SEVERITY_RANK, Knowledge


def test_predictions_never_read_the_interaction_rows(kb: Knowledge) -> None:
    stripped = dataclasses.replace(kb, known_food=[], known_drug=[], controls=[])
    a, b = predict(kb), predict(stripped)
    assert np.array_equal(a.food_sev, b.food_sev) and np.array_equal(a.dd_sev, b.dd_sev)


def test_strength_by_sensitivity_tables(kb: Knowledge) -> None:
    p = predict(kb)
    d, f = kb.drug_index, kb.food_index
    assert p.dd_sev[d["simvastatin"], d["clarithromycin"]] == SEVERITY_RANK["major"]
    assert p.dd_sev[d["atorvastatin"], d["clarithromycin"]] == SEVERITY_RANK["moderate"]
    assert p.dd_sev[d["simvastatin"], d["diltiazem"]] == SEVERITY_RANK["moderate"]
    # gut-wall (grapefruit) inhibition needs a low-bioavailability substrate
    assert p.food_sev[d["simvastatin"], f["grapefruit"]] == SEVERITY_RANK["major"]
    assert p.food_sev[d["amlodipine"], f["grapefruit"]] == 0
    # St John's wort (strong CYP3A + P-gp inducer) with an anticoagulant is bumped to major
    assert p.food_sev[d["apixaban"], f["st_johns_wort"]] == SEVERITY_RANK["major"]
    rule = FOOD_RULES[p.food_rule[d["apixaban"], f["st_johns_wort"]]]
    assert rule.mechanism in {"cyp_induction", "pgp_induction"}


def test_analogy_based_properties_halve_confidence(kb: Knowledge) -> None:
    p = predict(kb)
    w = kb.drug_index["warfarin"]
    natto, cgj = kb.food_index["natto"], kb.food_index["cheonggukjang"]
    assert p.food_sev[w, natto] > p.food_sev[w, cgj] > 0
    assert p.food_conf[w, cgj] < p.food_conf[w, natto] / 2 + 1e-6


def test_no_self_interactions(kb: Knowledge) -> None:
    p = predict(kb)
    assert not np.diagonal(p.dd_sev).any()
