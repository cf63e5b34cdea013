"""True 5-year events (stroke, diabetes onset, kidney failure, death) from published equations.

- Stroke: AHA PREVENT base 10-year stroke equation (Khan SS et al. Circulation
  2024;149:430-449, supplement Table S12; coefficients as in clinical-scores.md Appendix A),
  ×2.39 with AF (AF Fact Sheet in Korea 2024) and ×(1-0.64) with oral anticoagulation
  (Hart RG et al. Ann Intern Med 2007;146:857-867), then recalibrated to KDCA 2022 stroke
  incidence: crude 215.7/100,000/y, 80+ 1,515.7/100,000/y, recurrent share 20.4 %.
- Diabetes onset (people without diabetes): FINDRISC (Lindström J, Tuomilehto J. Diabetes
  Care 2003;26:725-731) 10-year risk bands, with the metabolomic insulin-resistance factor as
  a hazard multiplier (direction: Wang TJ et al. Nat Med 2011;17:448-453, BCAA/AAA predict
  diabetes; top vs bottom quartile about 4.6x here, within the 5-7x reported there).
- Kidney failure (eGFR <60): KFRE 4-variable 5-year (Tangri N et al. JAMA 2011;305:1553;
  non-North-America baseline survival 0.9365, JAMA 2016;315:164).
- Death: Levine PhenoAge Gompertz mortality model (Levine ME et al. Aging 2018;10:573-591),
  plus 30-day stroke case fatality 7.9 % (80+: 12.7 %, KDCA 2022).
Hazards are constant over the horizon (10-year risk → rate = -ln(1-p)/10).
"""

from __future__ import annotations

import numpy as np

from axhub.synth import calibration as cal
from axhub.synth.population import BASELINE, Columns

HORIZON_YEARS = 5.0
HORIZON_END = np.datetime64("2030-01-01", "D")  # exclusive

# PREVENT base model, 10-year stroke (clinical-scores.md Appendix A): (female, male).
PREVENT_STROKE = {
    "cage": (0.6907849, 0.722513),
    "cnhdl": (0.0534279, 0.0263348),
    "chdl": (-0.1055109, -0.0248959),
    "csbp_lt": (-0.113078, -0.268104),
    "csbp_ge": (0.3665217, 0.3474634),
    "dm": (0.8013721, 0.684699),
    "smoking": (0.4187039, 0.3874844),
    "cegfr_lt": (0.4539767, 0.3877827),
    "cegfr_ge": (0.0515087, 0.0201965),
    "bptx": (0.2494624, 0.232963),
    "statin": (-0.0798829, -0.1178935),
    "bptx*csbp_ge": (-0.0079039, 0.0120926),
    "statin*cnhdl": (0.0833101, 0.155739),
    "cage*cnhdl": (-0.0409242, 0.0141928),
    "cage*chdl": (0.016994, -0.0111745),
    "cage*csbp_ge": (-0.1191213, -0.1155391),
    "cage*dm": (-0.2480549, -0.2123743),
    "cage*smoking": (-0.0998063, -0.0824133),
    "cage*cegfr_lt": (-0.1759075, -0.180789),
    "constant": (-4.409199, -4.20881),
}


def prevent_stroke_10y(
    age: np.ndarray,
    male: np.ndarray,
    tc: np.ndarray,
    hdl: np.ndarray,
    sbp: np.ndarray,
    dm: np.ndarray,
    smoking: np.ndarray,
    egfr: np.ndarray,
    bptx: np.ndarray,
    statin: np.ndarray,
) -> np.ndarray:
    """PREVENT base 10-year stroke risk; age clamped to the 30-79 validity range."""
    a = np.clip(age, 30, 79)
    t = {
        "cage": (a - 55) / 10,
        "cnhdl": (tc - hdl) * 0.02586 - 3.5,
        "chdl": (hdl * 0.02586 - 1.3) / 0.3,
        "csbp_lt": (np.minimum(sbp, 110) - 110) / 20,
        "csbp_ge": (np.maximum(sbp, 110) - 130) / 20,
        "dm": dm.astype(float),
        "smoking": smoking.astype(float),
        "cegfr_lt": (np.minimum(egfr, 60) - 60) / -15,
        "cegfr_ge": (np.maximum(egfr, 60) - 90) / -15,
        "bptx": bptx.astype(float),
        "statin": statin.astype(float),
    }
    x = np.zeros(len(a))
    for term, (f, m) in PREVENT_STROKE.items():
        if term == "constant":
            value = np.ones(len(a))
        elif "*" in term:
            left, right = term.split("*")
            value = t[left] * t[right]
        else:
            value = t[term]
        x += np.where(male, m, f) * value
    return 1 / (1 + np.exp(-x))


def findrisc_points(
    age: np.ndarray,
    bmi: np.ndarray,
    waist: np.ndarray,
    male: np.ndarray,
    inactive: np.ndarray,
    no_veg: np.ndarray,
    bptx: np.ndarray,
    high_glucose: np.ndarray,
    family: np.ndarray,
) -> np.ndarray:
    """FINDRISC total (Lindström & Tuomilehto 2003), points as in clinical-scores.md §7.1."""
    pts = np.select([age < 45, age < 55, age < 65], [0, 2, 3], 4)
    pts += np.select([bmi < 25, bmi <= 30], [0, 1], 3)
    lo = np.where(male, 94, 80)
    hi = np.where(male, 102, 88)
    pts += np.select([waist < lo, waist <= hi], [0, 3], 4)
    pts += 2 * inactive + 1 * no_veg + 2 * bptx + 5 * high_glucose
    pts += np.select([family == 2, family == 1], [5, 3], 0)
    return pts


def findrisc_10y(points: np.ndarray) -> np.ndarray:
    """10-year risk of type 2 diabetes by FINDRISC band: ≈1, 4, 17, 33, 50 %."""
    return np.select(
        [points < 7, points <= 11, points <= 14, points <= 20], [0.01, 0.04, 0.17, 0.33], 0.5
    )


def kfre_5y(age: np.ndarray, male: np.ndarray, egfr: np.ndarray, uacr: np.ndarray) -> np.ndarray:
    """KFRE 4-variable 5-year kidney-failure risk, non-North-America calibration."""
    x = (
        -0.2201 * (age / 10 - 7.036)
        + 0.2467 * (male - 0.5642)
        - 0.5567 * (egfr / 5 - 7.222)
        + 0.4510 * (np.log(uacr) - 5.137)
    )
    return 1 - 0.9365 ** np.exp(x)


# Levine PhenoAge (Aging 2018;10:573, full-precision constants as in clinical-scores.md §8).
PHENO = {
    "intercept": -19.90667,
    "albumin_gl": -0.03359355,
    "creat_umol": 0.009506491,
    "glucose_mmol": 0.1953192,
    "ln_crp_mgdl": 0.09536762,
    "lymph_pct": -0.01199984,
    "mcv": 0.02676401,
    "rdw": 0.3306156,
    "alp": 0.001868778,
    "wbc": 0.05542406,
    "age": 0.08035356,
}
PHENO_GAMMA = 0.0076927


def phenoage_xb(h: Columns, age: np.ndarray) -> np.ndarray:
    """Linear predictor of the PhenoAge Gompertz mortality model (unit conversions per §8)."""
    return (
        PHENO["intercept"]
        + PHENO["albumin_gl"] * h["albumin"] * 10
        + PHENO["creat_umol"] * h["creatinine"] * 88.4
        + PHENO["glucose_mmol"] * h["fasting_glucose"] * 0.0555
        + PHENO["ln_crp_mgdl"] * np.log(np.maximum(h["crp"], 0.1) / 10)
        + PHENO["lymph_pct"] * h["lymphocytes_pct"]
        + PHENO["mcv"] * h["mcv"]
        + PHENO["rdw"] * h["rdw"]
        + PHENO["alp"] * h["alp"]
        + PHENO["wbc"] * h["wbc"]
        + PHENO["age"] * age
    )


def _rate(p10: np.ndarray, years: float = 10.0) -> np.ndarray:
    return -np.log1p(-np.clip(p10, 0, 0.999)) / years


def _solve_stroke_calibration(
    h_base: np.ndarray, prior: np.ndarray, old: np.ndarray, n_total: int, n_old: int
) -> tuple[float, float, float]:
    """Factors (f_under80, f_80plus, r_recurrent) matching the KDCA 2022 figures."""
    e_total = cal.STROKE_CRUDE_PER_100K / 1e5 * n_total
    e_old = cal.STROKE_80PLUS_PER_100K / 1e5 * n_old
    a = h_base[~prior & ~old].sum()
    ar = h_base[prior & ~old].sum()
    b = h_base[~prior & old].sum()
    br = h_base[prior & old].sum()
    if n_old == 0 or b + br == 0:
        e_old = 0.0

    def recurrent_share(r: float) -> float:
        f1 = (e_total - e_old) / max(a + r * ar, 1e-12)
        f2 = e_old / max(b + r * br, 1e-12) if e_old else 0.0
        return r * (f1 * ar + f2 * br) / e_total

    lo, hi = 0.0, 1000.0
    if ar + br > 0:
        for _ in range(80):
            mid = (lo + hi) / 2
            if recurrent_share(mid) < cal.STROKE_RECURRENT_SHARE:
                lo = mid
            else:
                hi = mid
    r = (lo + hi) / 2
    f1 = (e_total - e_old) / max(a + r * ar, 1e-12)
    f2 = e_old / max(b + r * br, 1e-12) if e_old else f1
    return f1, f2, r


def draw_events(rng: np.random.Generator, p: Columns, h: Columns) -> tuple[Columns, Columns]:
    """Return (per-person risk columns, events table columns: person index, event, date)."""
    n = len(p["age"])
    age = p["age"].astype(float)
    male = p["male"]
    adult = age >= 20
    dm = h["diabetes"]
    smoking = h["smoking_status"] == 2

    p10 = prevent_stroke_10y(
        age,
        male,
        h["total_cholesterol"],
        h["hdl"],
        h["sbp"],
        dm,
        smoking,
        h["egfr"],
        h["bp_treated"],
        h["statin"],
    )
    rate = _rate(p10)
    af = h["atrial_fibrillation"]
    rate = (
        rate * np.where(af, cal.AF_STROKE_HR, 1.0) * np.where(h["oac"], 1 - cal.OAC_STROKE_RRR, 1.0)
    )
    rate = np.where(adult, rate, 0.0)
    prior = h["prior_stroke"]
    old = age >= 80
    f1, f2, r = _solve_stroke_calibration(rate, prior, old, n, int(old.sum()))
    stroke_rate = rate * np.where(old, f2, f1) * np.where(prior, r, 1.0)
    # The KDCA figures count events; a person here has at most one stroke in the horizon, so
    # match the expected number of people with a stroke (5-year probability, not summed
    # hazard) in the under-80 and 80+ groups with a few multiplicative corrections.
    targets = {
        False: (cal.STROKE_CRUDE_PER_100K * n - cal.STROKE_80PLUS_PER_100K * old.sum()) / 1e5,
        True: cal.STROKE_80PLUS_PER_100K / 1e5 * old.sum(),
    }
    for _ in range(6):
        p5 = -np.expm1(-HORIZON_YEARS * stroke_rate) / HORIZON_YEARS
        for group, target in targets.items():
            sel = old == group
            got = p5[sel].sum()
            if got > 0 and target > 0:
                stroke_rate[sel] *= target / got

    points = findrisc_points(
        age,
        h["bmi"],
        h["waist_cm"],
        male,
        h["physically_inactive"],
        h["no_daily_vegetables"],
        h["bp_treated"],
        (h["fasting_glucose"] >= 100) | (h["hba1c"] >= 5.7),
        h["family_history_diabetes"],
    )
    beta_ir = 0.6
    ir_mult = np.exp(beta_ir * h["insulin_resistance"] - beta_ir**2 / 2)
    dm_rate = np.where(adult & ~dm, _rate(findrisc_10y(points)) * ir_mult, 0.0)

    kfre = np.where(adult & (h["egfr"] < 60), kfre_5y(age, male, h["egfr"], h["uacr"]), 0.0)
    kf_rate = _rate(kfre, HORIZON_YEARS)

    xb = phenoage_xb(h, age)
    risk: Columns = {
        "prevent_stroke_10y": p10,
        "stroke_rate_per_year": stroke_rate,
        "findrisc_points": points,
        "diabetes_rate_per_year": dm_rate,
        "kfre_5y": kfre,
        "phenoage_xb": xb,
    }

    # Event times (years from baseline).
    t_stroke = rng.exponential(1.0, n) / np.maximum(stroke_rate, 1e-12)
    t_dm = rng.exponential(1.0, n) / np.maximum(dm_rate, 1e-12)
    t_kf = rng.exponential(1.0, n) / np.maximum(kf_rate, 1e-12)
    # Gompertz (months): H(t) = exp(xb)(exp(γt)-1)/γ  →  t = ln(1 + γE/exp(xb))/γ, E ~ Exp(1).
    e = rng.exponential(1.0, n)
    t_death = np.log1p(PHENO_GAMMA * e / np.exp(xb)) / PHENO_GAMMA / 12
    t_death = np.where(adult, t_death, np.inf)
    fatal = rng.random(n) < np.where(old, cal.STROKE_30D_FATALITY_80, cal.STROKE_30D_FATALITY)
    t_death = np.where(
        (t_stroke < HORIZON_YEARS) & fatal,
        np.minimum(t_death, t_stroke + rng.random(n) * 30 / 365.25),
        t_death,
    )
    events = {"stroke": t_stroke, "diabetes": t_dm, "kidney_failure": t_kf, "death": t_death}
    idx_parts, name_parts, t_parts = [], [], []
    for name, t in events.items():
        keep = (t < HORIZON_YEARS) & (t <= t_death)
        idx = np.nonzero(keep)[0]
        idx_parts.append(idx)
        name_parts.append(np.full(len(idx), name, dtype=object))
        t_parts.append(t[idx])
    idx_all = np.concatenate(idx_parts)
    t_all = np.concatenate(t_parts)
    # Map [0, 5) years onto the horizon's calendar days (2025-01-01 .. 2029-12-31).
    horizon_days = int((HORIZON_END - BASELINE).astype(np.int64))
    days = np.floor(t_all / HORIZON_YEARS * horizon_days).astype(np.int64)
    ev: Columns = {
        "person": idx_all,
        "event": np.concatenate(name_parts),
        "date": BASELINE + days.astype("timedelta64[D]"),
    }
    order = np.lexsort((ev["event"].astype(str), ev["date"], ev["person"]))
    ev = {k: v[order] for k, v in ev.items()}
    return risk, ev
