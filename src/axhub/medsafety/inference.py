"""Mechanism-based prediction as vectorised rules over property matrices.

A rule pairs a drug property with a food (or second-drug) property and maps their levels to
a severity through a small lookup table.  All rules run on whole matrices (NumPy
broadcasting), so every drug × food and drug × drug pair of the vocabulary is predicted in
one pass at load time; checks then only index into the result.

The severity tables follow the design note of the shared reference (strong inhibitor ×
sensitive substrate → major; moderate × sensitive or strong × moderately sensitive →
moderate; weak → minor), using the FDA strength definitions (Table 2 of the FDA CYP page).
Confidence is a ranking heuristic (0.4 minor, 0.6 moderate, 0.8 major, halved when a
property rests on an analogy), not a probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from axhub.medsafety.knowledge import (
    DRUG_PROPERTIES,
    FOOD_PROPERTIES,
    SEVERITY_RANK,
    Cited,
    Knowledge,
)

# Lookup tables indexed [drug level, other level] -> severity rank (0 none .. 3 major).
# Inhibition: substrate sensitivity (2 sensitive, 1 moderate) x inhibitor strength (3/2/1).
INHIBITION = np.array([[0, 0, 0, 0], [0, 0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3]], dtype=np.int8)
INDUCTION = INHIBITION
_CONFIDENCE = np.array([0.0, 0.4, 0.6, 0.8, 0.9], dtype=np.float32)


def _table(rows: list[list[int]]) -> np.ndarray:
    """Ragged rows (drug level) of severities by other level; missing cells are 0."""
    out = np.zeros((4, 4), dtype=np.int8)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _flat(severity: int) -> np.ndarray:
    """Any non-zero level on both sides gives ``severity``."""
    out = np.full((4, 4), severity, dtype=np.int8)
    out[0, :] = 0
    out[:, 0] = 0
    return out


@dataclass(frozen=True)
class Rule:
    """One mechanism rule: drug-side property (victim) x other-side property."""

    mechanism: str
    drug_props: tuple[str, ...]  # any of these (max level) on the affected drug
    other_props: tuple[str, ...]  # any of these on the food / precipitant drug
    table: np.ndarray
    effect: str
    enzyme: str = ""
    require: tuple[str, ...] = ()  # drug properties that must also be present
    bump_if: tuple[str, ...] = ()  # +1 severity (max major) if the drug has any of these
    symmetric: bool = False  # drug-drug only: also apply with the roles swapped


FOOD_RULES: tuple[Rule, ...] = (
    Rule(
        "cyp3a_gut",
        ("cyp3a_sub",),
        ("cyp3a_inh_gut",),
        INHIBITION,
        "exposure_up",
        "CYP3A4",
        require=("low_oral_f",),
        bump_if=("nti",),
    ),
    Rule(
        "cyp_induction",
        ("cyp3a_sub",),
        ("cyp3a_ind",),
        INDUCTION,
        "exposure_down",
        "CYP3A4",
        bump_if=("nti", "anticoagulant"),
    ),
    Rule(
        "pgp_induction",
        ("pgp_sub",),
        ("pgp_ind",),
        _flat(2),
        "exposure_down",
        "P-gp",
        bump_if=("nti", "anticoagulant"),
    ),
    Rule(
        "smoking_induction",  # tobacco smoke is the only CYP1A2-inducing item in foods.csv
        ("cyp1a2_sub",),
        ("cyp1a2_ind",),
        INDUCTION,
        "exposure_down",
        "CYP1A2",
        bump_if=("nti",),
    ),
    Rule("serotonin", ("serotonergic",), ("serotonergic",), _flat(2), "toxicity"),
    Rule("vitamin_k", ("vka",), ("vitamin_k",), _table([[0], [0, 1, 2, 3]]), "effect_down"),
    Rule("tyramine", ("maoi",), ("tyramine",), _table([[0], [0, 1, 2], [0, 2, 3]]), "toxicity"),
    Rule("histamine", ("dao_inhibitor",), ("histamine",), _flat(1), "toxicity"),
    Rule(
        "chelation",
        ("chelation",),
        ("divalent_cation",),
        _table([[0], [0, 0, 2], [0, 2, 2]]),
        "exposure_down",
    ),
    Rule("beverage_bisphosphonate", ("bisphosphonate",), ("beverage",), _flat(2), "exposure_down"),
    Rule(
        "potassium",
        ("k_raising",),
        ("potassium",),
        _table([[0], [0, 1, 1, 2], [0, 2, 2, 3]]),
        "toxicity",
    ),
    Rule(
        "hypokalaemia_licorice",
        ("digitalis", "k_losing"),
        ("mineralocorticoid",),
        _flat(2),
        "toxicity",
    ),
    Rule(
        "alcohol_cns", ("cns_depressant",), ("alcohol",), _table([[0], [0, 2], [0, 3]]), "effect_up"
    ),
    Rule("alcohol_disulfiram", ("disulfiram_like",), ("alcohol",), _flat(3), "toxicity"),
    Rule("alcohol_hypoglycaemia", ("hypoglycaemia",), ("alcohol",), _flat(2), "effect_up"),
    Rule("alcohol_lactic", ("lactic_acidosis",), ("alcohol",), _flat(2), "toxicity"),
    Rule("alcohol_liver", ("alcohol_hepatotoxic",), ("alcohol",), _flat(3), "toxicity"),
    Rule("alcohol_gi_bleed", ("gi_bleed",), ("alcohol",), _flat(2), "toxicity"),
    Rule(
        "caffeine_additive",
        ("methylxanthine",),
        ("caffeine",),
        _table([[0], [0, 1, 2]]),
        "effect_up",
    ),
    Rule(
        "caffeine_cyp1a2",
        ("cyp1a2_inh",),
        ("cyp1a2_sub",),
        _table([[0], [0], [0], [0, 1, 1]]),
        "effect_up",
        "CYP1A2",
    ),
    Rule("bleeding", ("anticoagulant",), ("bleeding",), _flat(2), "effect_up"),
    Rule("bleeding", ("antiplatelet",), ("bleeding",), _flat(1), "effect_up"),
    Rule("glucose_lowering", ("antidiabetic",), ("glucose_lowering",), _flat(1), "effect_up"),
    Rule("oatp_gut", ("oatp_gut_sub",), ("oatp_inh",), _flat(2), "exposure_down", "OATP"),
    Rule("bcrp", ("bcrp_sub",), ("bcrp_inh",), _flat(1), "exposure_up", "BCRP"),
)

_ENZYMES = (
    ("3a", "CYP3A4"),
    ("2c9", "CYP2C9"),
    ("2c19", "CYP2C19"),
    ("1a2", "CYP1A2"),
    ("2d6", "CYP2D6"),
)
DRUG_RULES: tuple[Rule, ...] = (
    *(
        Rule(
            "cyp_inhibition",
            (f"cyp{e}_sub",),
            (f"cyp{e}_inh",),
            INHIBITION,
            "exposure_up",
            name,
            bump_if=("nti",),
        )
        for e, name in _ENZYMES
    ),
    *(
        Rule(
            "cyp_induction",
            (f"cyp{e}_sub",),
            (f"cyp{e}_ind",),
            INDUCTION,
            "exposure_down",
            name,
            bump_if=("nti", "anticoagulant"),
        )
        for e, name in _ENZYMES
        if e != "2d6"
    ),
    Rule(
        "cyp2c19_prodrug",
        ("cyp2c19_prodrug",),
        ("cyp2c19_inh",),
        _table([[0], [0, 1, 3, 3]]),
        "effect_down",
        "CYP2C19",
    ),
    Rule(
        "pgp_inhibition",
        ("pgp_sub",),
        ("pgp_inh",),
        _flat(2),
        "exposure_up",
        "P-gp",
        bump_if=("nti", "anticoagulant"),
    ),
    Rule(
        "pgp_induction",
        ("pgp_sub",),
        ("pgp_ind",),
        _flat(2),
        "exposure_down",
        "P-gp",
        bump_if=("nti", "anticoagulant"),
    ),
    Rule(
        "bleeding_pd",
        ("anticoagulant",),
        ("anticoagulant", "antiplatelet", "nsaid"),
        _flat(3),
        "effect_up",
    ),
    Rule("bleeding_pd", ("antiplatelet",), ("antiplatelet", "nsaid"), _flat(2), "effect_up"),
    Rule("serotonin", ("serotonergic",), ("maoi",), _flat(3), "toxicity", symmetric=True),
    Rule("serotonin", ("serotonergic",), ("serotonergic",), _flat(2), "toxicity"),
    Rule(
        "cns_additive",
        ("cns_depressant",),
        ("cns_depressant",),
        _table([[0], [0, 1, 2], [0, 2, 3]]),
        "effect_up",
    ),
    Rule("hyperkalaemia", ("k_raising",), ("k_raising",), _flat(2), "toxicity"),
    Rule("qt_additive", ("qt",), ("qt",), _flat(2), "toxicity"),
    Rule("hypokalaemia_ddi", ("digitalis",), ("k_losing",), _flat(2), "toxicity"),
    Rule("xanthine_oxidase", ("xo_substrate",), ("xo_inhibitor",), _flat(3), "exposure_up"),
    Rule("maoi_pressor", ("sympathomimetic",), ("maoi",), _flat(3), "toxicity"),
    Rule("antifolate", ("antifolate",), ("antifolate",), _flat(3), "toxicity"),
    Rule(
        "gastric_ph",
        ("acid_dependent_absorption",),
        ("acid_suppressant",),
        _flat(2),
        "exposure_down",
    ),
)


def _levels(props: np.ndarray, names: tuple[str, ...], vocab: tuple[str, ...]) -> np.ndarray:
    cols = [vocab.index(n) for n in names]
    return props[:, cols].max(axis=1).astype(np.int8)


def _certainty(kb: Knowledge, names: tuple[str, ...]) -> np.ndarray:
    cols = [FOOD_PROPERTIES.index(n) for n in names]
    return kb.food_prop_certainty[:, cols].min(axis=1)


def _run(
    rules: tuple[Rule, ...],
    drug_props: np.ndarray,
    other_props: np.ndarray,
    other_vocab: tuple[str, ...],
    other_certainty: np.ndarray | None,
    kb: Knowledge,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Severity, winning rule index and confidence for every (drug, other) pair."""
    n, m = drug_props.shape[0], other_props.shape[0]
    sev = np.zeros((n, m), dtype=np.int8)
    rule_ix = np.full((n, m), -1, dtype=np.int16)
    conf = np.zeros((n, m), dtype=np.float32)
    for k, rule in enumerate(rules):
        for swap in (False, True) if rule.symmetric else (False,):
            dp, op = (
                (rule.other_props, rule.drug_props) if swap else (rule.drug_props, rule.other_props)
            )
            dl = _levels(drug_props, dp, DRUG_PROPERTIES)
            ol = _levels(other_props, op, other_vocab)
            s = rule.table[dl[:, None], ol[None, :]]
            if rule.require:
                s = s * (_levels(drug_props, rule.require, DRUG_PROPERTIES) > 0)[:, None]
            if rule.bump_if:
                bump = (_levels(drug_props, rule.bump_if, DRUG_PROPERTIES) > 0)[:, None]
                s = np.where(bump & (s > 0), np.minimum(s + 1, 3), s).astype(np.int8)
            c = _CONFIDENCE[s]
            if other_certainty is not None:
                c = c * _certainty(kb, op)[None, :]
            better = s > sev
            sev = np.where(better, s, sev)
            rule_ix = np.where(better, k, rule_ix)
            conf = np.where(better, c, conf)
    if other_vocab is DRUG_PROPERTIES:
        np.fill_diagonal(sev, 0)
        np.fill_diagonal(rule_ix, -1)
        np.fill_diagonal(conf, 0.0)
    return sev.astype(np.int8), rule_ix.astype(np.int16), conf.astype(np.float32)


@dataclass(frozen=True)
class Predictions:
    """Mechanism predictions for the whole vocabulary (independent of the cited rows)."""

    food_sev: np.ndarray  # int8 [n_drugs, n_foods]
    food_rule: np.ndarray  # int16 index into FOOD_RULES, -1 none
    food_conf: np.ndarray  # float32
    dd_sev: np.ndarray  # int8 [victim, perpetrator]
    dd_rule: np.ndarray  # int16 index into DRUG_RULES
    dd_conf: np.ndarray


def predict(kb: Knowledge) -> Predictions:
    """Run every rule over the full property matrices in one vectorised pass."""
    fs, fr, fc = _run(
        FOOD_RULES, kb.drug_props, kb.food_props, FOOD_PROPERTIES, kb.food_prop_certainty, kb
    )
    ds, dr, dc = _run(DRUG_RULES, kb.drug_props, kb.drug_props, DRUG_PROPERTIES, None, kb)
    return Predictions(fs, fr, fc, ds, dr, dc)


def rule_citations(kb: Knowledge, rule: Rule, drug: int, other: int, kind: str) -> list[Cited]:
    """The property rows that made ``rule`` fire for this pair (for the explanation)."""
    out: list[Cited] = []
    for swap in (False, True) if rule.symmetric else (False,):
        dp, op = (
            (rule.other_props, rule.drug_props) if swap else (rule.drug_props, rule.other_props)
        )
        for prop in (*dp, *rule.require):
            cited = kb.drug_prop_cited.get((drug, prop))
            if cited and cited not in out:
                out.append(cited)
        for prop in op:
            table = kb.food_prop_cited if kind == "food" else kb.drug_prop_cited
            cited = table.get((other, prop))
            if cited and cited not in out:
                out.append(cited)
    return out


@dataclass(frozen=True)
class SafetyTables:
    """Known (cited) and predicted results for all pairs, plus control masks.

    Evidence codes: 0 nothing, 1 known (cited row), 2 predicted (mechanism).  A cited
    no-interaction control suppresses a prediction for its pair.
    """

    predictions: Predictions
    food_known_sev: np.ndarray  # int8 [n_drugs, n_foods]
    food_known_row: np.ndarray  # int32 index into kb.known_food, -1 none
    dd_known_sev: np.ndarray  # int8 symmetric [n_drugs, n_drugs]
    dd_known_row: np.ndarray  # int32 index into kb.known_drug
    food_control: np.ndarray  # bool
    dd_control: np.ndarray  # bool symmetric
    food_sev: np.ndarray  # final severity rank
    food_evidence: np.ndarray  # int8 evidence code
    dd_sev: np.ndarray  # final, symmetric, upper and lower filled
    dd_evidence: np.ndarray
    dd_victim_first: np.ndarray  # bool: the row drug is the affected one for predictions


def known_matrices(
    kb: Knowledge, exclude_drug: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Known-severity matrices; ``exclude_drug`` drops that drug's rows (cold start)."""
    nd, nf = len(kb.drugs), len(kb.foods)
    fk = np.zeros((nd, nf), dtype=np.int8)
    fr = np.full((nd, nf), -1, dtype=np.int32)
    for i, row in enumerate(kb.known_food):
        if row.a == exclude_drug:
            continue
        s = SEVERITY_RANK[row.severity]
        if s > fk[row.a, row.b]:
            fk[row.a, row.b] = s
            fr[row.a, row.b] = i
    dk = np.zeros((nd, nd), dtype=np.int8)
    dr = np.full((nd, nd), -1, dtype=np.int32)
    for i, row in enumerate(kb.known_drug):
        if exclude_drug in (row.a, row.b):
            continue
        s = SEVERITY_RANK[row.severity]
        for a, b in ((row.a, row.b), (row.b, row.a)):
            if s > dk[a, b]:
                dk[a, b] = s
                dr[a, b] = i
    return fk, fr, dk, dr


def combine(kb: Knowledge, pred: Predictions, exclude_drug: int | None = None) -> SafetyTables:
    """Merge known rows, predictions and controls into the final lookup tables."""
    nd, nf = len(kb.drugs), len(kb.foods)
    fk, fr, dk, dr = known_matrices(kb, exclude_drug)
    fctl = np.zeros((nd, nf), dtype=bool)
    dctl = np.zeros((nd, nd), dtype=bool)
    for c in kb.controls:
        if c.kind == "food":
            fctl[c.a, c.b] = True
        else:
            dctl[c.a, c.b] = dctl[c.b, c.a] = True
    food_pred = np.where(fctl, 0, pred.food_sev).astype(np.int8)
    food_sev = np.where(fk > 0, fk, food_pred).astype(np.int8)
    food_ev = np.where(fk > 0, 1, np.where(food_pred > 0, 2, 0)).astype(np.int8)
    sym = np.maximum(pred.dd_sev, pred.dd_sev.T)
    idx = np.arange(nd)
    ties = (pred.dd_sev == pred.dd_sev.T) & (idx[:, None] < idx[None, :])
    victim_first = (pred.dd_sev > pred.dd_sev.T) | ties  # ties: lower index reported first
    dd_pred = np.where(dctl, 0, sym).astype(np.int8)
    dd_sev = np.where(dk > 0, dk, dd_pred).astype(np.int8)
    dd_ev = np.where(dk > 0, 1, np.where(dd_pred > 0, 2, 0)).astype(np.int8)
    return SafetyTables(
        pred, fk, fr, dk, dr, fctl, dctl, food_sev, food_ev, dd_sev, dd_ev, victim_first
    )


@lru_cache(maxsize=4)
def tables_for(kb: Knowledge) -> SafetyTables:
    """Predictions and merged tables for a knowledge base, computed once."""
    return combine(kb, predict(kb))
