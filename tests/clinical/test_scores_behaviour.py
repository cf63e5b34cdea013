"""Behaviour a user notices: reasons instead of numbers, implausible values, inputs, KDM, eFI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from axhub.clinical.scores import (
    DEFICITS,
    INPUT_COLUMNS,
    SCORE_IDS,
    efi_flags_from_codes,
    kdm_fit,
    read_inputs,
    score_table,
    summarise,
)
from axhub.clinical.scores.ageing import kdm_apply
from axhub.errors import InputError

from .scores_population import population

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scores.md"
PCE_ROW = {
    "sex": "male",
    "age_years": 55,
    "total_chol_mgdl": 213,
    "hdl_mgdl": 50,
    "sbp_mmhg": 120,
    "bp_treated": False,
    "smoker_current": False,
    "diabetes": False,
}


def scored(rows: list[dict[str, Any]]) -> pa.Table:
    keys = sorted({k for r in rows for k in r})
    return score_table(pa.table({k: [r.get(k) for r in rows] for k in keys}))


def reason(t: pa.Table, score: str, i: int = 0) -> str:
    return t.column(f"{score}_reason")[i].as_py()


def test_missing_input_gives_reason_not_number() -> None:
    t = scored([{k: v for k, v in PCE_ROW.items() if k not in ("hdl_mgdl", "diabetes")}])
    assert t.column("pce_ascvd_10y")[0].as_py() is None
    assert reason(t, "pce_ascvd_10y") == "not computable: needs hdl_mgdl, diabetes"


@pytest.mark.parametrize(
    ("change", "score", "fragment"),
    [
        ({"sbp_mmhg": 20}, "pce_ascvd_10y", "implausible sbp_mmhg (outside 50–300 mmHg)"),
        ({"total_chol_mgdl": 5.2}, "pce_ascvd_10y", "total_chol_mgdl: value looks like mmol/L"),
        ({"hba1c_pct": 40}, None, "hba1c_pct: value looks like mmol/mol"),
        ({"creatinine_mgdl": 88}, "egfr_ckdepi2021_cr", "creatinine_mgdl: value looks like µmol/L"),
        ({"age_years": 39}, "pce_ascvd_10y", "outside validated range: age_years 40–79"),
        ({"age_years": 82}, "prevent_cvd_10y", "outside validated range: age_years 30–79"),
        ({"age_years": 65}, "prevent_cvd_30y", "outside validated range: age_years 30–59"),
        ({"sex": "unknown"}, "pce_ascvd_10y", "unreadable sex"),
        ({"race_black": "asian"}, "pce_ascvd_10y", "unreadable race_black"),
    ],
)
def test_implausible_and_out_of_range_inputs_are_excluded_with_reason(
    change: dict[str, Any], score: str | None, fragment: str
) -> None:
    row = PCE_ROW | {"statin": False, "egfr_ml_min": 90} | change
    t = scored([row])
    if score is None:  # HbA1c: only flagged on the inputs (no base score uses it)
        x = read_inputs(pa.table({k: [v] for k, v in row.items()}))
        assert x.problem_counts() == {"hba1c_pct": 1}
        assert fragment in x.messages[("hba1c_pct", 3)]
        return
    assert t.column(score)[0].as_py() is None
    assert fragment in reason(t, score)


def test_value_and_reason_are_never_both_set() -> None:
    t = score_table(population(2000, seed=5))
    for sid in SCORE_IDS:
        values, reasons = t.column(sid), t.column(f"{sid}_reason")
        both = pa.compute.and_(pa.compute.is_valid(values), pa.compute.is_valid(reasons))
        neither = pa.compute.and_(pa.compute.is_null(values), pa.compute.is_null(reasons))
        assert not pa.compute.any(both).as_py(), sid
        assert not pa.compute.any(neither).as_py(), sid
    counts = summarise(t)
    assert all(c["computed"] > 0 for sid, c in counts.items() if sid != "kdm_bioage"), counts


def test_accepts_duckdb_relation_and_word_flags() -> None:
    con = duckdb.connect()
    rel = con.sql(
        "SELECT 'p1' AS person_id, 'M' AS sex, 55 AS age_years, 213 AS total_chol_mgdl, "
        "50 AS hdl_mgdl, 120 AS sbp_mmhg, 'no' AS bp_treated, 'N' AS smoker_current, "
        "0 AS diabetes"
    )
    t = score_table(rel)
    assert t.column("person_id").to_pylist() == ["p1"]
    assert round(t.column("pce_ascvd_10y")[0].as_py() * 100, 1) == 5.4


def test_unreadable_numeric_column_names_column_and_row() -> None:
    bad = pa.table({"sbp_mmhg": ["120", "1x0", "130"]})
    with pytest.raises(InputError) as err:
        score_table(bad, path="people.csv", first_line=2)
    assert err.value.field == "sbp_mmhg" and err.value.path == "people.csv"
    assert err.value.fields["line"] == 3


def test_kdm_fit_apply_recovers_age_for_expected_biomarkers() -> None:
    # Simulated reference: each biomarker = q + k·age + noise (per sex). A person whose
    # biomarkers sit exactly on the fitted lines at their age gets KDM age = their age.
    rng = np.random.default_rng(7)
    n = 4000
    age = rng.uniform(30, 80, n)
    sex = rng.choice(["male", "female"], n)
    cols = {"age_years": age, "sex": sex}
    lines = {
        "sbp_mmhg": (100, 0.6, 12),
        "total_chol_mgdl": (170, 0.5, 30),
        "hba1c_pct": (4.8, 0.02, 0.5),
        "albumin_gdl": (4.8, -0.01, 0.3),
    }
    for name, (q, k, sd) in lines.items():
        cols[name] = q + k * age + rng.normal(0, sd, n)
    ref = read_inputs(pa.table(cols))
    model = kdm_fit(ref, biomarkers=list(lines))
    probe_age = np.array([40.0, 70.0])
    probe = {"age_years": probe_age, "sex": np.array(["male", "female"])}
    for j, name in enumerate(lines):
        probe[name] = model.q[[0, 1], j] + model.k[[0, 1], j] * probe_age
    got = kdm_apply(read_inputs(pa.table(probe)), model).values
    np.testing.assert_allclose(got, probe_age, rtol=1e-9)
    # Worse biomarkers (higher SBP, HbA1c) → older biological age.
    worse = dict(probe) | {"sbp_mmhg": probe["sbp_mmhg"] + 30, "hba1c_pct": probe["hba1c_pct"] + 1}
    older = kdm_apply(read_inputs(pa.table(worse)), model).values
    assert np.all(older > probe_age)
    # Without a fit the score says so.
    t = score_table(pa.table(probe))
    assert "needs a KDM reference fit" in reason(t, "kdm_bioage")


def test_kdm_fit_refuses_a_too_small_reference() -> None:
    ref = read_inputs(pa.table({"age_years": [50.0] * 5, "sex": ["male"] * 5}))
    with pytest.raises(InputError, match="KDM reference"):
        kdm_fit(ref, biomarkers=["sbp_mmhg"])


def test_efi_flags_from_codes() -> None:
    persons = pa.table({"person_id": ["a", "b", "c"]})
    conditions = pa.table(
        {
            "person_id": ["a", "a", "a", "b"],
            "code": ["I48.0", "E11", "i10", "Z99.3"],  # AF, diabetes, hypertension; wheelchair
        }
    )
    meds = pa.table(
        {
            "person_id": ["a"] * 5 + ["b"],
            "atc": ["C09AA02", "C10AA05", "A10BA02", "B01AA03", "N06AB06", "H03AA01"],
        }
    )
    flags = efi_flags_from_codes(persons, conditions, meds)
    rows = {r["person_id"]: r for r in flags.to_pylist()}
    assert len(flags.column_names) == 1 + len(DEFICITS) == 37
    a = {k for k, v in rows["a"].items() if v is True}
    assert a == {"efi_atrial_fibrillation", "efi_diabetes", "efi_hypertension", "efi_polypharmacy"}
    b = {k for k, v in rows["b"].items() if v is True}
    assert b == {"efi_mobility_transfer", "efi_thyroid_disease"}
    assert not any(v is True for k, v in rows["c"].items() if k != "person_id")
    t = score_table(flags)
    assert t.column("efi").to_pylist() == pytest.approx([4 / 36, 2 / 36, 0.0])


def test_efi_mapping_rows_carry_a_source() -> None:
    assert len(DEFICITS) == 36
    for d in DEFICITS:
        assert d.mapping_source, d.id
        assert d.icd10_prefixes or d.id in ("housebound", "polypharmacy"), d.id


def test_every_score_id_and_input_column_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z0-9_]+)`", text))
    missing_scores = [s for s in SCORE_IDS if s not in documented]
    fixed_inputs = [c.name for c in INPUT_COLUMNS if not c.name.startswith("efi_")]
    missing_inputs = [c for c in fixed_inputs if c not in documented]
    missing_efi = [d.id for d in DEFICITS if f"efi_{d.id}" not in documented]
    assert not missing_scores, f"score ids missing from docs/scores.md: {missing_scores}"
    assert not missing_inputs, f"input columns missing from docs/scores.md: {missing_inputs}"
    assert not missing_efi, f"eFI deficit columns missing from docs/scores.md: {missing_efi}"


def test_empty_table_and_table_without_known_columns() -> None:
    empty = score_table(pa.table({"person_id": pa.array([], pa.string())}))
    assert empty.num_rows == 0 and "pce_ascvd_10y_reason" in empty.column_names
    t = score_table(pa.table({"person_id": ["a"], "unrelated": [1]}))
    assert t.column("pce_ascvd_10y")[0].as_py() is None
    assert reason(t, "pce_ascvd_10y").startswith("not computable: needs age_years, sex")


def test_prevent_coefficient_file_matches_the_reference_appendix(shared_dir: Path) -> None:
    # The CSV is a transcription of clinical-scores.md Appendix A: compare every number.
    from axhub.clinical.scores.prevent import coefficients

    text = (shared_dir / "reference" / "clinical-scores.md").read_text(encoding="utf-8")
    appendix = text[text.index("## Appendix A") :]
    blocks = re.split(r"^#### ", appendix, flags=re.M)[1:]
    names = {
        "PREVENT Base model": "base",
        "PREVENT Base + UACR model": "uacr",
        "PREVENT Base + HbA1c model": "hba1c",
        "PREVENT Base + SDI model": "sdi",
        "PREVENT Full (UACR+HbA1c+SDI) model": "full",
    }
    outcomes = ["cvd", "ascvd", "hf", "chd", "stroke"]
    checked = 0
    for block in blocks:
        model_name, horizon_text = block.splitlines()[0].split(", ")
        model, horizon = names[model_name], int(horizon_text.split("-")[0])
        table = coefficients(model)
        for line in block.splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not line.startswith("|") or cells[0] in ("term", "---"):
                continue
            term = cells[0].replace("²", "_sq").replace("*", "_x_").replace(" ", "_").lower()
            for i, outcome in enumerate(outcomes):
                female, male = float(cells[1 + 2 * i]), float(cells[2 + 2 * i])
                assert table[(horizon, outcome)][term].tolist() == [male, female], (model, term)
                checked += 2
    assert checked == 2 * 5 * 267


def test_age_limits_are_in_completed_years() -> None:
    # Decision 0041: "40–79" includes a 79.6-year-old (79 completed years), not an 80-year-old;
    # HAS-BLED "elderly > 65" starts at the 66th birthday.
    t = scored([PCE_ROW | {"age_years": 79.6}, PCE_ROW | {"age_years": 80.0}])
    assert t.column("pce_ascvd_10y")[0].as_py() is not None
    assert "age_years 40–79" in reason(t, "pce_ascvd_10y", 1)
    flags = {
        k: False
        for k in (
            "renal_abnormal",
            "liver_abnormal",
            "prior_stroke",
            "bleeding_history",
            "labile_inr",
            "antiplatelet_or_nsaid",
            "alcohol_excess",
        )
    }
    hb = scored([flags | {"sbp_mmhg": 120, "age_years": a} for a in (65.9, 66.0)])
    assert hb.column("hasbled").to_pylist() == [0, 1]
