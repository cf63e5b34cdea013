"""FINDRISC, the Finnish Diabetes Risk Score (original form; 10-year type 2 diabetes risk).

Lindström J, Tuomilehto J. The diabetes risk score: a practical tool to predict type 2 diabetes
risk. Diabetes Care 2003;26:725–731 (Finnish Diabetes Association questionnaire).
The original points and bands are implemented; Korean waist cut-offs are not substituted.
"""

from __future__ import annotations

import numpy as np

from axhub.clinical.scores.columns import Inputs
from axhub.clinical.scores.result import Reasons, Score, in_range, require

# Age: <45 0; 45–54 2; 55–64 3; >64 4 (years, as a continuous age: lower bounds).
FINDRISC_AGE = ((45.0, 2), (55.0, 3), (65.0, 4))
# BMI: <25 0; 25–30 1; >30 3 (30 itself scores 1).
FINDRISC_BMI_LOW, FINDRISC_BMI_HIGH = 25.0, 30.0
# Waist (cm): men <94 0, 94–102 3, >102 4; women <80 0, 80–88 3, >88 4.  (male, female)
FINDRISC_WAIST = {"low": (94.0, 80.0), "high": (102.0, 88.0)}
FINDRISC_INACTIVE = 2  # no daily ≥30 min physical activity
FINDRISC_NO_VEG = 1  # not eating vegetables/fruit/berries every day
FINDRISC_ANTIHYPERTENSIVE = 2
FINDRISC_HIGH_GLUCOSE = 5
FINDRISC_FAMILY = (0, 3, 5)  # none; second-degree; first-degree relative
FINDRISC_INPUTS = (
    "age_years",
    "sex",
    "bmi_kgm2",
    "waist_cm",
    "physically_active",
    "daily_veg_fruit",
    "antihypertensive_ever",
    "high_glucose_ever",
    "family_history_diabetes",
)


def findrisc(x: Inputs) -> Score:
    """FINDRISC (0–26 points)."""
    r = Reasons(x.n)
    require(x, r, FINDRISC_INPUTS)
    in_range(x, r, "age_years", 18, 120, "FINDRISC (adults)")
    age, bmi, waist = x["age_years"], x["bmi_kgm2"], x["waist_cm"]
    f = np.nan_to_num(x["sex"]).astype(np.intp)
    with np.errstate(invalid="ignore"):
        pts = np.zeros(x.n)
        for low, p in FINDRISC_AGE:
            pts = np.where(age >= low, p, pts)
        pts += np.where(bmi > FINDRISC_BMI_HIGH, 3, np.where(bmi >= FINDRISC_BMI_LOW, 1, 0))
        lo = np.asarray(FINDRISC_WAIST["low"])[f]
        hi = np.asarray(FINDRISC_WAIST["high"])[f]
        pts += np.where(waist > hi, 4, np.where(waist >= lo, 3, 0))
    pts += FINDRISC_INACTIVE * (1 - np.nan_to_num(x["physically_active"], nan=1.0))
    pts += FINDRISC_NO_VEG * (1 - np.nan_to_num(x["daily_veg_fruit"], nan=1.0))
    pts += FINDRISC_ANTIHYPERTENSIVE * np.nan_to_num(x["antihypertensive_ever"])
    pts += FINDRISC_HIGH_GLUCOSE * np.nan_to_num(x["high_glucose_ever"])
    fam = np.nan_to_num(x["family_history_diabetes"]).astype(np.intp)
    pts += np.asarray(FINDRISC_FAMILY, dtype=np.float64)[fam]
    return Score(pts, r, kind="int").finish()
