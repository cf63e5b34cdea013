"""Cardiovascular risk: Pooled Cohort Equations (2013, revised 2018), Framingham general CVD
(lipid and BMI models) and the Framingham Stroke Risk Profile (men).

Constants are transcribed from /work/shared/reference/clinical-scores.md §1 and §3 with the
primary citation next to each table; full double precision, no intermediate rounding
(docs/decisions/0040-pce-coefficients-and-rounding.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from axhub.clinical.scores.columns import Inputs
from axhub.clinical.scores.result import Reasons, Score, in_range, require

# --- Pooled Cohort Equations 2013 -------------------------------------------------------------
# Goff DC Jr, et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk.
# Circulation 2014;129(25 Suppl 2):S49–S73, Appendix 7 Table A.  Where a 4-dp value exists
# (AA-women equation, means, baseline survival) it is the one used by cerner/ascvd-risk-calculator
# app/load_fhir_data.js and bcjaeger/PooledCohort R/pcr.R (decision 0040).
# Column order: white men, African-American men, white women, African-American women.
PCE_GROUPS = ("white_male", "black_male", "white_female", "black_female")
PCE_2013: dict[str, tuple[float, float, float, float]] = {
    "ln_age": (12.344, 2.469, -29.799, 17.1141),
    "ln_age_sq": (0.0, 0.0, 4.884, 0.0),
    "ln_tc": (11.853, 0.302, 13.540, 0.9396),
    "ln_age_x_ln_tc": (-2.664, 0.0, -3.114, 0.0),
    "ln_hdl": (-7.990, -0.307, -13.578, -18.9196),
    "ln_age_x_ln_hdl": (1.769, 0.0, 3.149, 4.4748),
    "ln_sbp_treated": (1.797, 1.916, 2.019, 29.2907),
    "ln_age_x_ln_sbp_treated": (0.0, 0.0, 0.0, -6.4321),
    "ln_sbp_untreated": (1.764, 1.809, 1.957, 27.8197),
    "ln_age_x_ln_sbp_untreated": (0.0, 0.0, 0.0, -6.0873),
    "smoker": (7.837, 0.549, 7.574, 0.6908),
    "ln_age_x_smoker": (-1.795, 0.0, -1.665, 0.0),
    "diabetes": (0.658, 0.645, 0.661, 0.8738),
    "mean": (61.1816, 19.5425, -29.1817, 86.6081),
    "s0_10y": (0.91436, 0.89536, 0.96652, 0.95334),
}
# Validated input ranges of the ACC/AHA calculator (reference §1 "common input validity").
PCE_RANGES = {
    "age_years": (40, 79),
    "total_chol_mgdl": (130, 320),
    "hdl_mgdl": (20, 100),
    "sbp_mmhg": (90, 200),
}

# --- Revised PCE 2018 -------------------------------------------------------------------------
# Yadlowsky S, Hayward RA, Sussman JB, et al. Clinical implications of revised pooled cohort
# equations for estimating atherosclerotic cardiovascular disease risk. Ann Intern Med
# 2018;169:20–29 (as in bcjaeger/PooledCohort R/pcr.R; MSD Manual calculator).  (male, female)
PCE_2018: dict[str, tuple[float, float]] = {
    "intercept": (-11.679980, -12.823110),
    "age": (0.064200, 0.106501),
    "black": (0.482835, 0.432440),
    "sbp_sq": (-0.000061, 0.000056),
    "sbp": (0.038950, 0.017666),
    "bp_treated": (2.055533, 0.731678),
    "diabetes": (0.842209, 0.943970),
    "smoker": (0.895589, 1.009790),
    "tc_hdl": (0.193307, 0.151318),
    "age_x_black": (0.0, -0.008580),
    "sbp_x_bp_treated": (-0.014207, -0.003647),
    "sbp_x_black": (0.011609, 0.006208),
    "black_x_bp_treated": (-0.119460, 0.152968),
    "age_x_sbp": (0.000025, -0.000153),
    "black_x_diabetes": (-0.077214, 0.115232),
    "black_x_smoker": (-0.226771, -0.092231),
    "black_x_tc_hdl": (-0.117749, 0.070498),
    "black_x_sbp_x_bp_treated": (0.004190, -0.000173),
    "black_x_sbp_x_age": (-0.000199, -0.000094),
}

# --- Framingham general CVD 2008 --------------------------------------------------------------
# D'Agostino RB Sr, Vasan RS, Pencina MJ, et al. General cardiovascular risk profile for use in
# primary care: the Framingham Heart Study. Circulation 2008;117:743–753 (Tables 2 and 3).
# (men, women)
FRAMINGHAM_LIPID: dict[str, tuple[float, float]] = {
    "ln_age": (3.06117, 2.32888),
    "ln_tc": (1.12370, 1.20904),
    "ln_hdl": (-0.93263, -0.70833),
    "ln_sbp_untreated": (1.93303, 2.76157),
    "ln_sbp_treated": (1.99881, 2.82263),
    "smoker": (0.65451, 0.52873),
    "diabetes": (0.57367, 0.69154),
    "mean": (23.9802, 26.1931),
    "s0_10y": (0.88936, 0.95012),
}
FRAMINGHAM_BMI: dict[str, tuple[float, float]] = {
    "ln_age": (3.11296, 2.72107),
    "ln_bmi": (0.79277, 0.51125),
    "ln_sbp_untreated": (1.85508, 2.81291),
    "ln_sbp_treated": (1.92672, 2.88267),
    "smoker": (0.70953, 0.61868),
    "diabetes": (0.53160, 0.77763),
    "mean": (23.9388, 26.0145),
    "s0_10y": (0.88431, 0.94833),
}
FRAMINGHAM_AGE = (30, 74)  # derivation ages, D'Agostino 2008

# --- Framingham Stroke Risk Profile, men ------------------------------------------------------
# Wolf PA, D'Agostino RB, Belanger AJ, Kannel WB. Stroke 1991;22:312–318; D'Agostino RB, et al.
# Stroke 1994;25:40–43 (adjustment for antihypertensive medication).  Men's point table as in the
# NINDS worksheet transcription in reference §3.2.  Each tuple: (lower bound of band, points);
# the upper bound of the last band closes the table.  Women: table not in the hub's reference,
# so women are "not computable" (never guessed).
FSRP_AGE_BANDS = (
    (54, 0),
    (57, 1),
    (60, 2),
    (63, 3),
    (66, 4),
    (69, 5),
    (73, 6),
    (76, 7),
    (79, 8),
    (82, 9),
)
FSRP_AGE_RANGE = (55, 84)  # validated ages
FSRP_SBP_UNTREATED = (
    (97, 0),
    (106, 1),
    (116, 2),
    (126, 3),
    (136, 4),
    (146, 5),
    (156, 6),
    (166, 7),
    (176, 8),
    (186, 9),
    (196, 10),
)
FSRP_SBP_TREATED = (
    (97, 0),
    (106, 1),
    (113, 2),
    (118, 3),
    (124, 4),
    (130, 5),
    (136, 6),
    (143, 7),
    (151, 8),
    (162, 9),
    (177, 10),
)
FSRP_SBP_RANGE = (97, 205)  # the table's first and last band bounds
FSRP_POINTS = {
    "diabetes": 2,
    "smoker_current": 3,
    "cvd_history": 4,
    "atrial_fibrillation": 4,
    "lvh": 5,
}
# 10-year stroke probability (%) for 1..30 points.
FSRP_PROB_PCT = (
    3,
    3,
    4,
    4,
    5,
    5,
    6,
    7,
    8,
    10,
    11,
    13,
    15,
    17,
    20,
    22,
    26,
    29,
    33,
    37,
    42,
    47,
    52,
    57,
    63,
    68,
    74,
    79,
    84,
    88,
)


def _coef(table: Mapping[str, tuple[float, ...]], group: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64)[group] for k, v in table.items()}


def pce_2013(x: Inputs) -> Score:
    """10-year hard ASCVD risk (fraction), Pooled Cohort Equations 2013."""
    r = Reasons(x.n)
    names = [
        "age_years",
        "sex",
        "total_chol_mgdl",
        "hdl_mgdl",
        "sbp_mmhg",
        "bp_treated",
        "smoker_current",
        "diabetes",
        "race_black",  # empty means "other" (0); an unreadable value is reported
    ]
    require(x, r, names)
    for name, (lo, hi) in PCE_RANGES.items():
        in_range(x, r, name, lo, hi, "PCE 2013")
    female, black = x["sex"], x["race_black"]
    group = np.nan_to_num(female * 2 + black).astype(np.intp)
    c = _coef(PCE_2013, group)
    with np.errstate(invalid="ignore", divide="ignore"):
        la, ltc, lhdl, lsbp = (
            np.log(x[k]) for k in ("age_years", "total_chol_mgdl", "hdl_mgdl", "sbp_mmhg")
        )
        tr, sm = x["bp_treated"], x["smoker_current"]
        s = (
            c["ln_age"] * la
            + c["ln_age_sq"] * la * la
            + c["ln_tc"] * ltc
            + c["ln_age_x_ln_tc"] * la * ltc
            + c["ln_hdl"] * lhdl
            + c["ln_age_x_ln_hdl"] * la * lhdl
            + tr * (c["ln_sbp_treated"] * lsbp + c["ln_age_x_ln_sbp_treated"] * la * lsbp)
            + (1 - tr) * (c["ln_sbp_untreated"] * lsbp + c["ln_age_x_ln_sbp_untreated"] * la * lsbp)
            + c["smoker"] * sm
            + c["ln_age_x_smoker"] * la * sm
            + c["diabetes"] * x["diabetes"]
        )
        risk = 1.0 - np.power(c["s0_10y"], np.exp(s - c["mean"]))
    return Score(risk, r).finish()


def pce_2018(x: Inputs) -> Score:
    """10-year ASCVD risk (fraction), revised Pooled Cohort Equations (Yadlowsky 2018)."""
    r = Reasons(x.n)
    names = [
        "age_years",
        "sex",
        "total_chol_mgdl",
        "hdl_mgdl",
        "sbp_mmhg",
        "bp_treated",
        "smoker_current",
        "diabetes",
        "race_black",  # empty means "other" (0); an unreadable value is reported
    ]
    require(x, r, names)
    for name, (lo, hi) in PCE_RANGES.items():
        in_range(x, r, name, lo, hi, "revised PCE 2018")
    c = _coef(PCE_2018, np.nan_to_num(x["sex"]).astype(np.intp))
    age, sbp, b = x["age_years"], x["sbp_mmhg"], x["race_black"]
    tr, dm, sm = x["bp_treated"], x["diabetes"], x["smoker_current"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = x["total_chol_mgdl"] / x["hdl_mgdl"]
        lp = (
            c["intercept"]
            + c["age"] * age
            + c["black"] * b
            + c["sbp_sq"] * sbp * sbp
            + c["sbp"] * sbp
            + c["bp_treated"] * tr
            + c["diabetes"] * dm
            + c["smoker"] * sm
            + c["tc_hdl"] * ratio
            + c["age_x_black"] * age * b
            + c["sbp_x_bp_treated"] * sbp * tr
            + c["sbp_x_black"] * sbp * b
            + c["black_x_bp_treated"] * b * tr
            + c["age_x_sbp"] * age * sbp
            + c["black_x_diabetes"] * b * dm
            + c["black_x_smoker"] * b * sm
            + c["black_x_tc_hdl"] * b * ratio
            + c["black_x_sbp_x_bp_treated"] * b * sbp * tr
            + c["black_x_sbp_x_age"] * b * sbp * age
        )
        risk = 1.0 / (1.0 + np.exp(-lp))
    return Score(risk, r).finish()


def _framingham(x: Inputs, table: dict[str, tuple[float, float]], lipid: bool) -> Score:
    r = Reasons(x.n)
    first = ["total_chol_mgdl", "hdl_mgdl"] if lipid else ["bmi_kgm2"]
    require(
        x, r, ["age_years", "sex", *first, "sbp_mmhg", "bp_treated", "smoker_current", "diabetes"]
    )
    in_range(x, r, "age_years", *FRAMINGHAM_AGE, "Framingham general CVD")
    c = _coef(table, np.nan_to_num(x["sex"]).astype(np.intp))
    tr = x["bp_treated"]
    with np.errstate(invalid="ignore", divide="ignore"):
        lsbp = np.log(x["sbp_mmhg"])
        s = (
            c["ln_age"] * np.log(x["age_years"])
            + tr * c["ln_sbp_treated"] * lsbp
            + (1 - tr) * c["ln_sbp_untreated"] * lsbp
            + c["smoker"] * x["smoker_current"]
            + c["diabetes"] * x["diabetes"]
        )
        if lipid:
            s = s + c["ln_tc"] * np.log(x["total_chol_mgdl"]) + c["ln_hdl"] * np.log(x["hdl_mgdl"])
        else:
            s = s + c["ln_bmi"] * np.log(x["bmi_kgm2"])
        risk = 1.0 - np.power(c["s0_10y"], np.exp(s - c["mean"]))
    return Score(risk, r).finish()


def framingham_lipid(x: Inputs) -> Score:
    """10-year general CVD risk (fraction), Framingham 2008 lipid model."""
    return _framingham(x, FRAMINGHAM_LIPID, lipid=True)


def framingham_bmi(x: Inputs) -> Score:
    """10-year general CVD risk (fraction), Framingham 2008 office (BMI) model."""
    return _framingham(x, FRAMINGHAM_BMI, lipid=False)


def _band_points(values: np.ndarray, bands: tuple[tuple[int, int], ...]) -> np.ndarray:
    lows = np.array([b[0] for b in bands], dtype=np.float64)
    pts = np.array([b[1] for b in bands], dtype=np.float64)
    # Bands are whole numbers (mmHg, years); a value between two bands belongs to the lower one.
    idx = np.searchsorted(lows, np.floor(np.nan_to_num(values)), side="right") - 1
    return pts[np.clip(idx, 0, len(pts) - 1)]


def fsrp(x: Inputs) -> dict[str, Score]:
    """Framingham Stroke Risk Profile (men): points and 10-year stroke probability (fraction)."""
    r = Reasons(x.n)
    require(x, r, ["age_years", "sex", "sbp_mmhg", "bp_treated", *FSRP_POINTS])
    r.add(x["sex"] == 1.0, "FSRP women's point table not in the hub reference (men only)")
    in_range(x, r, "age_years", *FSRP_AGE_RANGE, "FSRP")
    in_range(x, r, "sbp_mmhg", *FSRP_SBP_RANGE, "the FSRP point table")
    sbp, tr = x["sbp_mmhg"], x["bp_treated"]
    points = _band_points(x["age_years"], FSRP_AGE_BANDS) + np.where(
        tr == 1.0, _band_points(sbp, FSRP_SBP_TREATED), _band_points(sbp, FSRP_SBP_UNTREATED)
    )
    for name, p in FSRP_POINTS.items():
        points = points + p * np.nan_to_num(x[name])
    pts = Score(points, r, kind="int").finish()
    rp = Reasons(x.n)
    rp.codes = r.codes.copy()
    rp.messages = list(r.messages)
    rp.add(points < 1, "FSRP probability table starts at 1 point")
    rp.add(points > len(FSRP_PROB_PCT), "FSRP probability table ends at 30 points")
    idx = np.clip(points.astype(np.intp) - 1, 0, len(FSRP_PROB_PCT) - 1)
    prob = np.asarray(FSRP_PROB_PCT, dtype=np.float64)[idx] / 100.0
    return {"fsrp_points": pts, "fsrp_stroke_10y": Score(prob, rp).finish()}
