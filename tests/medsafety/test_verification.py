"""Row-level verification status (decision 0059): validated on load, shown in citations."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from axhub.errors import InputError
from axhub.medsafety import check
from axhub.medsafety.knowledge import (
    DATA_DIR,
    KNOWLEDGE_FILES,
    VERIFICATION,
    Knowledge,
    load_knowledge,
    verification_counts,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "medsafety.md"
# An S row must say what it was checked against instead of the cited primary text.
SECONDARY_MARKERS = ("corroborated", "as quoted", "as reported", "secondary", "membership checked")


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", KNOWLEDGE_FILES)
def test_every_knowledge_row_has_a_status_and_s_rows_name_their_check(name: str) -> None:
    rows = _rows(name)
    assert rows
    assert {r["verified"] for r in rows} <= set(VERIFICATION)
    vague = [
        r["locator"]
        for r in rows
        if r["verified"] == "S" and not any(m in r["locator"] for m in SECONDARY_MARKERS)
    ]
    assert vague == []


@pytest.mark.parametrize("value", ["X", "verified", "v"])
def test_a_bad_status_fails_naming_file_line_and_field(data_copy: Path, value: str) -> None:
    path = data_copy / "food_interactions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + f",{value}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_knowledge(data_copy)
    assert err.value.path is not None and err.value.path.endswith("food_interactions.csv")
    assert (err.value.line, err.value.field) == (4, "verified")


def test_a_file_without_the_status_column_is_rejected(data_copy: Path) -> None:
    path = data_copy / "anticholinergic.csv"
    rows = [line.rsplit(",", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_knowledge(data_copy)
    assert (err.value.line, err.value.field) == (1, "verified")


def test_citations_carry_the_status(kb: Knowledge) -> None:
    statuses = {c.verified for c in kb.drug_prop_cited.values()}
    statuses |= {r.cited.verified for r in kb.known_food + kb.known_drug}
    assert statuses == set(VERIFICATION)
    goji = next(r for r in kb.known_food if kb.foods[r.b].food_id == "goji")
    assert goji.cited.verified == "V" and kb.cite(goji.cited).endswith("]")
    unchecked = next(r for r in kb.known_food if r.cited.verified == "U")
    assert kb.cite(unchecked.cited).endswith("[not yet checked against the source]")


def test_rows_the_sources_did_not_support_stay_out(kb: Knowledge) -> None:
    """Removed in the verification pass (docs/decisions/0059): not to come back uncited."""
    trial = [r for r in kb.known_food if r.cited.source_id == "yuan_2004"]
    assert trial == []  # American ginseng trial, not evidence for 홍삼 (Panax ginseng)
    onc_ids = {r["onc_id"] for r in _rows("onc_high_priority.csv")}
    assert "onc-13" not in onc_ids
    assert not [
        r
        for r in _rows("onc_high_priority.csv")
        if "methotrexate" in r["object_members"] and "trimethoprim" in r["precipitant_members"]
    ]
    pairs = {(f.drug, f.other): f for f in check(["methotrexate", "trimethoprim"])}
    assert all(f.mechanism != "onc" for f in pairs.values())


def test_corrected_rows_keep_their_correction(kb: Knowledge) -> None:
    by_pair = {(kb.drugs[r.a].drug_id, kb.foods[r.b].food_id): r for r in kb.known_food}
    assert by_pair[("warfarin", "goji")].severity == "moderate"
    assert by_pair[("colchicine", "grapefruit")].severity == "moderate"
    ginseng = by_pair[("warfarin", "red_ginseng")]
    assert (ginseng.mechanism, ginseng.cited.source_id) == ("unclear", "mfds_hff")
    # KFDA 2012-03-08: much pomegranate juice may markedly *reduce* warfarin's effect (third pass);
    # for carbamazepine the release gives no direction.
    assert by_pair[("warfarin", "pomegranate")].effect == "effect_down"
    assert by_pair[("carbamazepine", "pomegranate")].effect == "toxicity"
    drug = {
        (kb.drugs[r.a].drug_id, kb.drugs[r.b].drug_id): r
        for r in kb.known_drug
        if r.mechanism != "onc"
    }
    assert drug[("apixaban", "clarithromycin")].severity == "moderate"
    assert drug[("simvastatin", "ketoconazole")].severity == "contraindicated"
    # Halcion §4: contraindicated with strong CYP3A inhibitors (was "major").
    for inhibitor in ("ketoconazole", "itraconazole", "clarithromycin"):
        row = drug.get(("triazolam", inhibitor)) or drug[(inhibitor, "triazolam")]
        assert row.severity == "contraindicated"
    assert by_pair[("triazolam", "grapefruit")].severity == "contraindicated"
    onc = {
        (kb.drugs[r.a].drug_id, kb.drugs[r.b].drug_id)
        for r in kb.known_drug
        if r.mechanism == "onc"
    }
    assert ("amitriptyline", "selegiline") in onc  # TCA - MAO inhibitor class, added


def test_docs_summary_table_matches_the_data() -> None:
    """The verification table in docs/medsafety.md is the data's own count."""
    text = DOC.read_text(encoding="utf-8")
    counts = verification_counts()
    for name, c in counts.items():
        total = sum(c.values())
        row = rf"\| `{re.escape(name)}` \| {total} \| {c['V']} \| {c['S']} \| {c['U']} \|"
        assert re.search(row, text), name


@pytest.mark.parametrize(
    ("drug", "food", "status"),
    [
        ("acetaminophen", "alcohol", "V"),
        ("simvastatin", "grapefruit", "S"),
        ("cetirizine", "alcohol", "U"),
    ],
)
def test_findings_expose_the_best_status_of_their_rows(drug: str, food: str, status: str) -> None:
    (f,) = [x for x in check([drug], [food]) if x.other == food]
    assert f.evidence == "known" and f.extra["verified"] == status
