"""AHA PREVENT base equations: 10- and 30-year total CVD, ASCVD, heart failure, CHD and stroke.

Khan SS, Matsushita K, Sang Y, et al. Development and Validation of the American Heart
Association's PREVENT Equations. Circulation 2024;149(6):430–449 (coefficients: supplement
Table S12).  Coefficients are data: ``data/prevent_coefficients.csv`` (all five published
models).  ``score_table`` scores the base model; ``prevent(x, model="uacr" | "hba1c")`` gives the
+UACR and +HbA1c models with the paper's missing-value indicators.  The SDI and full models are
not offered: SDI is a US ZIP-code index with no Korean equivalent (decision 0043).
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

import numpy as np

from axhub.clinical.scores.columns import IMPLAUSIBLE, MISSING, OK, UNIT_SUSPECT, Inputs
from axhub.clinical.scores.result import Reasons, Score, in_range, require

OUTCOMES = ("cvd", "ascvd", "hf", "chd", "stroke")
HORIZONS = (10, 30)
# Validated input ranges (martingmayer/preventr, reference §2); 30-year estimates are for ages
# 30–59 (Khan 2024: the 30-year equations were developed in people aged 30–59).
AGE_RANGE = {10: (30, 79), 30: (30, 59)}
RANGES = {
    "total_chol_mgdl": (130, 320),
    "hdl_mgdl": (20, 100),
    "sbp_mmhg": (90, 180),
    "egfr": (15, 140),
}
# Optional-predictor ranges when the value is present (preventr); absent → missing indicator.
OPTIONAL_RANGES = {"uacr": ("uacr_mgg", 0.1, 25000.0), "hba1c": ("hba1c_pct", 4.5, 15.0)}
A1C_CENTRE = 5.3  # HbA1c terms are (HbA1c − 5.3)·dm and (HbA1c − 5.3)·(1 − dm)
MODELS = ("base", "uacr", "hba1c")
BMI_RANGE = (18.5, 39.9)  # heart-failure equations only (the only ones with BMI terms)
MMOL_PER_MGDL = 0.02586  # cholesterol conversion used by the PREVENT paper


@cache
def coefficients(model: str = "base") -> dict[tuple[int, str], dict[str, np.ndarray]]:
    """(horizon, outcome) → term → array([male, female]) for one published model."""
    text = resources.files("axhub.clinical.scores").joinpath("data/prevent_coefficients.csv")
    with text.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    out: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for row in rows:
        if row["model"] != model:
            continue
        horizon = int(row["horizon_years"])
        for outcome in OUTCOMES:
            pair = np.array([float(row[f"male_{outcome}"]), float(row[f"female_{outcome}"])])
            out.setdefault((horizon, outcome), {})[row["term"]] = pair
    return out


def terms(x: Inputs) -> dict[str, np.ndarray]:
    """The PREVENT predictor terms (Khan 2024 supplement; reference §2), NaN-propagating."""
    age, tc, hdl, sbp = x["age_years"], x["total_chol_mgdl"], x["hdl_mgdl"], x["sbp_mmhg"]
    bmi, egfr = x["bmi_kgm2"], x["egfr"]
    cage = (age - 55.0) / 10.0
    cnhdl = (tc - hdl) * MMOL_PER_MGDL - 3.5
    chdl = (hdl * MMOL_PER_MGDL - 1.3) / 0.3
    csbp_lt = (np.minimum(sbp, 110.0) - 110.0) / 20.0
    csbp_ge = (np.maximum(sbp, 110.0) - 130.0) / 20.0
    cbmi_lt = (np.minimum(bmi, 30.0) - 25.0) / 5.0
    cbmi_ge = (np.maximum(bmi, 30.0) - 30.0) / 5.0
    cegfr_lt = (np.minimum(egfr, 60.0) - 60.0) / -15.0
    cegfr_ge = (np.maximum(egfr, 60.0) - 90.0) / -15.0
    dm, smoking, bptx, statin = x["diabetes"], x["smoker_current"], x["bp_treated"], x["statin"]
    return {
        "cage": cage,
        "cage_sq": cage * cage,
        "cnhdl": cnhdl,
        "chdl": chdl,
        "csbp_lt": csbp_lt,
        "csbp_ge": csbp_ge,
        "dm": dm,
        "smoking": smoking,
        "cbmi_lt": cbmi_lt,
        "cbmi_ge": cbmi_ge,
        "cegfr_lt": cegfr_lt,
        "cegfr_ge": cegfr_ge,
        "bptx": bptx,
        "statin": statin,
        "bptx_x_csbp_ge": bptx * csbp_ge,
        "statin_x_cnhdl": statin * cnhdl,
        "cage_x_cnhdl": cage * cnhdl,
        "cage_x_chdl": cage * chdl,
        "cage_x_csbp_ge": cage * csbp_ge,
        "cage_x_dm": cage * dm,
        "cage_x_smoking": cage * smoking,
        "cage_x_cbmi_ge": cage * cbmi_ge,
        "cage_x_cegfr_lt": cage * cegfr_lt,
    }


BASE_INPUTS = (
    "age_years",
    "sex",
    "total_chol_mgdl",
    "hdl_mgdl",
    "sbp_mmhg",
    "bp_treated",
    "diabetes",
    "smoker_current",
    "statin",
    "egfr",
)


def _copy(r: Reasons) -> Reasons:
    c = Reasons(len(r.codes))
    c.codes, c.messages = r.codes.copy(), list(r.messages)
    return c


def _optional_terms(x: Inputs, model: str) -> dict[str, np.ndarray]:
    if model == "uacr":
        present = x.status["uacr_mgg"] == OK
        with np.errstate(invalid="ignore", divide="ignore"):
            ln = np.where(present, np.log(x["uacr_mgg"]), 0.0)
        return {"ln_uacr": ln, "uacr_miss": (x.status["uacr_mgg"] == MISSING).astype(float)}
    if model == "hba1c":
        present = x.status["hba1c_pct"] == OK
        centred = np.where(present, x["hba1c_pct"] - A1C_CENTRE, 0.0)
        dm = np.nan_to_num(x["diabetes"])
        return {
            "a1c_dm": centred * dm,
            "a1c_nodm": centred * (1.0 - dm),
            "a1c_miss": (x.status["hba1c_pct"] == MISSING).astype(float),
        }
    return {}


def prevent(x: Inputs, model: str = "base") -> dict[str, Score]:
    """All ten risks (fraction) of one PREVENT model: ids ``prevent_<outcome>_<10y|30y>``, with
    ``_<model>`` appended for the +UACR / +HbA1c models."""
    if model not in MODELS:
        raise ValueError(f"unknown PREVENT model {model!r}; choose one of {MODELS}")
    coefs = coefficients(model)
    sex = np.nan_to_num(x["sex"]).astype(np.intp)
    is_female = sex == 1
    keys = [(h, o) for h in HORIZONS for o in OUTCOMES]
    with np.errstate(invalid="ignore"):
        t = terms(x) | _optional_terms(x, model)
        names = list(t)
        # One (terms × n) matrix, written row by row (contiguous), times one (terms × 20)
        # coefficient matrix: every outcome, horizon and sex in a single pass.  NaN terms only
        # reach rows that are not computable anyway, except BMI (used by heart failure only).
        matrix = np.empty((len(names), x.n))
        for i, k in enumerate(names):
            matrix[i] = t[k]
            if "bmi" in k:
                np.nan_to_num(matrix[i], copy=False)
        beta = np.array(
            [[coefs[key].get(k, np.zeros(2))[s] for key in keys for s in (0, 1)] for k in names]
        )
        lp_all = beta.T @ matrix  # (20, n)
    common = Reasons(x.n)
    require(x, common, BASE_INPUTS)
    if model in OPTIONAL_RANGES:  # present but implausible or out of range: say so
        name, lo, hi = OPTIONAL_RANGES[model]
        for code in (IMPLAUSIBLE, UNIT_SUSPECT):
            common.add(x.status[name] == code, x.messages[(name, code)])
        in_range(x, common, name, lo, hi, f"PREVENT +{model}")
    suffix = "" if model == "base" else f"_{model}"
    out: dict[str, Score] = {}
    for horizon in HORIZONS:
        base = _copy(common)
        in_range(x, base, "age_years", *AGE_RANGE[horizon], f"{horizon}-year PREVENT")
        for name, (lo, hi) in RANGES.items():
            in_range(x, base, name, lo, hi, "PREVENT")
        hf = _copy(base)
        require(x, hf, ["bmi_kgm2"])
        in_range(x, hf, "bmi_kgm2", *BMI_RANGE, "PREVENT heart failure")
        for outcome in OUTCOMES:
            j = 2 * keys.index((horizon, outcome))
            lp = np.where(is_female, lp_all[j + 1], lp_all[j])
            lp += coefs[(horizon, outcome)]["constant"][sex]
            risk = 1.0 / (1.0 + np.exp(-lp))
            r = hf if outcome == "hf" else base
            out[f"prevent_{outcome}_{horizon}y{suffix}"] = Score(risk, r).finish()
    return out
