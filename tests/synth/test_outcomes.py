"""Ground-truth events follow the published equations and carry signal for later models."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from axhub.synth import outcomes
from axhub.synth.generate import draw_region
from axhub.synth.health import creatinine_from_egfr, egfr_ckd_epi_2021


@pytest.fixture(scope="module")
def drawn():
    return draw_region(40_000, 314)


def test_creatinine_inverse_of_ckd_epi_2021():
    egfr = np.array([8.0, 25.0, 44.0, 59.9, 75.0, 95.0, 130.0])
    for male in (True, False):
        for age in (25.0, 60.0, 85.0):
            cr = creatinine_from_egfr(egfr, np.full(7, age), np.full(7, male))
            back = egfr_ckd_epi_2021(cr, np.full(7, age), np.full(7, male))
            np.testing.assert_allclose(back, egfr, rtol=1e-9)


def test_ckd_epi_2021_published_form():
    # Male, 50 y, creatinine 1.0 mg/dL: 142 × (1.0/0.9)^-1.200 × 0.9938^50 (Inker 2021).
    expected = 142 * (1.0 / 0.9) ** -1.2 * 0.9938**50
    got = egfr_ckd_epi_2021(np.array([1.0]), np.array([50.0]), np.array([True]))[0]
    assert got == pytest.approx(expected, rel=1e-12)
    assert 91 < got < 92  # the NKF CKD-EPI 2021 calculator shows 91 for this case


def _score_inputs(drawn, n: int) -> pa.Table:
    p, h = drawn.p, drawn.h
    table = pa.table({
        "person_id": drawn.person_ids,
        "age_years": p["age"].astype(float),
        "sex": np.where(p["male"], "male", "female"),
        "sbp_mmhg": h["sbp"], "bp_treated": h["bp_treated"],
        "total_chol_mgdl": h["total_cholesterol"], "hdl_mgdl": h["hdl"],
        "smoker_current": h["smoking_status"] == 2, "diabetes": h["diabetes"],
        "statin": h["statin"], "egfr_ml_min": h["egfr"], "uacr_mgg": h["uacr"],
        "bmi_kgm2": h["bmi"], "waist_cm": h["waist_cm"],
        "physically_active": ~h["physically_inactive"],
        "daily_veg_fruit": ~h["no_daily_vegetables"],
        "antihypertensive_ever": h["bp_treated"],
        "high_glucose_ever": (h["fasting_glucose"] >= 100) | (h["hba1c"] >= 5.7),
        "family_history_diabetes": h["family_history_diabetes"],
    })  # fmt: skip
    return table.slice(0, n)


def test_equations_agree_with_the_clinical_score_module(drawn):
    """Two implementations from clinical-scores.md (synth's and clinical's) agree."""
    scores = pytest.importorskip("axhub.clinical.scores")
    n = 12_000
    scored = scores.score_table(_score_inputs(drawn, n)).to_pydict()
    risk = {k: v[:n] for k, v in drawn.risk.items()}
    prevent = np.array(scored["prevent_stroke_10y"], dtype=float)
    ok = ~np.isnan(prevent)
    assert ok.sum() > 4_000
    np.testing.assert_allclose(risk["prevent_stroke_10y"][ok], prevent[ok], rtol=1e-9)
    kfre = np.array(scored["kfre_5y"], dtype=float)
    ok = ~np.isnan(kfre)
    assert ok.sum() > 50
    np.testing.assert_allclose(risk["kfre_5y"][ok], kfre[ok], rtol=1e-9)
    findrisc = np.array(scored["findrisc"], dtype=float)
    ok = ~np.isnan(findrisc)
    np.testing.assert_array_equal(risk["findrisc_points"][ok], findrisc[ok])


def test_findrisc_bands():
    pts = np.array([0, 6, 7, 11, 12, 14, 15, 20, 21, 26])
    np.testing.assert_allclose(
        outcomes.findrisc_10y(pts), [0.01, 0.01, 0.04, 0.04, 0.17, 0.17, 0.33, 0.33, 0.5, 0.5]
    )


def _event_rate(drawn, event: str, mask: np.ndarray) -> float:
    hit = np.zeros(drawn.people, dtype=bool)
    hit[drawn.events["person"][drawn.events["event"] == event]] = True
    return float(hit[mask].mean())


def test_events_carry_signal(drawn):
    risk, h, age = drawn.risk, drawn.h, drawn.p["age"]
    adult = age >= 40
    hi = adult & (
        risk["stroke_rate_per_year"] >= np.quantile(risk["stroke_rate_per_year"][adult], 0.9)
    )
    lo = adult & (
        risk["stroke_rate_per_year"] <= np.quantile(risk["stroke_rate_per_year"][adult], 0.5)
    )
    assert _event_rate(drawn, "stroke", hi) > 4 * _event_rate(drawn, "stroke", lo)
    af = adult & h["atrial_fibrillation"]
    assert _event_rate(drawn, "stroke", af) > _event_rate(drawn, "stroke", adult & ~af)
    no_dm = adult & ~h["diabetes"]
    high = no_dm & (risk["findrisc_points"] >= 15)
    low = no_dm & (risk["findrisc_points"] < 7)
    assert _event_rate(drawn, "diabetes", high) > 5 * _event_rate(drawn, "diabetes", low)
    assert _event_rate(drawn, "diabetes", drawn.p["age"] < 19) == 0.0
    old = age >= 80
    assert _event_rate(drawn, "death", old) > 5 * _event_rate(
        drawn, "death", (age >= 40) & (age < 60)
    )


def test_insulin_resistance_links_metabolites_to_future_diabetes(drawn):
    from axhub.synth.extras import metabolomics

    no_dm = np.nonzero((drawn.p["age"] >= 40) & ~drawn.h["diabetes"])[0]
    values = metabolomics(np.random.default_rng(0), no_dm, drawn.h, drawn.p["male"])
    hit = np.zeros(drawn.people, dtype=bool)
    hit[drawn.events["person"][drawn.events["event"] == "diabetes"]] = True
    future = hit[no_dm]
    assert future.sum() > 50
    # Wang 2011: BCAA/AAA higher in people who develop diabetes; glycine lower (Wang-Sattler 2012).
    for name in ("leucine", "isoleucine", "valine", "tyrosine", "phenylalanine"):
        assert values[name][future].mean() > values[name][~future].mean(), name
    assert values["glycine"][future].mean() < values["glycine"][~future].mean()
