"""Vocabularies and record types of the medication-safety knowledge base (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SEVERITIES = ("none", "minor", "moderate", "major", "contraindicated")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
EFFECTS = ("exposure_up", "exposure_down", "effect_up", "effect_down", "toxicity")
OPPOSITE_EFFECT = {
    "exposure_up": "exposure_down",
    "exposure_down": "exposure_up",
    "effect_up": "effect_down",
    "effect_down": "effect_up",
}

# Property vocabularies (columns of the property matrices).  Levels: substrates 2 sensitive,
# 1 moderate/unclassified; inhibitors/inducers 3 strong, 2 moderate, 1 weak (FDA Table 2);
# other properties 1 (present) or a small graded scale documented in docs/medsafety.md.
DRUG_PROPERTIES = (
    "cyp3a_sub",
    "cyp2c9_sub",
    "cyp2c19_sub",
    "cyp1a2_sub",
    "cyp2d6_sub",
    "pgp_sub",
    "bcrp_sub",
    "oatp_gut_sub",
    "low_oral_f",
    "cyp3a_inh",
    "cyp2c9_inh",
    "cyp2c19_inh",
    "cyp1a2_inh",
    "cyp2d6_inh",
    "pgp_inh",
    "cyp3a_ind",
    "cyp2c9_ind",
    "cyp2c19_ind",
    "cyp1a2_ind",
    "pgp_ind",
    "cyp2c19_prodrug",
    "nti",
    "vka",
    "anticoagulant",
    "antiplatelet",
    "nsaid",
    "gi_bleed",
    "maoi",
    "serotonergic",
    "chelation",
    "k_raising",
    "k_losing",
    "digitalis",
    "cns_depressant",
    "antidiabetic",
    "hypoglycaemia",
    "lactic_acidosis",
    "disulfiram_like",
    "alcohol_hepatotoxic",
    "methylxanthine",
    "bisphosphonate",
    "dao_inhibitor",
    "qt",
    "xo_inhibitor",
    "xo_substrate",
    "sympathomimetic",
    "antifolate",
    "acid_dependent_absorption",
    "acid_suppressant",
)
FOOD_PROPERTIES = (
    "cyp3a_inh_gut",
    "oatp_inh",
    "beverage",
    "cyp3a_ind",
    "pgp_ind",
    "serotonergic",
    "vitamin_k",
    "alcohol",
    "divalent_cation",
    "caffeine",
    "cyp1a2_sub",
    "mineralocorticoid",
    "potassium",
    "bleeding",
    "glucose_lowering",
    "tyramine",
    "histamine",
    "bcrp_inh",
    "cyp1a2_ind",
)
# Row-level verification status (column ``verified`` of every knowledge file, decision 0059):
# V the row was checked against the cited primary source's text (locator says where);
# S the row was checked only against secondary copies or compilations named in the locator;
# U not (yet) checked against any source text.  Rows contradicted by their source, or for which
# no support was found, are removed rather than kept as U.
VERIFICATION = ("V", "S", "U")
VERIFICATION_NOTE = {
    "V": "",
    "S": " [checked against secondary sources only]",
    "U": " [not yet checked against the source]",
}

# Sources whose property is an analogy rather than a measurement: predictions resting on
# them get half the confidence (see docs/medsafety.md, "confidence").
ANALOGY_SOURCES = frozenset({"ref_msafety"})


@dataclass(frozen=True)
class Source:
    source_id: str
    citation: str
    url: str
    licence: str
    verified: str  # V checked against a primary page this session; U not re-checked; S secondary


@dataclass(frozen=True)
class DrugEntry:
    drug_id: str
    name_en: str
    name_ko: str
    atc: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class FoodEntry:
    food_id: str
    name_en: str
    name_ko: str
    category: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Cited:
    """A source reference: which source, where in it, and which data row said so."""

    source_id: str
    locator: str
    row: str  # "file.csv:line"
    verified: str = "U"  # V | S | U, see VERIFICATION


@dataclass(frozen=True)
class KnownInteraction:
    """One cited interaction, expanded to a concrete pair (``a`` is the affected drug)."""

    a: int  # drug index
    b: int  # food index (kind food) or drug index (kind drug)
    kind: str  # "food" | "drug"
    severity: str
    effect: str
    mechanism: str
    cited: Cited
    consequence: str = ""
    consequence_ko: str = ""


@dataclass(frozen=True)
class Control:
    """A cited pair documented as NOT interacting to a clinically relevant degree."""

    a: int
    b: int
    kind: str
    cited: Cited


@dataclass(frozen=True)
class ElderlyCriterion:
    criterion_id: str
    drugs: tuple[int, ...]
    min_age: int
    severity: str
    summary_en: str
    summary_ko: str
    cited: Cited


@dataclass(eq=False)
class Knowledge:
    """The loaded, validated and indexed knowledge base (read-only after load)."""

    sources: dict[str, Source]
    drugs: list[DrugEntry]
    foods: list[FoodEntry]
    drug_index: dict[str, int]
    food_index: dict[str, int]
    drug_props: np.ndarray  # int8 [n_drugs, len(DRUG_PROPERTIES)]
    food_props: np.ndarray  # int8 [n_foods, len(FOOD_PROPERTIES)]
    food_prop_certainty: np.ndarray  # float32 [n_foods, len(FOOD_PROPERTIES)]
    drug_prop_cited: dict[tuple[int, str], Cited]
    food_prop_cited: dict[tuple[int, str], Cited]
    known_food: list[KnownInteraction]
    known_drug: list[KnownInteraction]
    controls: list[Control]
    criteria: list[ElderlyCriterion]
    anticholinergic: np.ndarray  # int8 [n_drugs] Anticholinergic Risk Scale points
    anticholinergic_cited: dict[int, Cited]
    mechanisms: dict[str, dict[str, str]]
    outside_vocabulary: dict[str, int] = field(default_factory=dict)

    def cite(self, cited: Cited) -> str:
        src = self.sources[cited.source_id]
        return f"{src.citation} [{cited.locator}]{VERIFICATION_NOTE[cited.verified]}"
