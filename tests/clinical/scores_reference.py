"""A plain per-person Python implementation of every score, written from the formulas.

It exists to check the vectorised code (tests/clinical/test_scores_property.py) and to be timed
beside it (bench/bench_scores.py).  Constants are typed again here from
/work/shared/reference/clinical-scores.md, independently of src/, except the PREVENT tables,
which are read from the package's CSV with the csv module (their correctness is pinned by the
published Khan 2024 supplement examples in test_scores_published.py).  One person at a time,
``math`` only: deliberately slow and simple.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

Row = dict[str, Any]

# Hub data-quality limits (same documented limits as docs/scores.md).
PLAUSIBLE = {
    "age_years": (0, 120),
    "sbp_mmhg": (50, 300),
    "dbp_mmhg": (20, 200),
    "total_chol_mgdl": (50, 1000),
    "hdl_mgdl": (5, 250),
    "bmi_kgm2": (10, 90),
    "waist_cm": (40, 250),
    "creatinine_mgdl": (0.1, 25),
    "cystatin_c_mgl": (0.2, 15),
    "egfr_ml_min": (1, 250),
    "uacr_mgg": (0.01, 50000),
    "hba1c_pct": (3, 20),
    "glucose_mgdl": (20, 1500),
    "albumin_gdl": (1, 7),
    "crp_mgl": (0, 500),
    "lymphocyte_pct": (0, 100),
    "mcv_fl": (50, 150),
    "rdw_pct": (5, 40),
    "alp_ul": (5, 3000),
    "wbc_10e3ul": (0.1, 300),
    "bun_mgdl": (1, 300),
    "tia_duration_min": (0, 1440),
    "resp_rate": (2, 80),
    "spo2_pct": (40, 100),
    "pulse_bpm": (20, 300),
    "temp_c": (25, 45),
}


def num(row: Row, name: str) -> float | None:
    v = row.get(name)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    v = float(v)
    lo, hi = PLAUSIBLE[name]
    if v < lo or v > hi:
        return None
    return v


def flag(row: Row, name: str) -> int | None:
    v = row.get(name)
    if v is None:
        return None
    return 1 if v else 0


def female(row: Row) -> int | None:
    s = row.get("sex")
    words = {"female": 1, "f": 1, "woman": 1, "male": 0, "m": 0, "man": 0}
    return words.get(str(s).strip().lower()) if s is not None else None


def all_there(*vals: Any) -> bool:
    return all(v is not None for v in vals)


# ---------------------------------------------------------------- PCE 2013 (Goff 2014, 4-dp set)
PCE = {
    # group: ln_age, ln_age², ln_tc, ln_age·ln_tc, ln_hdl, ln_age·ln_hdl, ln_sbp_tr,
    # ln_age·ln_sbp_tr, ln_sbp_untr, ln_age·ln_sbp_untr, smoker, ln_age·smoker, dm, mean, s0
    "wf": (
        -29.799,
        4.884,
        13.540,
        -3.114,
        -13.578,
        3.149,
        2.019,
        0,
        1.957,
        0,
        7.574,
        -1.665,
        0.661,
        -29.1817,
        0.96652,
    ),
    "bf": (
        17.1141,
        0,
        0.9396,
        0,
        -18.9196,
        4.4748,
        29.2907,
        -6.4321,
        27.8197,
        -6.0873,
        0.6908,
        0,
        0.8738,
        86.6081,
        0.95334,
    ),
    "wm": (
        12.344,
        0,
        11.853,
        -2.664,
        -7.990,
        1.769,
        1.797,
        0,
        1.764,
        0,
        7.837,
        -1.795,
        0.658,
        61.1816,
        0.91436,
    ),
    "bm": (2.469, 0, 0.302, 0, -0.307, 0, 1.916, 0, 1.809, 0, 0.549, 0, 0.645, 19.5425, 0.89536),
}


def pce_inputs(row: Row) -> tuple[Any, ...] | None:
    age, tc, hdl, sbp = (
        num(row, k) for k in ("age_years", "total_chol_mgdl", "hdl_mgdl", "sbp_mmhg")
    )
    f, tr, sm, dm = (
        female(row),
        flag(row, "bp_treated"),
        flag(row, "smoker_current"),
        flag(row, "diabetes"),
    )
    if not all_there(age, tc, hdl, sbp, f, tr, sm, dm):
        return None
    if not (
        40 <= math.floor(age) <= 79 and 130 <= tc <= 320 and 20 <= hdl <= 100 and 90 <= sbp <= 200
    ):
        return None
    black = flag(row, "race_black") or 0
    return age, tc, hdl, sbp, f, tr, sm, dm, black


def pce_2013(row: Row) -> float | None:
    p = pce_inputs(row)
    if p is None:
        return None
    age, tc, hdl, sbp, f, tr, sm, dm, black = p
    c = PCE[("b" if black else "w") + ("f" if f else "m")]
    la, lt, lh, ls = math.log(age), math.log(tc), math.log(hdl), math.log(sbp)
    s = c[0] * la + c[1] * la * la + c[2] * lt + c[3] * la * lt + c[4] * lh + c[5] * la * lh
    if tr:
        s += c[6] * ls + c[7] * la * ls
    else:
        s += c[8] * ls + c[9] * la * ls
    s += c[10] * sm + c[11] * la * sm + c[12] * dm
    return 1 - c[14] ** math.exp(s - c[13])


def pce_2018(row: Row) -> float | None:
    p = pce_inputs(row)
    if p is None:
        return None
    age, tc, hdl, sbp, f, tr, sm, dm, b = p
    if f:
        k = (
            -12.823110,
            0.106501,
            0.432440,
            0.000056,
            0.017666,
            0.731678,
            0.943970,
            1.009790,
            0.151318,
            -0.008580,
            -0.003647,
            0.006208,
            0.152968,
            -0.000153,
            0.115232,
            -0.092231,
            0.070498,
            -0.000173,
            -0.000094,
        )
    else:
        k = (
            -11.679980,
            0.064200,
            0.482835,
            -0.000061,
            0.038950,
            2.055533,
            0.842209,
            0.895589,
            0.193307,
            0,
            -0.014207,
            0.011609,
            -0.119460,
            0.000025,
            -0.077214,
            -0.226771,
            -0.117749,
            0.004190,
            -0.000199,
        )
    ratio = tc / hdl
    x = (
        k[0]
        + k[1] * age
        + k[2] * b
        + k[3] * sbp**2
        + k[4] * sbp
        + k[5] * tr
        + k[6] * dm
        + k[7] * sm
        + k[8] * ratio
        + k[9] * age * b
        + k[10] * sbp * tr
        + k[11] * sbp * b
        + k[12] * b * tr
        + k[13] * age * sbp
        + k[14] * b * dm
        + k[15] * b * sm
        + k[16] * b * ratio
        + k[17] * b * sbp * tr
        + k[18] * b * sbp * age
    )
    return 1 / (1 + math.exp(-x))


# ---------------------------------------------------------------- Framingham 2008
FRAM_LIPID = {
    0: (3.06117, 1.12370, -0.93263, 1.93303, 1.99881, 0.65451, 0.57367, 23.9802, 0.88936),
    1: (2.32888, 1.20904, -0.70833, 2.76157, 2.82263, 0.52873, 0.69154, 26.1931, 0.95012),
}
FRAM_BMI = {
    0: (3.11296, 0.79277, 1.85508, 1.92672, 0.70953, 0.53160, 23.9388, 0.88431),
    1: (2.72107, 0.51125, 2.81291, 2.88267, 0.61868, 0.77763, 26.0145, 0.94833),
}


def framingham(row: Row, lipid: bool) -> float | None:
    age, sbp = num(row, "age_years"), num(row, "sbp_mmhg")
    f, tr, sm, dm = (
        female(row),
        flag(row, "bp_treated"),
        flag(row, "smoker_current"),
        flag(row, "diabetes"),
    )
    extra = (
        (num(row, "total_chol_mgdl"), num(row, "hdl_mgdl")) if lipid else (num(row, "bmi_kgm2"),)
    )
    if not all_there(age, sbp, f, tr, sm, dm, *extra) or not 30 <= math.floor(age) <= 74:
        return None
    if lipid:
        c = FRAM_LIPID[f]
        s = c[0] * math.log(age) + c[1] * math.log(extra[0]) + c[2] * math.log(extra[1])
        s += (c[4] if tr else c[3]) * math.log(sbp) + c[5] * sm + c[6] * dm
        return 1 - c[8] ** math.exp(s - c[7])
    c = FRAM_BMI[f]
    s = c[0] * math.log(age) + c[1] * math.log(extra[0])
    s += (c[3] if tr else c[2]) * math.log(sbp) + c[4] * sm + c[5] * dm
    return 1 - c[7] ** math.exp(s - c[6])


# ---------------------------------------------------------------- FSRP, men
def fsrp(row: Row) -> tuple[int | None, float | None]:
    age, sbp, f, tr = (
        num(row, "age_years"),
        num(row, "sbp_mmhg"),
        female(row),
        flag(row, "bp_treated"),
    )
    others = [
        flag(row, k)
        for k in ("diabetes", "smoker_current", "cvd_history", "atrial_fibrillation", "lvh")
    ]
    if not all_there(age, sbp, f, tr, *others) or f == 1:
        return None, None
    if not (55 <= math.floor(age) <= 84 and 97 <= sbp <= 205):
        return None, None
    a = math.floor(age)
    age_pts = 0
    for lo, p in ((57, 1), (60, 2), (63, 3), (66, 4), (69, 5), (73, 6), (76, 7), (79, 8), (82, 9)):
        if a >= lo:
            age_pts = p
    s = math.floor(sbp)
    if tr:
        lows = (106, 113, 118, 124, 130, 136, 143, 151, 162, 177)
    else:
        lows = (106, 116, 126, 136, 146, 156, 166, 176, 186, 196)
    sbp_pts = sum(1 for lo in lows if s >= lo)
    pts = age_pts + sbp_pts
    pts += 2 * others[0] + 3 * others[1] + 4 * others[2] + 4 * others[3] + 5 * others[4]
    table = [
        3,
        3,
        4,
        4,
        5,
        5,
        6,
        7,
        8,
        10,
        11,
        13,
        15,
        17,
        20,
        22,
        26,
        29,
        33,
        37,
        42,
        47,
        52,
        57,
        63,
        68,
        74,
        79,
        84,
        88,
    ]
    prob = table[pts - 1] / 100 if 1 <= pts <= 30 else None
    return pts, prob


# ---------------------------------------------------------------- kidney
def egfr_cr(row: Row) -> float | None:
    age, cr, f = num(row, "age_years"), num(row, "creatinine_mgdl"), female(row)
    if not all_there(age, cr, f) or age < 18:
        return None
    kappa, alpha = (0.7, -0.241) if f else (0.9, -0.302)
    ratio = cr / kappa
    e = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.200 * 0.9938**age
    return e * 1.012 if f else e


def egfr_crcys(row: Row) -> float | None:
    age, cr, cys, f = (
        num(row, "age_years"),
        num(row, "creatinine_mgdl"),
        num(row, "cystatin_c_mgl"),
        female(row),
    )
    if not all_there(age, cr, cys, f) or age < 18:
        return None
    kappa, alpha = (0.7, -0.219) if f else (0.9, -0.144)
    ratio = cr / kappa
    e = (
        135
        * min(ratio, 1) ** alpha
        * max(ratio, 1) ** -0.544
        * min(cys / 0.8, 1) ** -0.323
        * max(cys / 0.8, 1) ** -0.778
        * 0.9961**age
    )
    return e * 0.963 if f else e


def egfr(row: Row) -> float | None:
    computed = egfr_cr(row)
    return computed if computed is not None else num(row, "egfr_ml_min")


def kfre(row: Row) -> tuple[float | None, float | None]:
    age, f, e, uacr = num(row, "age_years"), female(row), egfr(row), num(row, "uacr_mgg")
    if not all_there(age, f, e, uacr) or age < 18 or e >= 60:
        return None, None
    male = 1 - f
    x = (
        -0.2201 * (age / 10 - 7.036)
        + 0.2467 * (male - 0.5642)
        - 0.5567 * (e / 5 - 7.222)
        + 0.4510 * (math.log(uacr) - 5.137)
    )
    return 1 - 0.9832 ** math.exp(x), 1 - 0.9365 ** math.exp(x)


# ---------------------------------------------------------------- PREVENT base (CSV tables)
_PREVENT: dict[tuple[str, int, str, int], dict[str, float]] = {}


def _prevent_table() -> dict[tuple[str, int, str, int], dict[str, float]]:
    if not _PREVENT:
        root = Path(__file__).resolve().parents[2]
        path = root / "src/axhub/clinical/scores/data/prevent_coefficients.csv"
        with path.open(encoding="utf-8") as fh:
            for rec in csv.DictReader(line for line in fh if not line.startswith("#")):
                for outcome in ("cvd", "ascvd", "hf", "chd", "stroke"):
                    for f, sex in ((0, "male"), (1, "female")):
                        key = (rec["model"], int(rec["horizon_years"]), outcome, f)
                        _PREVENT.setdefault(key, {})[rec["term"]] = float(rec[f"{sex}_{outcome}"])
    return _PREVENT


def prevent(row: Row, model: str = "base") -> dict[str, float | None]:
    """PREVENT base, +UACR or +HbA1c model (missing optional value → missing indicator)."""
    out: dict[str, float | None] = {}
    suffix = "" if model == "base" else f"_{model}"
    extra: dict[str, float] = {}
    optional_ok = True
    if model == "uacr":
        uacr = num(row, "uacr_mgg")
        raw = row.get("uacr_mgg")
        if raw is None:
            extra = {"ln_uacr": 0.0, "uacr_miss": 1.0}
        elif uacr is None or not 0.1 <= uacr <= 25000:
            optional_ok = False
        else:
            extra = {"ln_uacr": math.log(uacr), "uacr_miss": 0.0}
    if model == "hba1c":
        a1c = num(row, "hba1c_pct")
        raw = row.get("hba1c_pct")
        dm0 = flag(row, "diabetes") or 0
        if raw is None:
            extra = {"a1c_dm": 0.0, "a1c_nodm": 0.0, "a1c_miss": 1.0}
        elif a1c is None or not 4.5 <= a1c <= 15:
            optional_ok = False
        else:
            extra = {
                "a1c_dm": (a1c - 5.3) * dm0,
                "a1c_nodm": (a1c - 5.3) * (1 - dm0),
                "a1c_miss": 0.0,
            }
    age, tc, hdl, sbp, bmi, e = (
        num(row, "age_years"),
        num(row, "total_chol_mgdl"),
        num(row, "hdl_mgdl"),
        num(row, "sbp_mmhg"),
        num(row, "bmi_kgm2"),
        egfr(row),
    )
    f, tr, dm, sm, st = (
        female(row),
        flag(row, "bp_treated"),
        flag(row, "diabetes"),
        flag(row, "smoker_current"),
        flag(row, "statin"),
    )
    base_ok = (
        optional_ok
        and all_there(age, tc, hdl, sbp, e, f, tr, dm, sm, st)
        and (130 <= tc <= 320 and 20 <= hdl <= 100 and 90 <= sbp <= 180 and 15 <= e <= 140)
    )
    for h in (10, 30):
        top = 79 if h == 10 else 59
        for outcome in ("cvd", "ascvd", "hf", "chd", "stroke"):
            key = f"prevent_{outcome}_{h}y{suffix}"
            ok = base_ok and 30 <= math.floor(age) <= top
            if outcome == "hf":
                ok = ok and bmi is not None and 18.5 <= bmi <= 39.9
            if not ok:
                out[key] = None
                continue
            c = _prevent_table()[(model, h, outcome, f)]
            cage = (age - 55) / 10
            cnhdl = (tc - hdl) * 0.02586 - 3.5
            chdl = (hdl * 0.02586 - 1.3) / 0.3
            csbp_lt = (min(sbp, 110) - 110) / 20
            csbp_ge = (max(sbp, 110) - 130) / 20
            cegfr_lt = (min(e, 60) - 60) / -15
            cegfr_ge = (max(e, 60) - 90) / -15
            cbmi_lt = (min(bmi, 30) - 25) / 5 if bmi is not None else 0.0
            cbmi_ge = (max(bmi, 30) - 30) / 5 if bmi is not None else 0.0
            terms = {
                "cage": cage,
                "cage_sq": cage * cage,
                "cnhdl": cnhdl,
                "chdl": chdl,
                "csbp_lt": csbp_lt,
                "csbp_ge": csbp_ge,
                "dm": dm,
                "smoking": sm,
                "cbmi_lt": cbmi_lt,
                "cbmi_ge": cbmi_ge,
                "cegfr_lt": cegfr_lt,
                "cegfr_ge": cegfr_ge,
                "bptx": tr,
                "statin": st,
                "bptx_x_csbp_ge": tr * csbp_ge,
                "statin_x_cnhdl": st * cnhdl,
                "cage_x_cnhdl": cage * cnhdl,
                "cage_x_chdl": cage * chdl,
                "cage_x_csbp_ge": cage * csbp_ge,
                "cage_x_dm": cage * dm,
                "cage_x_smoking": cage * sm,
                "cage_x_cbmi_ge": cage * cbmi_ge,
                "cage_x_cegfr_lt": cage * cegfr_lt,
            } | extra
            x = c["constant"] + sum(c[t] * v for t, v in terms.items() if t in c)
            out[key] = 1 / (1 + math.exp(-x))
    return out


# ---------------------------------------------------------------- point scores
def cha2ds2vasc(row: Row) -> int | None:
    age, f = num(row, "age_years"), female(row)
    c, h, d, s, v = (
        flag(row, k)
        for k in ("chf", "hypertension", "diabetes", "prior_stroke_tia_te", "vascular_disease")
    )
    if not all_there(age, f, c, h, d, s, v):
        return None
    a = 2 if age >= 75 else 1 if age >= 65 else 0
    return c + h + a + d + 2 * s + v + f


def hasbled(row: Row) -> int | None:
    sbp, age = num(row, "sbp_mmhg"), num(row, "age_years")
    fl = [
        flag(row, k)
        for k in (
            "renal_abnormal",
            "liver_abnormal",
            "prior_stroke",
            "bleeding_history",
            "labile_inr",
            "antiplatelet_or_nsaid",
            "alcohol_excess",
        )
    ]
    if not all_there(sbp, age, *fl):
        return None
    return int(sbp > 160) + int(math.floor(age) > 65) + sum(fl)  # type: ignore[arg-type]


def abcd2(row: Row) -> int | None:
    age, sbp, dbp, dur = (
        num(row, "age_years"),
        num(row, "sbp_mmhg"),
        num(row, "dbp_mmhg"),
        num(row, "tia_duration_min"),
    )
    weak, speech, dm = (
        flag(row, "tia_unilateral_weakness"),
        flag(row, "tia_speech_disturbance"),
        flag(row, "diabetes"),
    )
    if not all_there(age, sbp, dbp, dur, weak, speech, dm):
        return None
    pts = int(age >= 60) + int(sbp >= 140 or dbp >= 90)
    pts += 2 if weak else 1 if speech else 0
    pts += 2 if dur >= 60 else 1 if dur >= 10 else 0
    return pts + dm


def findrisc(row: Row) -> int | None:
    age, bmi, waist, f = (
        num(row, "age_years"),
        num(row, "bmi_kgm2"),
        num(row, "waist_cm"),
        female(row),
    )
    act, veg, anti, glu = (
        flag(row, k)
        for k in (
            "physically_active",
            "daily_veg_fruit",
            "antihypertensive_ever",
            "high_glucose_ever",
        )
    )
    fam = row.get("family_history_diabetes")
    if not all_there(age, bmi, waist, f, act, veg, anti, glu, fam) or age < 18:
        return None
    pts = 4 if age >= 65 else 3 if age >= 55 else 2 if age >= 45 else 0
    pts += 3 if bmi > 30 else 1 if bmi >= 25 else 0
    lo, hi = (80, 88) if f else (94, 102)
    pts += 4 if waist > hi else 3 if waist >= lo else 0
    pts += 0 if act else 2
    pts += 0 if veg else 1
    pts += 2 * anti + 5 * glu + (0, 3, 5)[int(fam)]
    return pts


# ---------------------------------------------------------------- ageing
def phenoage(row: Row, c: float = 0.090165) -> float | None:
    names = (
        "age_years",
        "albumin_gdl",
        "creatinine_mgdl",
        "glucose_mgdl",
        "crp_mgl",
        "lymphocyte_pct",
        "mcv_fl",
        "rdw_pct",
        "alp_ul",
        "wbc_10e3ul",
    )
    v = [num(row, k) for k in names]
    if not all_there(*v) or v[0] < 20:
        return None
    age, alb, cr, glu, crp, lym, mcv, rdw, alp, wbc = v
    crp_mgdl = max(crp, 0.1) / 10
    xb = (
        -19.90667
        - 0.03359355 * alb * 10
        + 0.009506491 * cr * 88.4
        + 0.1953192 * glu * 0.0555
        + 0.09536762 * math.log(crp_mgdl)
        - 0.01199984 * lym
        + 0.02676401 * mcv
        + 0.3306156 * rdw
        + 0.001868778 * alp
        + 0.05542406 * wbc
        + 0.08035356 * age
    )
    g = 0.0076927
    try:
        m = 1 - math.exp(-math.exp(xb) * (math.exp(120 * g) - 1) / g)
        return 141.50225 + math.log(-0.0055305 * math.log(1 - m)) / c
    except (ValueError, OverflowError):
        return None


def kdm(row: Row, model: Any) -> float | None:
    if model is None:
        return None
    age, f = num(row, "age_years"), female(row)
    vals = []
    for b in model.biomarkers:
        if b == "ln_crp":
            crp = num(row, "crp_mgl")
            vals.append(None if crp is None else math.log(max(crp, 0.1)))
        else:
            vals.append(num(row, b))
    if not all_there(age, f, *vals):
        return None
    num_, den = 0.0, 0.0
    for j, xj in enumerate(vals):
        q, k, s = model.q[f][j], model.k[f][j], model.s[f][j]
        num_ += (xj - q) * k / s**2
        den += (k / s) ** 2
    s_ba2 = model.s_ba2[f]
    return (num_ + age / s_ba2) / (den + 1 / s_ba2)


def efi(row: Row, deficit_ids: list[str]) -> tuple[float | None, str | None]:
    flags = [flag(row, f"efi_{d}") for d in deficit_ids]
    if any(v is None for v in flags):
        return None, None
    count = sum(flags)  # type: ignore[arg-type]
    cat = "fit" if count <= 4 else "mild" if count <= 8 else "moderate" if count <= 13 else "severe"
    return count / 36, cat


def news2(row: Row) -> tuple[int | None, str | None]:
    rr, spo2, sbp, pulse, temp = (
        num(row, k) for k in ("resp_rate", "spo2_pct", "sbp_mmhg", "pulse_bpm", "temp_c")
    )
    o2 = flag(row, "on_oxygen")
    avpu = row.get("consciousness")
    age = num(row, "age_years")
    if not all_there(rr, spo2, sbp, pulse, temp, o2, avpu) or (age is not None and age < 16):
        return None, None

    def r0(v: float) -> float:
        return math.floor(v + 0.5)

    rr, spo2, sbp, pulse = r0(rr), r0(spo2), r0(sbp), r0(pulse)
    temp = math.floor(temp * 10 + 0.5) / 10
    p_rr = 3 if rr <= 8 else 1 if rr <= 11 else 0 if rr <= 20 else 2 if rr <= 24 else 3
    if flag(row, "spo2_scale2"):
        if spo2 <= 83:
            p_sp = 3
        elif spo2 <= 85:
            p_sp = 2
        elif spo2 <= 87:
            p_sp = 1
        elif spo2 <= 92 or not o2:
            p_sp = 0
        else:
            p_sp = 1 if spo2 <= 94 else 2 if spo2 <= 96 else 3
    else:
        p_sp = 3 if spo2 <= 91 else 2 if spo2 <= 93 else 1 if spo2 <= 95 else 0
    p_o2 = 2 if o2 else 0
    p_sbp = 3 if sbp <= 90 else 2 if sbp <= 100 else 1 if sbp <= 110 else 0 if sbp <= 219 else 3
    p_hr = (
        3
        if pulse <= 40
        else 1
        if pulse <= 50
        else 0
        if pulse <= 90
        else 1
        if pulse <= 110
        else 2
        if pulse <= 130
        else 3
    )
    p_c = 0 if str(avpu).strip().lower() in ("a", "alert") else 3
    p_t = (
        3
        if temp <= 35.0
        else 1
        if temp <= 36.0
        else 0
        if temp <= 38.0
        else 1
        if temp <= 39.0
        else 2
    )
    parts = [p_rr, p_sp, p_o2, p_sbp, p_hr, p_c, p_t]
    total = sum(parts)
    band = (
        "high"
        if total >= 7
        else "medium"
        if total >= 5
        else "low-medium"
        if max(parts) >= 3
        else "low"
    )
    return total, band


def score_person(row: Row, *, kdm_model: Any = None, deficit_ids: list[str]) -> dict[str, Any]:
    """Every score id for one person (None = not computable)."""
    out: dict[str, Any] = {
        "pce_ascvd_10y": pce_2013(row),
        "pce2018_ascvd_10y": pce_2018(row),
        "framingham_cvd_10y": framingham(row, lipid=True),
        "framingham_cvd_bmi_10y": framingham(row, lipid=False),
    }
    out["fsrp_points"], out["fsrp_stroke_10y"] = fsrp(row)
    out.update(prevent(row))
    out["cha2ds2vasc"] = cha2ds2vasc(row)
    out["hasbled"] = hasbled(row)
    out["abcd2"] = abcd2(row)
    out["egfr_ckdepi2021_cr"] = egfr_cr(row)
    out["egfr_ckdepi2021_crcys"] = egfr_crcys(row)
    out["kfre_2y"], out["kfre_5y"] = kfre(row)
    out["findrisc"] = findrisc(row)
    out["phenoage"] = phenoage(row)
    out["kdm_bioage"] = kdm(row, kdm_model)
    out["efi"], out["efi_category"] = efi(row, deficit_ids)
    out["news2"], out["news2_risk"] = news2(row)
    return out
