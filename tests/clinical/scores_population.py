"""A seeded random population with every documented input column (vectorised, for tests and
the bench): realistic ranges, some empty cells and some implausible / wrong-unit values."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from axhub.clinical.scores import DEFICITS


def population(n: int, seed: int = 0, *, missing: float = 0.04, bad: float = 0.01) -> pa.Table:
    rng = np.random.default_rng(seed)

    def with_gaps(values: np.ndarray, junk: np.ndarray | None = None) -> pa.Array:
        values = values.astype(object) if values.dtype.kind in "OU" else values.astype(float)
        if junk is not None:
            hit = rng.random(n) < bad
            values = np.where(hit, junk, values)
        mask = rng.random(n) < missing
        if values.dtype == object:
            return pa.array(np.where(mask, None, values).tolist())
        return pa.array(values, mask=mask)

    def flag(p: float) -> pa.Array:
        return pa.array(rng.random(n) < p, mask=rng.random(n) < missing)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n)

    age = rng.integers(18, 95, n).astype(float) + rng.random(n) * 0.99
    older = (age - 50.0) / 10.0  # biomarkers drift with age so a KDM fit is meaningful
    cols: dict[str, pa.Array] = {
        "person_id": pa.array([f"p{i:07d}" for i in range(n)]),
        "age_years": with_gaps(age),
        "sex": with_gaps(rng.choice(np.array(["male", "female", "M", "F"]), n)),
        "race_black": flag(0.1),
        "sbp_mmhg": with_gaps(np.round(rng.normal(132, 18, n) + 6 * older), u(5, 25)),
        "dbp_mmhg": with_gaps(np.round(rng.normal(80, 12, n))),
        "bp_treated": flag(0.35),
        "total_chol_mgdl": with_gaps(rng.normal(200, 38, n).clip(100, 400), u(3, 8)),
        "hdl_mgdl": with_gaps(rng.normal(52, 14, n).clip(15, 120)),
        "smoker_current": flag(0.2),
        "diabetes": flag(0.15),
        "statin": flag(0.25),
        "bmi_kgm2": with_gaps(rng.normal(24.5, 4, n).clip(15, 50)),
        "waist_cm": with_gaps(rng.normal(86, 11, n).clip(55, 150)),
        "creatinine_mgdl": with_gaps(rng.lognormal(0, 0.35, n).clip(0.3, 12), u(50, 300)),
        "cystatin_c_mgl": with_gaps(rng.lognormal(0, 0.3, n).clip(0.4, 8)),
        "egfr_ml_min": with_gaps(u(10, 120)),
        "uacr_mgg": with_gaps(rng.lognormal(2.5, 1.8, n).clip(0.5, 20000)),
        "hba1c_pct": with_gaps((rng.normal(5.9, 0.8, n) + 0.15 * older).clip(4, 14), u(30, 90)),
        "glucose_mgdl": with_gaps(rng.normal(105, 25, n).clip(50, 500)),
        "albumin_gdl": with_gaps((rng.normal(4.3, 0.3, n) - 0.08 * older).clip(2, 5.5)),
        "crp_mgl": with_gaps(np.where(rng.random(n) < 0.05, 0.0, rng.lognormal(0.3, 1.1, n))),
        "lymphocyte_pct": with_gaps(rng.normal(30, 8, n).clip(5, 70)),
        "mcv_fl": with_gaps(rng.normal(91, 5, n)),
        "rdw_pct": with_gaps(rng.normal(13.2, 1.1, n).clip(10, 25)),
        "alp_ul": with_gaps((rng.normal(75, 20, n) + 4 * older).clip(20, 400)),
        "wbc_10e3ul": with_gaps(rng.normal(6.5, 1.8, n).clip(1.5, 25)),
        "bun_mgdl": with_gaps((rng.normal(15, 4, n) + 1.5 * older).clip(4, 80)),
        "chf": flag(0.05),
        "hypertension": flag(0.35),
        "prior_stroke_tia_te": flag(0.05),
        "vascular_disease": flag(0.08),
        "atrial_fibrillation": flag(0.06),
        "cvd_history": flag(0.1),
        "lvh": flag(0.05),
        "prior_stroke": flag(0.04),
        "renal_abnormal": flag(0.03),
        "liver_abnormal": flag(0.02),
        "bleeding_history": flag(0.04),
        "labile_inr": flag(0.03),
        "antiplatelet_or_nsaid": flag(0.2),
        "alcohol_excess": flag(0.1),
        "tia_unilateral_weakness": flag(0.3),
        "tia_speech_disturbance": flag(0.3),
        "tia_duration_min": with_gaps(rng.integers(0, 240, n).astype(float)),
        "physically_active": flag(0.5),
        "daily_veg_fruit": flag(0.6),
        "antihypertensive_ever": flag(0.3),
        "high_glucose_ever": flag(0.15),
        "family_history_diabetes": pa.array(rng.integers(0, 3, n), mask=rng.random(n) < missing),
        "resp_rate": with_gaps(np.round(rng.normal(17, 4, n)).clip(4, 45)),
        "spo2_pct": with_gaps(np.round(rng.normal(95, 3, n)).clip(70, 100)),
        "spo2_scale2": pa.array(rng.random(n) < 0.05),
        "on_oxygen": flag(0.1),
        "pulse_bpm": with_gaps(np.round(rng.normal(80, 17, n)).clip(30, 180)),
        "consciousness": with_gaps(rng.choice(np.array(["A"] * 9 + ["C", "V", "P", "U"]), n)),
        "temp_c": with_gaps(rng.normal(36.8, 0.8, n).clip(33, 41.5), u(95, 104)),
    }
    for d in DEFICITS:
        cols[f"efi_{d.id}"] = pa.array(rng.random(n) < 0.2, mask=rng.random(n) < missing / 10)
    return pa.table(cols)
