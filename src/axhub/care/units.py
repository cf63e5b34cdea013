"""Reading kinds, unit normalisation and plausibility limits (vectorised over a batch).

Normalised units: BP mmHg, glucose mg/dL, SpO2 %, weight kg, temperature °C, heart and
respiratory rate /min, steps /d (stored for the agents; no rule reads them).
Conversions are physical definitions:

- glucose 1 mmol/L = 18.0156 mg/dL (molar mass of glucose 180.156 g/mol); the result is
  rounded to whole mg/dL, the display resolution of mg/dL meters, so that the paired
  guideline values agree at the line (3.9 mmol/L -> 70, 3.0 -> 54, 10.0 -> 180, 13.9 -> 250);
- 1 lb = 0.45359237 kg exactly (international pound, 1959);
- °F -> °C = (F - 32) × 5/9, rounded to 0.01 °C (keeps 100.0 °F = 37.78 below 37.8 and
  100.1 °F = 37.83 above it, as the IDSA "> 37.8 °C (> 100 °F)" pair intends);
- 1 kPa = 7.50062 mmHg.

Plausibility limits are data-quality limits (DESIGN): a value outside them cannot come from a
working device on a living person, so the reading is kept, flagged ``implausible`` and not
acted on.  They are not clinical thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

KINDS = (
    "bp",
    "glucose",
    "spo2",
    "weight",
    "temperature",
    "heart_rate",
    "resp_rate",
    "consciousness",
    "steps",
)

NORMAL_UNIT = {
    "bp": "mmHg",
    "glucose": "mg/dL",
    "spo2": "%",
    "weight": "kg",
    "temperature": "Cel",
    "heart_rate": "/min",
    "resp_rate": "/min",
    "consciousness": "{ACVPU}",
    "steps": "/d",
}

# unit spelling (lower-cased) -> (kind family, conversion name)
_UNITS: dict[str, dict[str, str]] = {
    "bp": {"mmhg": "id", "mm[hg]": "id", "kpa": "kpa"},
    "glucose": {"mg/dl": "id", "mmol/l": "mmol"},
    "spo2": {"%": "id", "1": "fraction"},
    "weight": {"kg": "id", "lb": "lb", "lbs": "lb", "[lb_av]": "lb", "g": "g"},
    "temperature": {
        "cel": "id",
        "°c": "id",
        "c": "id",
        "degc": "id",
        "[degf]": "f",
        "°f": "f",
        "f": "f",
        "degf": "f",
    },
    "heart_rate": {"/min": "id", "{beats}/min": "id", "bpm": "id", "1/min": "id"},
    "resp_rate": {"/min": "id", "{breaths}/min": "id", "1/min": "id", "breaths/min": "id"},
    "consciousness": {"{acvpu}": "id"},
    "steps": {"/d": "id", "{steps}/d": "id", "steps": "id"},
}

ACVPU = {"A": 0.0, "C": 1.0, "V": 2.0, "P": 3.0, "U": 4.0}


def accepted_units(kind: str) -> list[str]:
    return sorted(_UNITS.get(kind, {}))


def unit_known(kind: str, unit: str) -> bool:
    return unit.strip().lower() in _UNITS.get(kind, {})


def _convert(conv: str, v: F64) -> F64:
    if conv == "id":
        return v
    if conv == "mmol":
        return np.round(v * 18.0156)
    if conv == "fraction":
        return v * 100.0
    if conv == "lb":
        return np.round(v * 0.45359237, 3)
    if conv == "g":
        return v / 1000.0
    if conv == "f":
        return np.round((v - 32.0) * 5.0 / 9.0, 2)
    if conv == "kpa":
        return np.round(v * 7.50062, 1)
    raise ValueError(conv)


@dataclass(frozen=True)
class Limits:
    low: float
    high: float


#: plausibility limits in normalised units (DESIGN; data quality, not clinical)
PLAUSIBLE: dict[str, Limits] = {
    "bp": Limits(40, 300),  # systolic; diastolic 20-200 and below systolic
    "glucose": Limits(10, 2000),
    "spo2": Limits(50, 100),
    "weight": Limits(20, 350),
    "temperature": Limits(30, 45),
    "heart_rate": Limits(20, 300),
    "resp_rate": Limits(2, 80),
    "consciousness": Limits(0, 4),
    "steps": Limits(0, 100_000),
}
DIASTOLIC = Limits(20, 200)


@dataclass
class Normalised:
    value: F64
    value2: F64
    unit: list[str]
    implausible: npt.NDArray[np.bool_]
    reasons: list[list[str]]


def normalise(kinds: list[str], units: list[str], value: F64, value2: F64) -> Normalised:
    """Normalise a batch (units already checked with ``unit_known``) and flag implausibles.

    Loops run over the distinct (kind, unit) pairs of the batch, never over readings.
    """
    n = len(kinds)
    kind_arr = np.asarray(kinds, dtype=object)
    unit_arr = np.asarray([u.strip().lower() for u in units], dtype=object)
    out = np.full(n, np.nan)
    out2 = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    reasons: list[list[str]] = [[] for _ in range(n)]
    if n == 0:
        return Normalised(out, out2, [], bad, reasons)
    pairs = set(zip(kinds, unit_arr.tolist(), strict=True))
    for kind, unit in pairs:
        m = (kind_arr == kind) & (unit_arr == unit)
        conv = _UNITS[kind][unit]
        out[m] = _convert(conv, value[m])
        if kind == "bp":
            out2[m] = _convert(conv, value2[m])
    for kind in set(kinds):
        m = kind_arr == kind
        lim = PLAUSIBLE[kind]
        low = m & (out < lim.low)
        high = m & (out > lim.high)
        extra = np.zeros(n, dtype=bool)
        if kind == "bp":
            extra = m & ((out2 < DIASTOLIC.low) | (out2 > DIASTOLIC.high) | (out2 >= out))
        for i in np.flatnonzero(low | high | extra):
            label = "systolic" if kind == "bp" else kind
            if low[i]:
                reasons[i].append(f"implausible: {label} below {lim.low:g}")
            if high[i]:
                reasons[i].append(f"implausible: {label} above {lim.high:g}")
            if extra[i]:
                reasons[i].append("implausible: diastolic out of range or not below systolic")
        bad |= low | high | extra
    norm_units = [NORMAL_UNIT[k] for k in kinds]
    return Normalised(out, out2, norm_units, bad, reasons)
