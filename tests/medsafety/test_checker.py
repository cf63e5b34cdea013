"""The checker: ranked findings, known vs predicted, controls, unknown names, elderly checks."""

from __future__ import annotations

import re

import pytest

from axhub.errors import NotFoundError
from axhub.medsafety import NO_FINDING_NOTE, check
from axhub.medsafety.checker import Finding


def _pairs(findings: list[Finding]) -> dict[tuple[str, str | None], Finding]:
    return {(f.drug, f.other): f for f in findings}


def test_brief_example_warfarin_simvastatin_with_ginseng_and_grapefruit() -> None:
    findings = check(["warfarin", "simvastatin"], ["홍삼", "자몽"])
    pairs = _pairs(findings)
    simva = pairs[("simvastatin", "grapefruit")]
    assert (simva.severity, simva.evidence, simva.kind) == ("major", "known", "drug-food")
    assert any("Zocor" in s for s in simva.sources)
    ginseng = pairs[("warfarin", "red_ginseng")]
    assert (ginseng.severity, ginseng.evidence) == ("moderate", "known")
    # Only the MFDS caution remains (decision 0059): the trial studied American ginseng, not 홍삼,
    # so the finding claims no direction; the caution was since checked against reports of the
    # MFDS text (secondary copies), which the citation says.
    assert ginseng.mechanism == "unclear" and len(ginseng.sources) == 1
    assert ginseng.sources[0].endswith("[checked against secondary sources only]")
    assert all(s.endswith("[checked against secondary sources only]") for s in simva.sources)
    assert [f.severity_rank for f in findings] == sorted(
        (f.severity_rank for f in findings), reverse=True
    )
    assert "자몽" in simva.advice["ko"] and "grapefruit" in simva.advice["en"]
    assert ("warfarin", "grapefruit") not in pairs and ("simvastatin", "red_ginseng") not in pairs


def test_predicted_findings_are_labelled_with_confidence_and_property_sources() -> None:
    (f,) = [x for x in check(["와파린"], ["청국장"]) if x.other == "cheonggukjang"]
    assert f.evidence == "predicted" and f.mechanism == "vitamin_k"
    assert f.confidence is not None and 0 < f.confidence < 0.5  # analogy-based property
    assert any("Coumadin" in s for s in f.sources)  # warfarin's vitamin K antagonism row
    assert any("natto" in s for s in f.sources)  # the analogy note for 청국장
    (natto,) = check(["warfarin"], ["낫토"])
    assert natto.evidence == "known" and natto.severity == "major"


@pytest.mark.parametrize(
    ("drugs", "foods"),
    [
        (["amlodipine"], ["grapefruit"]),
        (["doxycycline"], ["milk"]),
        (["amlodipine", "warfarin", "digoxin"], []),
        (["clopidogrel", "pantoprazole"], []),
    ],
)
def test_cited_no_interaction_controls_do_not_alert(drugs: list[str], foods: list[str]) -> None:
    assert [f for f in check(drugs, foods) if f.kind in {"drug-food", "drug-drug"}] == []


def test_known_drug_pairs_and_onc_contraindications() -> None:
    pairs = _pairs(check(["simvastatin", "clarithromycin", "clopidogrel", "omeprazole"]))
    both = pairs[("simvastatin", "clarithromycin")]  # FDA 2011 contraindication and ONC pair
    assert both.severity == "contraindicated" and both.mechanism == "cyp_inhibition"
    assert any("Phansalkar" in s for s in both.sources)
    assert any("Zocor (simvastatin)" in s for s in both.sources)
    onc = _pairs(check(["atazanavir", "omeprazole"]))[("atazanavir", "omeprazole")]
    assert (onc.severity, onc.mechanism) == ("contraindicated", "onc")
    assert "Table 2 (read)" in onc.sources[0] and onc.sources[0].count("[") == 1  # verified: V
    ppi = pairs[("clopidogrel", "omeprazole")]
    assert (ppi.severity, ppi.effect) == ("major", "effect_down")


def test_cyp_inference_for_a_pair_without_a_cited_row() -> None:
    # tizanidine is a sensitive CYP1A2 substrate and fluvoxamine a strong CYP1A2 inhibitor
    # (FDA Table 1); the pair is cited through the ONC list, so remove that by using a drug
    # pair that only the rules know: duloxetine (sensitive 1A2) + ciprofloxacin (strong 1A2).
    (f,) = [x for x in check(["duloxetine", "ciprofloxacin"]) if x.mechanism == "cyp_inhibition"]
    assert f.evidence == "predicted" and f.severity == "major"
    assert (f.drug, f.other) == ("duloxetine", "ciprofloxacin")
    assert "CYP1A2" in f.explanation["en"]


def test_unknown_names_are_reported_or_raise() -> None:
    findings = check(["warfarin", "메트폴"], ["홍삼"])
    unresolved = [f for f in findings if f.kind == "unresolved"]
    assert len(unresolved) == 1 and unresolved[0].input_name == "메트폴"
    assert any("metformin" in s for s in unresolved[0].suggestions)
    with pytest.raises(NotFoundError) as err:
        check(["메트폴"], [], strict=True)
    assert any("metformin" in s for s in err.value.suggestions)


def test_elderly_criteria_apply_from_65_only() -> None:
    regimen = ["amitriptyline", "oxybutynin", "zolpidem", "amlodipine", "nifedipine"]
    old = check(regimen, age=78)
    kinds = {(f.kind, f.drug) for f in old}
    assert ("elderly", "amitriptyline") in kinds and ("elderly", "zolpidem") in kinds
    (burden,) = [f for f in old if f.kind == "anticholinergic"]
    assert burden.extra["score"] == 6 and "Rudolph" in burden.sources[0]
    assert ("duplicate", "amlodipine") in kinds  # both C08CA
    young = check(regimen, age=50)
    assert not [f for f in young if f.kind in {"elderly", "anticholinergic"}]
    assert [f for f in young if f.kind == "duplicate"]


def test_json_shape_has_the_documented_fields() -> None:
    d = check(["warfarin"], ["녹즙"])[0].to_dict()
    for key in ("drug", "food", "second_drug", "severity", "mechanism", "evidence", "sources"):
        assert key in d
    assert d["food"] == "green_juice" and d["second_drug"] is None
    assert set(d["advice"]) == {"en", "ko"} and set(d["action"]) == {"en", "ko"}


def test_nothing_found_is_never_called_safe() -> None:
    assert check(["metformin"], ["시금치"]) == []
    assert "does not mean they are safe" in NO_FINDING_NOTE["en"]
    assert "안전하다는 뜻은 아닙니다" in NO_FINDING_NOTE["ko"]
    assert not re.search(r"(?<!not mean they are )\bsafe\b", NO_FINDING_NOTE["en"])


def test_a_food_given_as_a_drug_is_pointed_to_the_right_list() -> None:
    (f,) = [x for x in check(["홍삼", "digoxin", "furosemide"]) if x.kind == "unresolved"]
    assert f.suggestions[0] == "red_ginseng (a food, not a drug)"
    pairs = _pairs(check(["digoxin", "furosemide"]))
    assert pairs[("digoxin", "furosemide")].mechanism == "hypokalaemia_ddi"
