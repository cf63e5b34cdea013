"""NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017).

Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the assessment
of acute-illness severity in the NHS. London: RCP, 2017 — Chart 1 (scoring) and Chart 4
(clinical response).  Bands as in /work/shared/reference/care-at-home-and-agents.md §3.8.
Whole-number parameters are rounded half-up to integers and temperature to 0.1 °C before banding
(the chart's resolution; decision 0046).  Not validated under 16 years or in pregnancy.
"""

from __future__ import annotations

import numpy as np

from axhub.clinical.scores.columns import Inputs
from axhub.clinical.scores.result import Reasons, Score, in_range, require

# Each band list: (upper bound inclusive, points), ascending; the last band is open-ended.
RESP = ((8, 3), (11, 1), (20, 0), (24, 2), (np.inf, 3))
SPO2_SCALE1 = ((91, 3), (93, 2), (95, 1), (np.inf, 0))
SPO2_SCALE2_LOW = ((83, 3), (85, 2), (87, 1), (92, 0))  # ≥93 on air also 0
SPO2_SCALE2_ON_O2 = ((92, 0), (94, 1), (96, 2), (np.inf, 3))  # 93–94 1; 95–96 2; ≥97 3
OXYGEN = 2
SBP = ((90, 3), (100, 2), (110, 1), (219, 0), (np.inf, 3))
PULSE = ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2), (np.inf, 3))
CONSCIOUSNESS = 3  # new confusion, voice, pain, unresponsive
TEMP = ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1), (np.inf, 2))
# Clinical response bands (Chart 4).
MEDIUM, HIGH, RED = 5, 7, 3
NEWS2_INPUTS = (
    "resp_rate",
    "spo2_pct",
    "on_oxygen",
    "sbp_mmhg",
    "pulse_bpm",
    "consciousness",
    "temp_c",
    "spo2_scale2",  # empty means scale 1; an unreadable value is reported
)


def _band(values: np.ndarray, bands: tuple[tuple[float, int], ...]) -> np.ndarray:
    uppers = np.array([b[0] for b in bands], dtype=np.float64)
    pts = np.array([b[1] for b in bands], dtype=np.float64)
    idx = np.searchsorted(uppers, np.nan_to_num(values), side="left")
    return pts[np.clip(idx, 0, len(pts) - 1)]


def _half_up(v: np.ndarray, digits: int = 0) -> np.ndarray:
    scale = 10.0**digits
    return np.floor(v * scale + 0.5) / scale


def news2(x: Inputs) -> dict[str, Score]:
    """NEWS2 aggregate score (0–20) and its clinical-risk band (low, low-medium, medium, high)."""
    r = Reasons(x.n)
    require(x, r, NEWS2_INPUTS)
    in_range(x, r, "age_years", 16, 120, "NEWS2 (not validated under 16)")
    spo2 = _half_up(x["spo2_pct"])
    o2 = np.nan_to_num(x["on_oxygen"])
    scale2 = np.nan_to_num(x["spo2_scale2"])
    s2 = np.where(
        spo2 <= 92,
        _band(spo2, SPO2_SCALE2_LOW),
        np.where(o2 == 1, _band(spo2, SPO2_SCALE2_ON_O2), 0),
    )
    parts = [
        _band(_half_up(x["resp_rate"]), RESP),
        np.where(scale2 == 1, s2, _band(spo2, SPO2_SCALE1)),
        OXYGEN * o2,
        _band(_half_up(x["sbp_mmhg"]), SBP),
        _band(_half_up(x["pulse_bpm"]), PULSE),
        CONSCIOUSNESS * np.nan_to_num(x["consciousness"]),
        _band(_half_up(x["temp_c"], 1), TEMP),
    ]
    total = np.sum(parts, axis=0)
    red = np.max(parts, axis=0) >= RED
    band = np.where(
        total >= HIGH,
        "high",
        np.where(total >= MEDIUM, "medium", np.where(red, "low-medium", "low")),
    ).astype(object)
    return {
        "news2": Score(total, r, kind="int").finish(),
        "news2_risk": Score(band, r, kind="category").finish(),
    }
