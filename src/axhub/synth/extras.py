"""Home-device readings (enrolled subset) and the metabolomics panel (research subset).

Device enrolment mirrors the public health centre's BP/glucose device loans for hypertension
and diabetes (Namsan-myeon and Dong-myeon health-promotion branches; chuncheon.go.kr press
release nttId=500326); the enrolment rates are ASSUMPTION.

Metabolomics: branched-chain (leucine, isoleucine, valine) and aromatic (tyrosine,
phenylalanine) amino acids rise with insulin resistance and predict future diabetes (Wang TJ
et al. Nat Med 2011;17:448-453); glycine is lower in people who go on to impaired glucose
tolerance (Wang-Sattler R et al. Mol Syst Biol 2012;8:615).  Here each metabolite is a
log-normal around a typical plasma concentration (ASSUMPTION) shifted by the person's
insulin-resistance factor, which also multiplies the true diabetes hazard (outcomes.py).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from axhub.synth.population import Columns

DEVICE_START = np.datetime64("2024-12-01", "D")
DEVICE_DAYS = 28

# kind → (device name ko, device name en)
DEVICE_KINDS: dict[str, tuple[str, str]] = {
    "bp": ("가정용 혈압계", "Home blood pressure monitor"),
    "glucose": ("혈당측정기", "Blood glucose meter"),
    "spo2": ("맥박산소측정기", "Pulse oximeter"),
    "weight": ("체중계", "Body weight scale"),
    "steps": ("활동량계", "Activity tracker"),
}
KIND_LIST = list(DEVICE_KINDS)

# Typical fasting plasma concentration (µmol/L), log-SD, effect per SD of insulin resistance
# (ASSUMPTION magnitudes; signs from the papers above).
METABOLITE_PARAMS: dict[str, tuple[float, float, float]] = {
    "leucine": (125.0, 0.18, 0.12),
    "isoleucine": (62.0, 0.20, 0.14),
    "valine": (235.0, 0.17, 0.10),
    "tyrosine": (60.0, 0.20, 0.12),
    "phenylalanine": (55.0, 0.15, 0.09),
    "glycine": (250.0, 0.22, -0.10),
}


def enrol(rng: np.random.Generator, p: Columns, h: Columns, visits_phc: np.ndarray) -> np.ndarray:
    """Enrolled people: phc users aged 60+ with hypertension/diabetes (30 %), others 65+ (5 %)."""
    n = len(p["age"])
    cond = h["hypertension_aware"] | h["diabetes_aware"]
    prob = np.where((p["age"] >= 60) & cond, 0.30, np.where(p["age"] >= 65, 0.05, 0.0))
    return np.nonzero(visits_phc & (rng.random(n) < prob))[0]


def device_readings(
    rng: np.random.Generator, people: np.ndarray, h: Columns, age: np.ndarray
) -> Columns:
    """Long table of readings: person, kind index, timestamp, value, value2 (DBP for BP)."""
    k = len(people)
    days = np.arange(DEVICE_DAYS)
    dm = h["diabetes"][people]
    kinds = []
    for kind_name in KIND_LIST:
        if kind_name == "glucose":
            mask = np.repeat(dm, DEVICE_DAYS) | np.tile(days % 7 == 0, k)
        elif kind_name == "weight":
            mask = np.tile(days % 7 == 0, k)
        else:
            mask = np.ones(k * DEVICE_DAYS, dtype=bool)
        # Missed days: each reading taken with probability 0.85 (ASSUMPTION).
        mask &= rng.random(k * DEVICE_DAYS) < 0.85
        idx = np.nonzero(mask)[0]
        kinds.append((KIND_LIST.index(kind_name), idx))
    person = np.concatenate([people[idx // DEVICE_DAYS] for _, idx in kinds])
    day = np.concatenate([idx % DEVICE_DAYS for _, idx in kinds])
    kind = np.concatenate([np.full(len(idx), ki) for ki, idx in kinds])
    m = len(person)
    minute = np.where(kind == KIND_LIST.index("steps"), 23 * 60, 7 * 60) + rng.integers(0, 60, m)
    ts = (DEVICE_START + day.astype("timedelta64[D]")).astype("datetime64[m]") + minute.astype(
        "timedelta64[m]"
    )
    # Reading distributions (ASSUMPTION): home SBP/DBP 3/2 mmHg under the clinic value with
    # day-to-day noise, glucose around the true FPG, SpO2 ~97 %, weight, steps falling with age.
    value = np.zeros(m)
    value2 = np.full(m, np.nan)
    sel = kind == 0
    value[sel] = np.round(h["sbp"][person[sel]] - 3 + rng.normal(0, 7, sel.sum()))
    value2[sel] = np.round(
        np.minimum(h["dbp"][person[sel]] - 2 + rng.normal(0, 5, sel.sum()), value[sel] - 10)
    )
    sel = kind == 1
    value[sel] = np.round(h["fasting_glucose"][person[sel]] * np.exp(rng.normal(0, 0.1, sel.sum())))
    sel = kind == 2
    value[sel] = np.round(
        np.clip(97.5 - 0.03 * (age[person[sel]] - 60) + rng.normal(0, 1.2, sel.sum()), 85, 100)
    )
    sel = kind == 3
    value[sel] = np.round(h["weight_kg"][person[sel]] + rng.normal(0, 0.4, sel.sum()), 1)
    sel = kind == 4
    base = 7000 * np.exp(-0.02 * np.clip(age[person[sel]] - 60, 0, None))
    value[sel] = np.round(base * np.exp(rng.normal(0, 0.45, sel.sum())))
    order = np.lexsort((kind, ts, person))
    return {
        "person": person[order],
        "kind": kind[order],
        "ts": ts[order],
        "value": value[order],
        "value2": value2[order],
    }


def metabolomics(
    rng: np.random.Generator, people: np.ndarray, h: Columns, male: np.ndarray
) -> dict[str, np.ndarray]:
    """Metabolite concentrations (µmol/L) for the research subset."""
    ir = h["insulin_resistance"][people]
    out: dict[str, np.ndarray] = {}
    for name, (median, sd, beta) in METABOLITE_PARAMS.items():
        sex = (
            np.where(male[people], 1.08, 1.0)
            if name != "glycine"
            else np.where(male[people], 0.92, 1.0)
        )  # ASSUMPTION: men higher BCAA/AAA, lower glycine
        out[name] = np.round(median * sex * np.exp(beta * ir + rng.normal(0, sd, len(people))), 1)
    return out


def readings_table(
    site: str,
    patient_ids: np.ndarray,
    device_ids: np.ndarray,
    readings: Columns,
    loinc: list[str],
    units: list[str],
) -> pa.Table:
    kind = readings["kind"]
    return pa.table(
        {
            "site": pa.array(np.full(len(kind), site), pa.string()),
            "patient_id": pa.array(patient_ids, pa.string()),
            "device_id": pa.array(device_ids, pa.string()),
            "kind": pa.array(np.array(KIND_LIST)[kind], pa.string()),
            "loinc": pa.array(np.array(loinc)[kind], pa.string()),
            # Readings are local Korea time (UTC+9); stored as UTC instants with the Seoul zone.
            "effective": pa.array(
                (readings["ts"] - np.timedelta64(9, "h")).astype("datetime64[s]")
            ).cast(pa.timestamp("s", tz="Asia/Seoul")),
            "value": pa.array(readings["value"]),
            "value2": pa.array(readings["value2"], from_pandas=True),
            "unit": pa.array(np.array(units)[kind], pa.string()),
        }
    )
