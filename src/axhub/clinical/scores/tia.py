"""ABCD2 score for stroke risk after a transient ischaemic attack.

Johnston SC, Rothwell PM, Nguyen-Huynh MN, et al. Validation and refinement of scores to predict
very early stroke risk after transient ischaemic attack. Lancet 2007;369:283–292.
"""

from __future__ import annotations

import numpy as np

from axhub.clinical.scores.columns import Inputs
from axhub.clinical.scores.result import Reasons, Score, require

ABCD2_AGE = 60.0  # A: age ≥ 60 → 1
ABCD2_SBP, ABCD2_DBP = 140.0, 90.0  # B: BP ≥ 140/90 at first assessment → 1
ABCD2_WEAKNESS, ABCD2_SPEECH = 2, 1  # C: unilateral weakness 2; speech disturbance w/o weakness 1
ABCD2_DURATION = ((10.0, 1), (60.0, 2))  # D: 10–59 min → 1; ≥ 60 min → 2
ABCD2_DIABETES = 1  # D: diabetes → 1
ABCD2_INPUTS = (
    "age_years",
    "sbp_mmhg",
    "dbp_mmhg",
    "tia_unilateral_weakness",
    "tia_speech_disturbance",
    "tia_duration_min",
    "diabetes",
)


def abcd2(x: Inputs) -> Score:
    """ABCD2 (0–7 points)."""
    r = Reasons(x.n)
    require(x, r, ABCD2_INPUTS)
    dur = x["tia_duration_min"]
    weak = np.nan_to_num(x["tia_unilateral_weakness"])
    speech = np.nan_to_num(x["tia_speech_disturbance"])
    with np.errstate(invalid="ignore"):
        pts = (x["age_years"] >= ABCD2_AGE).astype(np.float64)
        pts += ((x["sbp_mmhg"] >= ABCD2_SBP) | (x["dbp_mmhg"] >= ABCD2_DBP)).astype(np.float64)
        pts += np.where(weak == 1.0, ABCD2_WEAKNESS, np.where(speech == 1.0, ABCD2_SPEECH, 0))
        pts += np.where(
            dur >= ABCD2_DURATION[1][0],
            ABCD2_DURATION[1][1],
            np.where(dur >= ABCD2_DURATION[0][0], ABCD2_DURATION[0][1], 0),
        )
    pts = pts + ABCD2_DIABETES * np.nan_to_num(x["diabetes"])
    return Score(pts, r, kind="int").finish()
