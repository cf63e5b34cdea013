"""True health state of each person: conditions, vitals, labs, treatment, lifestyle.

Conditions come from liability models: each condition has a standard-normal liability that
shares a latent metabolic factor with the others (so obesity, hypertension, diabetes and
dyslipidaemia cluster); the condition is present when the liability exceeds the threshold
that gives the target prevalence of the person's age band and sex (``calibration.py``).
Continuous measures are tied to the same liabilities (for example untreated SBP is
140 mmHg exactly at the hypertension threshold), so values and diagnoses agree.
Distribution parameters not in a source are marked ASSUMPTION.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from axhub.synth import calibration as cal
from axhub.synth.population import Columns

_ND = NormalDist()

# Correlation of each liability with the shared metabolic factor (ASSUMPTION).
RHO = {
    "obesity": 0.65,
    "hypertension": 0.45,
    "diabetes": 0.5,
    "dyslipidaemia": 0.3,
    "smoking": 0.05,
    "atrial_fibrillation": 0.2,
    "prior_stroke": 0.35,
    "egfr_lt60": 0.35,
}


def band_index(age: np.ndarray) -> np.ndarray:
    """Index into ``calibration.PREV_BANDS`` (-1 for under 19)."""
    starts = np.array([b[0] for b in cal.PREV_BANDS])
    idx = np.searchsorted(starts, age, side="right") - 1
    return np.where(age < starts[0], -1, idx)


def thresholds(key: str, band: np.ndarray, male: np.ndarray) -> np.ndarray:
    """Liability threshold per person (inf for children: no adult condition)."""
    target = cal.PREVALENCE[key]
    tm = np.array([_ND.inv_cdf(1 - p) for p in target.male])
    tf = np.array([_ND.inv_cdf(1 - p) for p in target.female])
    b = np.clip(band, 0, None)
    t = np.where(male, tm[b], tf[b])
    return np.where(band < 0, np.inf, t)


def _liability(
    rng: np.random.Generator,
    m: np.ndarray,
    rho: float,
    extra: tuple[np.ndarray, float] | None = None,
) -> np.ndarray:
    """Standard-normal liability: rho on the shared factor, w on ``extra`` (another liability)."""
    n = len(m)
    e = rng.standard_normal(n)
    if extra is None:
        return rho * m + np.sqrt(1 - rho**2) * e
    other, w = extra
    rest = max(1 - rho**2 - w**2, 0.05)
    raw = rho * m + w * other + np.sqrt(rest) * e
    return raw / np.sqrt(rho**2 + w**2 + rest)


def draw_health(rng: np.random.Generator, p: Columns) -> Columns:
    """Draw conditions, measures and treatment for every person in ``p``."""
    n = len(p["age"])
    age = p["age"].astype(float)
    male = p["male"]
    band = band_index(p["age"])
    adult = band >= 0
    m = rng.standard_normal(n)  # shared metabolic factor
    h: Columns = {"metabolic_factor": m}

    liab = {}
    for key in ("obesity", "hypertension", "diabetes", "dyslipidaemia", "smoking"):
        liab[key] = _liability(rng, m, RHO[key])
    liab["atrial_fibrillation"] = _liability(rng, m, RHO["atrial_fibrillation"])
    liab["prior_stroke"] = _liability(
        rng, m, RHO["prior_stroke"], (liab["atrial_fibrillation"], 0.3)
    )
    liab["egfr_lt60"] = _liability(rng, m, RHO["egfr_lt60"], (liab["diabetes"], 0.25))
    thr = {k: thresholds(k, band, male) for k in liab}
    has = {k: liab[k] > thr[k] for k in liab}
    for k, flag in has.items():
        h[k] = flag

    # --- body size (ASSUMPTION parameters; obesity prevalence is exact by construction) ---
    s_bmi = np.where(male, 3.5, 3.6)  # SDs from calibration file §3.2 (ASSUMPTION there)
    t_ob = np.where(adult, thr["obesity"], 0.0)
    bmi_adult = 25.0 + s_bmi * (liab["obesity"] - t_ob)
    bmi_child = 15.5 + 0.35 * np.clip(age - 2, 0, None) + 2.5 * liab["obesity"]
    bmi = np.where(adult, bmi_adult, bmi_child).clip(13, 45)
    height_adult = np.where(male, 172.0, 159.0) - 0.15 * np.clip(age - 40, 0, None)
    height_child = 75 + 6.2 * np.clip(age, 0, 18)
    height = np.where(age >= 18, height_adult, np.minimum(height_child, height_adult))
    height = height + rng.normal(0, np.where(male, 6.0, 5.5))
    weight = bmi * (height / 100) ** 2
    waist = np.where(male, 2.6 * bmi + 23, 2.5 * bmi + 20) + rng.normal(0, 4, n)
    h |= {"bmi": bmi, "height_cm": height, "weight_kg": weight, "waist_cm": waist}

    # --- blood pressure: untreated SBP is 140 at the hypertension threshold -------------------
    t_h = np.where(adult, thr["hypertension"], 2.5)
    # Spread per SD of liability: men 15, women 17 mmHg (calibration file §3.2 SDs, ASSUMPTION).
    sbp_u = 140 + np.where(male, 15.0, 17.0) * (liab["hypertension"] - t_h)
    sbp_u = np.where(adult, sbp_u, 105 + 8 * rng.standard_normal(n)).clip(85, 230)
    htn = has["hypertension"]
    cascade = rng.random(n)
    htn_aware = htn & (cascade < cal.HTN_AWARE)
    bptx = htn & (cascade < cal.HTN_TREATED)
    controlled = bptx & (rng.random(n) < cal.HTN_CONTROLLED / cal.HTN_TREATED)
    # Controlled: SBP around 128 (<140); uncontrolled treated: 10 lower than untreated but
    # still ≥140 (ASSUMPTION values; the control share itself is sourced).
    sbp = np.where(controlled, rng.normal(128, 6, n).clip(100, 139), sbp_u)
    sbp = np.where(
        bptx & ~controlled, np.maximum(sbp_u - 10, 140 + np.abs(rng.normal(0, 8, n))), sbp
    )
    # DBP tracks SBP; intercepts ASSUMPTION, set so adult means sit near §3.2 (79 / 74 mmHg).
    dbp = np.where(male, 0.55 * sbp + 9, 0.55 * sbp + 6) + rng.normal(0, 6, n)
    dbp = np.where(~htn | controlled, np.minimum(dbp, 89), dbp).clip(45, 130)
    hr = rng.normal(72, 10, n) + 10 * has["atrial_fibrillation"]  # ASSUMPTION
    h |= {"sbp": sbp, "sbp_untreated": sbp_u, "dbp": dbp, "heart_rate": hr.clip(45, 140)}
    h |= {"hypertension_aware": htn_aware, "bp_treated": bptx}

    # --- glycaemia: untreated FPG is 126 mg/dL at the diabetes threshold ----------------------
    t_d = np.where(adult, thr["diabetes"], 2.5)
    # With diabetes: log-linear above 126 in the liability.  Without: 103.5 + 8·(distance to the
    # threshold) + N(0, 9) mg/dL, kept below 126 (ASSUMPTION, tuned so that FPG 100-125 is
    # about 19 % of adults ≥30 as in KNHANES 2011, Jeon et al. Diabetes Metab J 2013).
    above = np.exp(np.log(126) + 0.16 * (liab["diabetes"] - t_d))
    below = 103.5 + 8 * (liab["diabetes"] - t_d) + rng.normal(0, 9, n)
    fpg_u = np.where(liab["diabetes"] > t_d, above, np.minimum(below, 125)).clip(60, 400)
    # FPG↔HbA1c anchors (99 ↔ 5.75 %, 126 ↔ 6.42 %): Hong et al. Diabetol Metab Syndr 2016;8:62.
    slope = (6.42 - 5.75) / (126 - 99)
    # Residual SD 0.3 % gives FPG-HbA1c correlation ≈0.7 without diabetes (§3.2 ASSUMPTION).
    a1c_u = 5.75 + slope * (fpg_u - 99) + rng.normal(0, 0.3, n)
    dm = has["diabetes"]
    cascade = rng.random(n)
    dm_aware = dm & (cascade < cal.DM_AWARE)
    dm_tx = dm & (cascade < cal.DM_TREATED)
    a1c_tx = rng.normal(6.9, 0.9, n).clip(5.6, 12.5)  # ASSUMPTION, tuned to DM_HBA1C_LT65
    hba1c = np.where(dm_tx, a1c_tx, a1c_u).clip(4.0, 14.0)
    fpg = np.where(dm_tx, 99 + (a1c_tx - 5.75) / slope + rng.normal(0, 12, n), fpg_u)
    h |= {"fasting_glucose": fpg.clip(60, 450), "hba1c": hba1c}
    h |= {"diabetes_aware": dm_aware, "diabetes_treated": dm_tx}

    # --- lipids: untreated TC is 240 mg/dL at the dyslipidaemia threshold --------------------
    t_l = np.where(adult, thr["dyslipidaemia"], 2.0)
    tc_u = (240 + 37 * (liab["dyslipidaemia"] - t_l)).clip(100, 400)
    lip = has["dyslipidaemia"]
    cascade = rng.random(n)
    lipid_aware = lip & (cascade < cal.LIPID_AWARE)
    u_statin = rng.random(n)
    statin = (lip & (cascade < cal.LIPID_TREATED)) | (
        adult & ((has["prior_stroke"] & (u_statin < 0.7)) | (dm & (age >= 40) & (u_statin < 0.4)))
    )  # uptake after stroke / in diabetes: ASSUMPTION
    # Statins lower LDL-C 30-50 % (Stone NJ et al. 2013 ACC/AHA cholesterol guideline,
    # Circulation 2014;129:S1); TC reduction taken as 25 % (ASSUMPTION).
    tc = np.where(statin, tc_u * 0.75, tc_u)
    hdl = np.where(male, 48.0, 57.0) + rng.normal(0, 1, n) * np.where(male, 12, 14)
    hdl = (hdl - 0.8 * (bmi - 24) - 0.1 * np.clip(age - 40, 0, None)).clip(20, 110)
    tg = np.where(male, 120.0, 90.0) * np.exp(0.04 * (bmi - 24) + rng.normal(0, 0.5, n))
    tg = tg.clip(30, 1200)
    # Friedewald WT, Levy RI, Fredrickson DS. Clin Chem 1972;18:499-502.
    ldl = (tc - hdl - tg / 5).clip(30, 300)
    h |= {"total_cholesterol": tc, "hdl": hdl, "ldl": ldl, "triglycerides": tg}
    h |= {"dyslipidaemia_aware": lipid_aware, "statin": statin}

    # --- smoking (current, KNHANES definition); former smokers ASSUMPTION -------------------
    current = has["smoking"]
    former = adult & ~current & (rng.random(n) < np.where(male, 0.35, 0.04))
    h["smoking_status"] = np.where(current, 2, np.where(former, 1, 0))  # 2 cur, 1 former, 0 never

    # --- kidney: eGFR (CKD-EPI 2021) and UACR ------------------------------------------------
    ckd = has["egfr_lt60"]
    u_stage = rng.random(n)
    # Split of eGFR <60: 3a 1.9, 3b 0.4, 4-5 0.2 % of adults (Park et al. JKMS 2016;31:915).
    stage_u = np.where(u_stage < 1.9 / 2.5, 0, np.where(u_stage < 2.3 / 2.5, 1, 2))
    v = rng.random(n)
    egfr_ckd = np.select(
        [stage_u == 0, stage_u == 1, v < 0.75],
        [45 + 15 * v, 30 + 15 * v, 15 + 15 * v / 0.75],
        8 + 7 * (v - 0.75) / 0.25,
    )
    egfr_ok = rng.normal(125 - 0.8 * age, 12)  # ASSUMPTION (~0.8 mL/min/yr decline)
    egfr_ok = np.where(egfr_ok < 60, 60 + np.abs(rng.normal(0, 8, n)), egfr_ok).clip(60, 140)
    egfr = np.where(ckd, egfr_ckd, egfr_ok)
    creat = creatinine_from_egfr(egfr, age.clip(18, None), male)
    # Albuminuria with eGFR ≥60 (CKD 1-2) 5.7 % of adults (JKMS 2016); age shape ASSUMPTION.
    alb_liab = _liability(rng, m, 0.4, (liab["diabetes"], 0.3))
    alb_thr = np.array([_ND.inv_cdf(1 - x) for x in (0.03, 0.03, 0.04, 0.06, 0.08, 0.11, 0.14)])
    albuminuric = adult & np.where(
        ckd,
        rng.random(n) < 0.45,
        alb_liab > alb_thr[np.clip(band, 0, None)],  # 0.45: ASSUMPTION
    )
    # UACR: albuminuric ≥30 mg/g with a long tail, otherwise median 8 mg/g (ASSUMPTION).
    uacr = np.where(
        albuminuric,
        30 * np.exp(np.abs(rng.normal(0, 1.1, n))),
        np.minimum(8 * np.exp(rng.normal(0, 0.6, n)), 29),
    ).clip(1, 5000)
    h |= {"egfr": egfr, "creatinine": creat, "uacr": uacr, "ckd_stage": ckd_stage(egfr, uacr)}
    coded_p = np.where(egfr < 30, cal.CKD45_CODED, cal.CKD3_CODED)
    h["ckd_aware"] = ckd & (rng.random(n) < coded_p)

    # --- PhenoAge panel and other labs (ASSUMPTION distributions, Korean adult ranges) --------
    smoker = current.astype(float)
    h["albumin"] = (rng.normal(4.5 - 0.008 * (age - 40), 0.25) - 0.3 * (egfr < 30)).clip(2.5, 5.3)
    h["crp"] = (0.6 * np.exp(0.06 * (bmi - 24) + 0.26 * smoker + rng.normal(0, 1.0, n))).clip(
        0.1, 150
    )
    h["lymphocytes_pct"] = rng.normal(34 - 0.08 * (age - 40), 7).clip(8, 60)
    h["mcv"] = rng.normal(90 + 0.05 * (age - 40), 4).clip(70, 110)
    h["rdw"] = rng.normal(12.8 + 0.015 * (age - 40), 0.8).clip(10.5, 20)
    h["alp"] = (70 * (1 + 0.004 * (age - 40)) * np.exp(rng.normal(0, 0.28, n))).clip(25, 400)
    h["wbc"] = (6.0 * np.exp(0.14 * smoker + 0.02 * (bmi - 24) + rng.normal(0, 0.25, n))).clip(
        2.0, 20
    )

    # --- AF treatment, antiplatelets, lifestyle items for FINDRISC (ASSUMPTION rates) --------
    af = has["atrial_fibrillation"]
    h["oac"] = af & (rng.random(n) < cal.AF_ON_OAC)
    h["antiplatelet"] = has["prior_stroke"] & ~h["oac"] & (rng.random(n) < 0.8)
    h["physically_inactive"] = rng.random(n) < 0.5
    h["no_daily_vegetables"] = rng.random(n) < 0.3
    fam = rng.random(n)
    h["family_history_diabetes"] = np.where(fam < 0.2, 2, np.where(fam < 0.3, 1, 0))
    # Insulin-resistance factor behind the metabolomics panel (shares the metabolic factor).
    h["insulin_resistance"] = 0.5 * m + np.sqrt(0.75) * rng.standard_normal(n)
    return h


def ckd_stage(egfr: np.ndarray, uacr: np.ndarray) -> np.ndarray:
    """KDIGO G-stage number as CKD stage: 0 no CKD, 1-2 (albuminuria), 3 (30-59), 4, 5."""
    stage = np.select([egfr < 15, egfr < 30, egfr < 60], [5, 4, 3], 0)
    alb = uacr >= 30
    return np.where((stage == 0) & alb, np.where(egfr >= 90, 1, 2), stage)


def egfr_ckd_epi_2021(creat: np.ndarray, age: np.ndarray, male: np.ndarray) -> np.ndarray:
    """CKD-EPI 2021 creatinine equation (Inker LA et al. N Engl J Med 2021;385:1737-1749)."""
    kappa = np.where(male, 0.9, 0.7)
    alpha = np.where(male, -0.302, -0.241)
    r = creat / kappa
    return (
        142
        * np.minimum(r, 1) ** alpha
        * np.maximum(r, 1) ** -1.200
        * 0.9938**age
        * np.where(male, 1.0, 1.012)
    )


def creatinine_from_egfr(egfr: np.ndarray, age: np.ndarray, male: np.ndarray) -> np.ndarray:
    """Exact inverse of ``egfr_ckd_epi_2021`` for a given age and sex."""
    kappa = np.where(male, 0.9, 0.7)
    alpha = np.where(male, -0.302, -0.241)
    base = 142 * 0.9938**age * np.where(male, 1.0, 1.012)
    ratio = egfr / base
    return np.where(ratio >= 1, kappa * ratio ** (1 / alpha), kappa * ratio ** (-1 / 1.2))
