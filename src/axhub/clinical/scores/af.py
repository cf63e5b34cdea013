"""Atrial fibrillation point scores: CHA2DS2-VASc (stroke) and HAS-BLED (bleeding).

Lip GY, Nieuwlaat R, Pisters R, Lane DA, Crijns HJ. Refining clinical risk stratification for
predicting stroke and thromboembolism in atrial fibrillation. Chest 2010;137:263–272.
Pisters R, Lane DA, Nieuwlaat R, de Vos CB, Crijns HJ, Lip GY. A novel user-friendly score
(HAS-BLED) to assess 1-year risk of major bleeding. Chest 2010;138:1093–1100.
Both are computed for every row with the inputs; they are meant for people with AF.
"""

from __future__ import annotations

import numpy as np

from axhub.clinical.scores.columns import Inputs
from axhub.clinical.scores.result import Reasons, Score, require

# CHA2DS2-VASc points (Lip 2010).
CHA2DS2VASC_FLAGS = {
    "chf": 1,  # C: congestive heart failure / LV dysfunction
    "hypertension": 1,  # H
    "diabetes": 1,  # D
    "prior_stroke_tia_te": 2,  # S2: stroke / TIA / thromboembolism
    "vascular_disease": 1,  # V: prior MI, PAD, aortic plaque
}
CHA2DS2VASC_AGE = ((65.0, 1), (75.0, 2))  # A: 65–74 → 1; A2: ≥75 → 2
CHA2DS2VASC_FEMALE = 1  # Sc: sex category (female)

# HAS-BLED points (Pisters 2010), one each.
HASBLED_SBP_UNCONTROLLED = 160.0  # H: uncontrolled hypertension, SBP > 160 mmHg
HASBLED_ELDERLY = 65.0  # E: age > 65 (completed years, so from the 66th birthday)
HASBLED_FLAGS = (
    "renal_abnormal",
    "liver_abnormal",
    "prior_stroke",
    "bleeding_history",
    "labile_inr",
    "antiplatelet_or_nsaid",
    "alcohol_excess",
)


def cha2ds2vasc(x: Inputs) -> Score:
    """CHA2DS2-VASc (0–9 points)."""
    r = Reasons(x.n)
    require(x, r, ["age_years", "sex", *CHA2DS2VASC_FLAGS])
    age = x["age_years"]
    with np.errstate(invalid="ignore"):
        (a1, p1), (a2, p2) = CHA2DS2VASC_AGE
        pts = np.where(age >= a2, p2, np.where(age >= a1, p1, 0))
    pts = pts + CHA2DS2VASC_FEMALE * np.nan_to_num(x["sex"])
    for name, p in CHA2DS2VASC_FLAGS.items():
        pts = pts + p * np.nan_to_num(x[name])
    return Score(pts.astype(np.float64), r, kind="int").finish()


def hasbled(x: Inputs) -> Score:
    """HAS-BLED (0–9 points)."""
    r = Reasons(x.n)
    require(x, r, ["sbp_mmhg", "age_years", *HASBLED_FLAGS])
    with np.errstate(invalid="ignore"):
        pts = (x["sbp_mmhg"] > HASBLED_SBP_UNCONTROLLED).astype(np.float64)
        pts += (np.floor(x["age_years"]) > HASBLED_ELDERLY).astype(np.float64)
    for name in HASBLED_FLAGS:
        pts = pts + np.nan_to_num(x[name])
    return Score(pts, r, kind="int").finish()
