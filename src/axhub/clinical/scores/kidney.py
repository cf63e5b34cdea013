"""Kidney: CKD-EPI 2021 eGFR (creatinine; creatinine–cystatin C) and the 4-variable KFRE.

Inker LA, Eneanya ND, Coresh J, et al. New Creatinine- and Cystatin C-Based Equations to
Estimate GFR without Race. N Engl J Med 2021;385:1737–1749.
Tangri N, et al. JAMA 2011;305:1553–1559; Tangri N, et al. JAMA 2016;315:164–174 (non-North-
American baseline survival, used for Korea: decision 0044).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from axhub.clinical.scores.columns import MISSING, OK, Inputs
from axhub.clinical.scores.result import Reasons, Score, in_range, require

# CKD-EPI 2021 creatinine equation (Inker 2021, Table 2). Index 0 = male, 1 = female.
CR_2021: dict[str, Any] = {
    "const": 142.0,
    "kappa": (0.9, 0.7),
    "alpha": (-0.302, -0.241),
    "beta": -1.200,
    "age_base": 0.9938,
    "female": 1.012,
}
# CKD-EPI 2021 creatinine–cystatin C equation (Inker 2021, Table 2).
CRCYS_2021: dict[str, Any] = {
    "const": 135.0,
    "kappa": (0.9, 0.7),
    "alpha": (-0.144, -0.219),
    "beta": -0.544,
    "cys_kappa": 0.8,
    "cys_alpha": -0.323,
    "cys_beta": -0.778,
    "age_base": 0.9961,
    "female": 0.963,
}
ADULT_AGE = (18, 120)  # both equations are for adults

# KFRE 4-variable (Tangri 2011/2016): X = Σ beta·(term − centre); risk = 1 − S0^exp(X).
KFRE_4VAR = {
    "age_per10": (-0.2201, 7.036),
    "male": (0.2467, 0.5642),
    "egfr_per5": (-0.5567, 7.222),
    "ln_uacr": (0.4510, 5.137),
}
KFRE_S0_NON_NORTH_AMERICA = {2: 0.9832, 5: 0.9365}  # Tangri 2016
KFRE_EGFR_MAX = 60.0  # intended for CKD G3–G5 (eGFR < 60)


def egfr_cr(x: Inputs) -> Score:
    """eGFR, CKD-EPI 2021 creatinine equation (mL/min/1.73 m²)."""
    r = Reasons(x.n)
    require(x, r, ["age_years", "sex", "creatinine_mgdl"])
    in_range(x, r, "age_years", *ADULT_AGE, "CKD-EPI 2021 (adults)")
    f = np.nan_to_num(x["sex"]).astype(np.intp)
    c = CR_2021
    kappa = np.asarray(c["kappa"])[f]
    alpha = np.asarray(c["alpha"])[f]
    with np.errstate(invalid="ignore"):
        ratio = x["creatinine_mgdl"] / kappa
        e = (
            c["const"]
            * np.minimum(ratio, 1.0) ** alpha
            * np.maximum(ratio, 1.0) ** c["beta"]
            * c["age_base"] ** x["age_years"]
            * np.where(f == 1, c["female"], 1.0)
        )
    return Score(e, r).finish()


def egfr_crcys(x: Inputs) -> Score:
    """eGFR, CKD-EPI 2021 creatinine–cystatin C equation (mL/min/1.73 m²)."""
    r = Reasons(x.n)
    require(x, r, ["age_years", "sex", "creatinine_mgdl", "cystatin_c_mgl"])
    in_range(x, r, "age_years", *ADULT_AGE, "CKD-EPI 2021 (adults)")
    f = np.nan_to_num(x["sex"]).astype(np.intp)
    c = CRCYS_2021
    kappa = np.asarray(c["kappa"])[f]
    alpha = np.asarray(c["alpha"])[f]
    with np.errstate(invalid="ignore"):
        ratio = x["creatinine_mgdl"] / kappa
        cys = x["cystatin_c_mgl"] / c["cys_kappa"]
        e = (
            c["const"]
            * np.minimum(ratio, 1.0) ** alpha
            * np.maximum(ratio, 1.0) ** c["beta"]
            * np.minimum(cys, 1.0) ** c["cys_alpha"]
            * np.maximum(cys, 1.0) ** c["cys_beta"]
            * c["age_base"] ** x["age_years"]
            * np.where(f == 1, c["female"], 1.0)
        )
    return Score(e, r).finish()


def derive_egfr(x: Inputs, computed: Score) -> None:
    """Add the derived input ``egfr``: CKD-EPI 2021 creatinine where computable, else the
    supplied ``egfr_ml_min``; its status says "missing" only when neither is usable."""
    given, given_st = x["egfr_ml_min"], x.status["egfr_ml_min"]
    use_computed = computed.reasons.ok
    values = np.where(use_computed, computed.values, given)
    status = np.where(use_computed, OK, given_st)
    # Creatinine present but implausible and no eGFR given: report the creatinine problem.
    cr_st = x.status["creatinine_mgdl"]
    status = np.where(~use_computed & (given_st == MISSING) & (cr_st > OK), cr_st, status)
    x.set_derived("egfr", values, status.astype(np.int8))
    x.messages[("egfr", 2)] = x.messages[("creatinine_mgdl", 2)]
    x.messages[("egfr", 3)] = x.messages[("creatinine_mgdl", 3)]


def kfre(x: Inputs) -> dict[str, Score]:
    """KFRE 4-variable, non-North-American calibration: 2- and 5-year kidney failure risk."""
    r = Reasons(x.n)
    require(x, r, ["age_years", "sex", "egfr", "uacr_mgg"])
    in_range(x, r, "age_years", *ADULT_AGE, "KFRE (adults)")
    with np.errstate(invalid="ignore"):
        r.add(x["egfr"] >= KFRE_EGFR_MAX, "outside validated range: egfr < 60 for KFRE")
        male = 1.0 - x["sex"]
        k = KFRE_4VAR
        lp = (
            k["age_per10"][0] * (x["age_years"] / 10.0 - k["age_per10"][1])
            + k["male"][0] * (male - k["male"][1])
            + k["egfr_per5"][0] * (x["egfr"] / 5.0 - k["egfr_per5"][1])
            + k["ln_uacr"][0] * (np.log(x["uacr_mgg"]) - k["ln_uacr"][1])
        )
        out = {}
        for years, s0 in KFRE_S0_NON_NORTH_AMERICA.items():
            out[f"kfre_{years}y"] = Score(1.0 - s0 ** np.exp(lp), r).finish()
    return out
