"""Clinical records of each visit: encounters, observations, conditions, medication requests.

Everything is built as long NumPy tables (one row per resource) over all visits of a site;
values are the person's true values plus measurement / visit-to-visit noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from axhub.synth.health import egfr_ckd_epi_2021
from axhub.synth.population import Columns

RECORD_START = np.datetime64("2022-01-01", "D")
RECORD_DAYS = 1096  # 2022-01-01 .. 2024-12-31


@dataclass(frozen=True)
class LabSpec:
    """A measured quantity: the true column, noise (abs SD or CV), decimals and limits."""

    key: str
    column: str
    sd: float
    relative: bool
    decimals: int
    lo: float
    hi: float


# Within-person / analytical variation: ASSUMPTION values of usual magnitude.
QUANTITIES: tuple[LabSpec, ...] = (
    LabSpec("heart_rate", "heart_rate", 6, False, 0, 35, 180),
    LabSpec("weight", "weight_kg", 0.8, False, 1, 2, 200),
    LabSpec("height", "height_cm", 0.5, False, 1, 45, 210),
    LabSpec("bmi", "bmi", 0.3, False, 1, 10, 60),
    LabSpec("waist", "waist_cm", 2.0, False, 1, 40, 160),
    LabSpec("total_cholesterol", "total_cholesterol", 0.05, True, 0, 70, 500),
    LabSpec("hdl", "hdl", 0.06, True, 0, 10, 150),
    LabSpec("ldl", "ldl", 0.07, True, 0, 20, 400),
    LabSpec("triglycerides", "triglycerides", 0.2, True, 0, 20, 2000),
    LabSpec("fasting_glucose", "fasting_glucose", 0.07, True, 0, 40, 600),
    LabSpec("hba1c", "hba1c", 0.15, False, 1, 3.5, 16),
    LabSpec("creatinine", "creatinine", 0.05, True, 2, 0.2, 15),
    LabSpec("egfr", "egfr", 0.0, False, 0, 2, 200),
    LabSpec("uacr", "uacr", 0.3, True, 1, 0.5, 8000),
    LabSpec("albumin", "albumin", 0.15, False, 1, 1.5, 6),
    LabSpec("crp", "crp", 0.4, True, 1, 0.1, 300),
    LabSpec("lymphocytes_pct", "lymphocytes_pct", 3.0, False, 1, 2, 80),
    LabSpec("mcv", "mcv", 1.5, False, 1, 60, 120),
    LabSpec("rdw", "rdw", 0.4, False, 1, 9, 25),
    LabSpec("alp", "alp", 0.1, True, 0, 15, 800),
    LabSpec("wbc", "wbc", 0.12, True, 2, 1, 40),
)
QKEYS = [q.key for q in QUANTITIES]
LIPIDS = ["total_cholesterol", "hdl", "ldl", "triglycerides"]
GLYCAEMIA = ["fasting_glucose", "hba1c"]
KIDNEY = ["creatinine", "egfr", "uacr"]
PHENO = ["albumin", "crp", "lymphocytes_pct", "mcv", "rdw", "alp", "wbc"]
# Lab menus per site (ASSUMPTION): university hospitals run the full panel, clinics the
# metabolic panel with CBC, the public health centre lipids and glycaemia.
LAB_MENU = {
    "knuh": LIPIDS + GLYCAEMIA + KIDNEY + PHENO,
    "hallym": LIPIDS + GLYCAEMIA + KIDNEY + PHENO,
    "clinics": LIPIDS
    + GLYCAEMIA
    + ["creatinine", "egfr", "uacr", "lymphocytes_pct", "mcv", "rdw", "wbc"],
    "phc": LIPIDS + GLYCAEMIA,
}

CONDITION_KEYS = (
    "hypertension",
    "diabetes",
    "dyslipidaemia",
    "obesity",
    "atrial_fibrillation",
    "ckd_stage3",
    "ckd_stage4",
    "ckd_stage5",
    "prior_stroke",
    "tobacco_use",
    "stroke",
)

DRUG_KEYS = (
    "amlodipine",
    "losartan",
    "telmisartan",
    "hydrochlorothiazide",
    "metformin",
    "glimepiride",
    "sitagliptin",
    "dapagliflozin",
    "insulin_glargine",
    "atorvastatin",
    "rosuvastatin",
    "warfarin",
    "apixaban",
    "rivaroxaban",
    "edoxaban",
    "aspirin",
    "clopidogrel",
    "bisoprolol",
    "aceclofenac",
    "celecoxib",
    "omeprazole",
    "pantoprazole",
    "lansoprazole",
    "rabeprazole",
    "esomeprazole",
    "diazepam",
    "alprazolam",
    "alendronate",
)
DRUG_INDEX = {k: i for i, k in enumerate(DRUG_KEYS)}
# Prescriber preference per drug class (first visited site in the list prescribes).
CHRONIC_PRESCRIBERS = (3, 2, 0, 1)  # clinics, phc, knuh, hallym (indices into SITES)
SPECIALIST_PRESCRIBERS = (0, 1, 3, 2)


@dataclass(frozen=True)
class PrescribingRate:
    """A prescribing share used by ``drug_plan`` with the source it comes from."""

    value: float
    source: str


# ---- prescribing of older Koreans: every rate names its source (decision 0150) ----------------
# Antihypertensive classes among treated hypertension, NHI 2021: ARB 75.1 %, CCB 61.7 %,
# diuretics 23.4 %, beta blockers 15.3 %; 60.2 % on two or more classes (Korea Hypertension
# Fact Sheet 2023, Kim HC et al. Clin Hypertens 2024, doi:10.1186/s40885-024-00262-z, abstract).
HTN_FACT_SHEET = "Korea Hypertension Fact Sheet 2023 (Clin Hypertens 2024), NHI data 2021"
HTN_CLASS_SHARE = {"A": 0.751, "C": 0.617, "D": 0.234, "B": 0.153}
HTN_COMBINATION = PrescribingRate(0.602, HTN_FACT_SHEET)
# Class combinations (A ARB, C CCB, D thiazide, B beta blocker) and their shares within one,
# two and three classes.  DERIVED, not an extra fact: the mean number of classes (sum of the
# class shares, 1.755) and the 60.2 % on two or more fix the one/two/three-class split
# (39.8 / 44.9 / 15.3 %); iterative proportional fitting from equal shares then reproduces the
# four class shares exactly (the script is in decision 0150).  Four-class regimens and
# ACE inhibitors are left out (no figure).
HTN_COMBOS: tuple[tuple[str, float], ...] = (
    ("A", 0.2412),
    ("C", 0.1568),
    ("AC", 0.2150),
    ("AD", 0.0857),
    ("AB", 0.0561),
    ("CD", 0.0557),
    ("CB", 0.0364),
    ("ACD", 0.0925),
    ("ACB", 0.0605),
)
# Glucose-lowering regimens, NHI 2013: 44.9 % dual and 15.5 % triple combinations, the rest
# monotherapy (Ko SH et al., "Trends of antidiabetic drug use in adult type 2 diabetes in Korea in
# 2002-2013", KDA Diabetes Fact Sheet task force, NHIS data; abstract).
KO_2013 = "Ko SH et al., antidiabetic drug use in Korea 2002-2013 (NHIS, 2013 figures)"
DM_DUAL = PrescribingRate(0.449, KO_2013)
DM_TRIPLE = PrescribingRate(0.155, KO_2013)
# Aspirin users among people with type 2 diabetes seen at eight general hospitals in Busan:
# 32 % (REBOUND study; Suk JH et al. Diabetes Metab J 2014;38:230-239, abstract).
DM_ASPIRIN = PrescribingRate(0.32, "Suk JH et al. Diabetes Metab J 2014;38:230-239 (REBOUND)")
# Anticoagulated older people with non-valvular AF: 87.1 % on a NOAC, the rest on warfarin
# (HIRA claims, index date 1 July 2018; Int J Arrhythm 2021, doi:10.1186/s42444-021-00053-9).
NOAC_SHARE = PrescribingRate(0.871, "Int J Arrhythm 2021, doi:10.1186/s42444-021-00053-9")
# Symptomatic radiographic knee osteoarthritis, KNHANES V 2010-2012: men 4.5 %, women 19 %
# (as cited by Park et al., "Treatment patterns of knee osteoarthritis patients in Korea",
# Korean J Intern Med 2019;34(5)).  KNHANES V took knee radiographs at 50 and over (our
# reading of the survey design), so the figures are applied from 50.
KNEE_OA_SOURCE = "KNHANES V as cited by Park et al. Korean J Intern Med 2019;34(5)"
KNEE_OA_MEN = PrescribingRate(0.045, KNEE_OA_SOURCE)
KNEE_OA_WOMEN = PrescribingRate(0.19, KNEE_OA_SOURCE)
KNEE_OA_MIN_AGE = 50
# Regular NSAID users (medication possession ratio >= 50 %) among knee-OA patients, 2014
# nationwide claims: 48.8 % (Park et al. Korean J Intern Med 2019;34(5)).
NSAID_REGULAR = PrescribingRate(0.488, "Park et al. Korean J Intern Med 2019;34(5), knee OA, 2014")
# Selective COX-2 inhibitor alone: 9.6 % of NSAID prescriptions to older arthritis patients
# (HIRA National Patient Sample 2011; Chun S, Choi Y. J Korean Soc Integr Med 2020;8(4):79-92).
# The other NSAIDs are represented by aceclofenac (an acetic-acid derivative, the class of
# diclofenac, the NSAID most prescribed to older Koreans with OA in Choi NK et al. J Prev Med
# Public Health 2004;37:150); no source gives the current ingredient mix.
COXIB_SHARE = PrescribingRate(0.096, "Chun S, Choi Y. J Korean Soc Integr Med 2020;8(4):79")
# Chronic NSAID users aged 65+ with one GI risk factor: 13.2 % receive a PPI (or misoprostol)
# for >80 % of NSAID days (Int J Clin Pharm, doi:10.1007/s11096-020-01176-0, 20 % NHI
# sample, abstract).  Applied to NSAID users on an anticoagulant or antiplatelet (one risk
# factor).  The PPI ingredient is drawn
# evenly among the five PPIs (ASSUMPTION: no source for the ingredient mix).
PPI_WITH_NSAID = PrescribingRate(0.132, "Int J Clin Pharm, doi:10.1007/s11096-020-01176-0")
PPI_KEYS = ("omeprazole", "pantoprazole", "lansoprazole", "rabeprazole", "esomeprazole")
# Long-term benzodiazepine use, people aged 65+, Korea 2023: 11.5 per 1,000 (OECD Health at
# a Glance 2025, as reported by the Ministry of Health and Welfare; secondary copy).
LONG_TERM_BZD = PrescribingRate(0.0115, "OECD Health at a Glance 2025 (MoHW summary)")
# Diazepam is 39.7 % of benzodiazepine prescriptions to older outpatients (HIRA-NPS 2013,
# Park SY et al. Int J Clin Pharmacol Ther 2017;55:472-479); the rest is represented by alprazolam,
# the PIM most prescribed to older Koreans with polypharmacy (Shin WY et al. BMC Geriatr
# 2024;24:542, abstract).
DIAZEPAM_SHARE = PrescribingRate(0.397, "Park SY et al. Int J Clin Pharmacol Ther 2017;55:472-479")
# Osteoporosis (DXA T-score <= -2.5) at age 50+, KNHANES 2008-2009: women 35.5 %, men 7.5 %
# (Choi YJ et al. J Bone Miner Res 2012, abstract); 33.5 % of people with osteoporosis take an
# anti-osteoporotic medicine (Osteoporosis and Osteoporotic Fracture Fact Sheet in Korea,
# J Bone Metab 2020;27(4):281-290, abstract).  Alendronate represents the class (no source
# for the ingredient mix).
OSTEOPOROSIS_WOMEN = PrescribingRate(0.355, "Choi YJ et al. J Bone Miner Res 2012 (KNHANES)")
OSTEOPOROSIS_MEN = PrescribingRate(0.075, "Choi YJ et al. J Bone Miner Res 2012 (KNHANES)")
OSTEOPOROSIS_TREATED = PrescribingRate(0.335, "J Bone Metab 2020;27(4):281-290 (fact sheet)")
# Polypharmacy target for the calibration report only (not used to draw): 47.8 % of people
# aged 65+ with a claim took >= 5 medicines for >= 90 days in a year (NHI 2019; Cho HJ et al.
# Clin Transl Sci 2023;16:193-205).
POLYPHARMACY_65 = PrescribingRate(0.478, "Cho HJ et al. Clin Transl Sci 2023;16:193-205")


def encounters(
    rng: np.random.Generator,
    visit_person: np.ndarray,
    h: Columns,
    admitted: np.ndarray | None = None,
) -> Columns:
    """Encounters of the visits (sorted by visit, then time); ``first`` marks each visit's first.

    ``admitted`` (per visit) turns the visit's first encounter into an inpatient stroke
    admission lasting 5-20 days (ASSUMPTION), ended before the visit's next encounter.
    """
    chronic = (
        h["hypertension_aware"].astype(int)
        + h["diabetes_aware"]
        + h["dyslipidaemia_aware"]
        + h["atrial_fibrillation"]
        + h["ckd_aware"]
        + h["prior_stroke"]
    )[visit_person]
    # Encounters per visit in 2022-2024: 1 + Poisson(0.5 + 0.6 per chronic condition), at
    # most 6 (ASSUMPTION).
    n_enc = 1 + np.minimum(rng.poisson(0.5 + 0.6 * chronic), 5)
    visit = np.repeat(np.arange(len(visit_person)), n_enc)
    day = rng.integers(0, RECORD_DAYS, len(visit))
    sec = rng.integers(9 * 3600, 17 * 3600, len(visit)) // 60 * 60
    order = np.lexsort((sec, day, visit))
    visit, day, sec = visit[order], day[order], sec[order]
    first = np.ones(len(visit), dtype=bool)
    first[1:] = visit[1:] != visit[:-1]
    last = np.ones(len(visit), dtype=bool)
    last[:-1] = visit[1:] != visit[:-1]
    start = (RECORD_START + day.astype("timedelta64[D]")).astype("datetime64[s]") + sec.astype(
        "timedelta64[s]"
    )
    minutes = rng.integers(10, 40, len(visit))
    end = start + (minutes * 60).astype("timedelta64[s]")
    inpatient = np.zeros(len(visit), dtype=bool)
    if admitted is not None:
        inpatient = first & admitted[visit]
        stay = rng.integers(5, 21, len(visit))
        gap = np.full(len(visit), 10_000)
        gap[:-1] = np.where(last[:-1], 10_000, day[1:] - day[:-1])
        stay = np.clip(np.minimum(stay, gap - 1), 1, None)
        discharge = start + (stay * 86_400).astype("timedelta64[s]")
        end = np.where(inpatient, discharge, end)
    return {
        "visit": visit,
        "person": visit_person[visit],
        "start": start,
        "end": end,
        "first": first,
        "last": last,
        "inpatient": inpatient,
    }


def observations(
    rng: np.random.Generator,
    site: str,
    enc: Columns,
    h: Columns,
    age: np.ndarray,
    male: np.ndarray,
) -> Columns:
    """Quantity observations (long table) of one site's encounters."""
    person = enc["person"]
    n_enc = len(person)
    a = age[person]
    adult = a >= 19
    chronic = (h["hypertension_aware"] | h["diabetes_aware"] | h["dyslipidaemia_aware"])[person]
    hosp = site in ("knuh", "hallym")
    do = np.zeros((n_enc, len(QKEYS)), dtype=bool)
    col = {k: i for i, k in enumerate(QKEYS)}
    do[:, col["heart_rate"]] = adult
    do[:, col["weight"]] = True
    first = enc["first"]
    do[:, col["height"]] = first
    do[:, col["bmi"]] = first & (a >= 2)
    do[:, col["waist"]] = first & adult & (rng.random(n_enc) < (0.5 if site == "clinics" else 0.7))
    # Share of first visits with labs, and of later visits of chronic patients (ASSUMPTION).
    p_lab_first = {"knuh": 0.8, "hallym": 0.8, "clinics": 0.6, "phc": 0.5}[site]
    labs = adult & (
        (first & (rng.random(n_enc) < p_lab_first)) | (~first & chronic & (rng.random(n_enc) < 0.4))
    )
    for key in LAB_MENU[site]:
        do[:, col[key]] = labs
    need_a1c = (h["diabetes_aware"] | (h["fasting_glucose"] >= 100))[person]
    do[:, col["hba1c"]] &= need_a1c | (rng.random(n_enc) < 0.3)
    need_uacr = (h["diabetes_aware"] | h["hypertension_aware"] | h["ckd_aware"])[person]
    do[:, col["uacr"]] &= need_uacr | (rng.random(n_enc) < (0.2 if hosp else 0.05))
    if not hosp:
        do[:, col["crp"]] = False
    e_idx, k_idx = np.nonzero(do)
    p_idx = person[e_idx]
    value = np.empty(len(e_idx))
    decimals = np.empty(len(e_idx), dtype=np.int64)
    creat_factor = np.exp(rng.normal(0, 0.05, n_enc))  # shared by creatinine and eGFR
    for i, q in enumerate(QUANTITIES):
        sel = k_idx == i
        if not sel.any():
            continue
        pi = p_idx[sel]
        true = h[q.column][pi]
        if q.key == "creatinine":
            v = true * creat_factor[e_idx[sel]]
        elif q.key == "egfr":
            cr = np.round(h["creatinine"][pi] * creat_factor[e_idx[sel]], 2).clip(0.2, 15)
            v = egfr_ckd_epi_2021(cr, np.maximum(age[pi], 18).astype(float), male[pi])
        elif q.relative:
            v = true * np.exp(rng.normal(0, q.sd, len(pi)))
        else:
            v = true + rng.normal(0, q.sd, len(pi))
        value[sel] = np.clip(v, q.lo, q.hi)
        decimals[sel] = q.decimals
    bp = adult | (a >= 15)
    bp_enc = np.nonzero(bp)[0]
    bp_person = person[bp_enc]
    sbp = h["sbp"][bp_person] + rng.normal(0, 8, len(bp_enc))
    dbp = h["dbp"][bp_person] + rng.normal(0, 6, len(bp_enc))
    return {
        "enc": e_idx,
        "key": k_idx,
        "value": value,
        "decimals": decimals,
        "bp_enc": bp_enc,
        "sbp": np.round(sbp.clip(60, 260)),
        "dbp": np.round(np.minimum(dbp, sbp - 10).clip(30, 160)),
        "smoking_enc": np.nonzero(first & adult)[0],
    }


def conditions(
    rng: np.random.Generator,
    site: str,
    visit_person: np.ndarray,
    h: Columns,
    admitted: np.ndarray | None = None,
) -> Columns:
    """Coded diagnoses per visit (long table of visit index and CONDITION_KEYS index).

    A stroke admission (``admitted``, per visit) is coded as acute cerebral infarction (I63.9)
    on the admission encounter; prior stroke (I69.3) stays coded as any other known condition.
    """
    egfr = h["egfr"]
    ckd = h["ckd_aware"]
    known = {
        "hypertension": h["hypertension_aware"],
        "diabetes": h["diabetes_aware"],
        "dyslipidaemia": h["dyslipidaemia_aware"],
        "obesity": h["obesity"] & (rng.random(len(egfr)) < 0.1),  # ASSUMPTION: rarely coded
        "atrial_fibrillation": h["atrial_fibrillation"],
        "ckd_stage3": ckd & (egfr >= 30),
        "ckd_stage4": ckd & (egfr >= 15) & (egfr < 30),
        "ckd_stage5": ckd & (egfr < 15),
        "prior_stroke": h["prior_stroke"],
        # ASSUMPTION: tobacco use rarely coded as a diagnosis (10 % of current smokers).
        "tobacco_use": (h["smoking_status"] == 2) & (rng.random(len(egfr)) < 0.1),
    }
    # Each known condition is coded at a visited site with probability 0.9 (ASSUMPTION;
    # 0.6 for AF/stroke/CKD at the public health centre).
    person_keys = [k for k in CONDITION_KEYS if k != "stroke"]
    matrix = np.stack([known[k][visit_person] for k in person_keys], axis=1)
    p = np.full(len(person_keys), 0.9)
    if site == "phc":
        p[[4, 5, 6, 7, 8]] = 0.6
    matrix &= rng.random(matrix.shape) < p
    acute = np.zeros(len(visit_person), dtype=bool) if admitted is None else admitted
    matrix = np.column_stack([matrix, acute])  # always coded on an admission
    v_idx, c_idx = np.nonzero(matrix)
    return {"visit": v_idx, "key": c_idx}


def _draw(u: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """Index of the category whose cumulative share first exceeds ``u`` (vectorised)."""
    return np.minimum(np.searchsorted(cumulative, u, side="right"), len(cumulative) - 1)


def _htn_combo_tables(arb_pref_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative combo shares per class count for ARB-preferred people and for the others.

    ARB-preferred people draw only ARB-containing combinations; the others' shares are solved
    so that the treated population as a whole keeps ``HTN_COMBOS`` (and so the fact-sheet
    class shares) whatever the region's share of ARB-preferred people (clipped at zero when
    that share exceeds the ARB share of a class count).
    Returns (classes [n_combo, 4] bool over A C D B, cum_arb [3, n], cum_other [3, n]).
    """
    letters = "ACDB"
    classes = np.array([[c in combo for c in letters] for combo, _ in HTN_COMBOS])
    share = np.array([s for _, s in HTN_COMBOS])
    size = classes.sum(axis=1)
    f = min(max(arb_pref_share, 0.0), 0.999)
    cum_arb = np.zeros((3, len(share)))
    cum_other = np.zeros((3, len(share)))
    for k in (1, 2, 3):
        target = np.where(size == k, share, 0.0)
        target = target / target.sum()
        arb = target * classes[:, 0]
        arb = arb / arb.sum()
        other = np.clip((target - f * arb) / (1 - f), 0.0, None)
        cum_arb[k - 1] = np.cumsum(arb)
        cum_other[k - 1] = np.cumsum(other / other.sum())
    return classes, cum_arb, cum_other


def drug_plan(
    rng: np.random.Generator, h: Columns, age: np.ndarray, male: np.ndarray
) -> tuple[Columns, Columns]:
    """Which drugs each person takes and which class (0 chronic, 1 specialist) prescribes them.

    Returns the long plan (person, drug, klass) and per-person indication flags that are not
    part of the health state (knee OA and the drugs drawn for it, long-term benzodiazepine);
    the flags join the ground truth so that every prescription has its reason.
    """
    n = len(age)
    u = rng.random((n, 8))
    v = rng.random((n, 11))
    w = rng.random((n, 2))
    rows_p: list[np.ndarray] = []
    rows_d: list[np.ndarray] = []
    rows_c: list[np.ndarray] = []

    def add(mask: np.ndarray, drug: np.ndarray | str, klass: int) -> None:
        idx = np.nonzero(mask)[0]
        d = np.full(len(idx), DRUG_INDEX[drug]) if isinstance(drug, str) else drug[idx]
        rows_p.append(idx)
        rows_d.append(d)
        rows_c.append(np.full(len(idx), klass))

    # --- hypertension: number of classes and the combination (HTN_* above) -----------------
    # An ARB-containing combination with diabetes, eGFR <60 or albuminuria (RAS blockade,
    # KDIGO 2021 Clinical Practice Guideline for BP management in CKD).  Within the ARB class
    # losartan 50 % / telmisartan 50 % (ASSUMPTION, unchanged); the CCB is amlodipine, the
    # thiazide hydrochlorothiazide and the beta blocker bisoprolol (one ingredient per class:
    # no source for the ingredient mix).
    bptx = h["bp_treated"]
    arb_pref = h["diabetes"] | (h["egfr"] < 60) | (h["uacr"] >= 30)
    p1 = 1 - HTN_COMBINATION.value
    p3 = sum(HTN_CLASS_SHARE.values()) - 1 - HTN_COMBINATION.value  # mean classes - 1 - P(>=2)
    n_classes = _draw(u[:, 2], np.array([p1, 1 - p3, 1.0]))
    pref_share = float(arb_pref[bptx].mean()) if bptx.any() else 0.0
    classes, cum_arb, cum_other = _htn_combo_tables(pref_share)
    combo = np.where(
        arb_pref,
        _draw_rows(u[:, 0], cum_arb, n_classes),
        _draw_rows(u[:, 0], cum_other, n_classes),
    )
    has = classes[combo] & bptx[:, None]
    arb = np.where(u[:, 1] < 0.5, DRUG_INDEX["losartan"], DRUG_INDEX["telmisartan"])
    add(has[:, 0], arb, 0)
    add(has[:, 1], "amlodipine", 0)
    add(has[:, 2], "hydrochlorothiazide", 0)
    add(has[:, 3], "bisoprolol", 0)

    # --- diabetes: mono / dual / triple (DM_* above) -----------------------------------------
    dmtx = h["diabetes_treated"]
    n_dm = _draw(u[:, 3], np.array([1 - DM_DUAL.value - DM_TRIPLE.value, 1 - DM_TRIPLE.value, 1.0]))
    # Metformin first, contraindicated below eGFR 30 (FDA metformin labelling, 2016 revision).
    metformin = dmtx & (h["egfr"] >= 30)
    add(metformin, "metformin", 0)
    # Add-on classes (sulfonylurea, DPP-4 inhibitor, SGLT2 inhibitor) in a random order with
    # equal chances (ASSUMPTION, unchanged): the first (and second) of the order are added.
    n_add = n_dm + 1 - metformin  # drugs beyond metformin (all of them without metformin)
    order = np.argsort(v[:, :3], axis=1)
    add_on = np.array(
        [DRUG_INDEX["glimepiride"], DRUG_INDEX["sitagliptin"], DRUG_INDEX["dapagliflozin"]]
    )
    for slot in range(3):
        add(dmtx & (n_add > slot), add_on[order[:, slot]], 0)
    add(dmtx & (u[:, 5] < 0.08), "insulin_glargine", 0)  # insulin 8 % (ASSUMPTION, unchanged)

    # Statin choice atorvastatin 60 % / rosuvastatin 40 % (ASSUMPTION).
    statin = np.where(u[:, 6] < 0.6, DRUG_INDEX["atorvastatin"], DRUG_INDEX["rosuvastatin"])
    add(h["statin"], statin, 0)

    # Anticoagulant: NOAC share sourced (NOAC_SHARE); the split among the three NOACs
    # 35/30/20 of the former 85 % is ASSUMPTION (unchanged), rescaled to the NOAC share.
    noac = NOAC_SHARE.value
    oac = np.select(
        [u[:, 7] < noac * 0.35 / 0.85, u[:, 7] < noac * 0.65 / 0.85, u[:, 7] < noac],
        [DRUG_INDEX["apixaban"], DRUG_INDEX["edoxaban"], DRUG_INDEX["rivaroxaban"]],
        DRUG_INDEX["warfarin"],
    )
    add(h["oac"], oac, 1)
    # Antiplatelet after stroke without AF: aspirin 60 % / clopidogrel 40 % (ASSUMPTION).
    anti = np.where(u[:, 4] < 0.6, DRUG_INDEX["aspirin"], DRUG_INDEX["clopidogrel"])
    add(h["antiplatelet"], anti, 1)
    # Aspirin in treated diabetes (DM_ASPIRIN), not with an anticoagulant or another
    # antiplatelet (guideline consistency: no aspirin for primary prevention on an OAC).
    dm_aspirin = dmtx & ~h["oac"] & ~h["antiplatelet"] & (v[:, 10] < DM_ASPIRIN.value)
    add(dm_aspirin, "aspirin", 0)

    # --- knee osteoarthritis and NSAIDs, gastroprotection ------------------------------------
    oa_rate = np.where(male, KNEE_OA_MEN.value, KNEE_OA_WOMEN.value)
    knee_oa = (age >= KNEE_OA_MIN_AGE) & (v[:, 3] < oa_rate)
    nsaid = knee_oa & (v[:, 4] < NSAID_REGULAR.value)
    which = np.where(
        v[:, 5] < COXIB_SHARE.value, DRUG_INDEX["celecoxib"], DRUG_INDEX["aceclofenac"]
    )
    add(nsaid, which, 0)
    antithrombotic = h["oac"] | h["antiplatelet"]
    ppi = nsaid & antithrombotic & (age >= 65) & (v[:, 6] < PPI_WITH_NSAID.value)
    ppi_drug = np.array([DRUG_INDEX[k] for k in PPI_KEYS])[
        np.minimum((v[:, 7] * len(PPI_KEYS)).astype(int), len(PPI_KEYS) - 1)
    ]
    add(ppi, ppi_drug, 0)

    # --- long-term benzodiazepine in people aged 65+ -----------------------------------------
    bzd = (age >= 65) & (v[:, 8] < LONG_TERM_BZD.value)
    bzd_drug = np.where(
        v[:, 9] < DIAZEPAM_SHARE.value, DRUG_INDEX["diazepam"], DRUG_INDEX["alprazolam"]
    )
    add(bzd, bzd_drug, 0)

    # --- osteoporosis at 50+ and its treatment -----------------------------------------------
    op_rate = np.where(male, OSTEOPOROSIS_MEN.value, OSTEOPOROSIS_WOMEN.value)
    osteoporosis = (age >= 50) & (w[:, 0] < op_rate)
    op_treated = osteoporosis & (w[:, 1] < OSTEOPOROSIS_TREATED.value)
    add(op_treated, "alendronate", 0)

    p_all = np.concatenate(rows_p)
    d_all = np.concatenate(rows_d)
    order_p = np.lexsort((d_all, p_all))
    plan = {
        "person": p_all[order_p],
        "drug": d_all[order_p],
        "klass": np.concatenate(rows_c)[order_p],
    }
    flags = {
        "knee_oa": knee_oa,
        "nsaid_regular": nsaid,
        "ppi_gastroprotection": ppi,
        "long_term_benzodiazepine": bzd,
        "aspirin_in_diabetes": dm_aspirin,
        "osteoporosis": osteoporosis,
        "osteoporosis_treated": op_treated,
    }
    return plan, flags


def _draw_rows(u: np.ndarray, cumulative: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Per person: the category drawn from the cumulative shares of its own row."""
    idx = (u[:, None] >= cumulative[row]).sum(axis=1)
    return np.minimum(idx, cumulative.shape[1] - 1)


def prescriber_site(visits_matrix: np.ndarray) -> np.ndarray:
    """Per person and class (n, 2): the SITES index that prescribes, -1 if none visited."""
    out = np.full((visits_matrix.shape[0], 2), -1)
    for klass, prefs in enumerate((CHRONIC_PRESCRIBERS, SPECIALIST_PRESCRIBERS)):
        for s in reversed(prefs):
            out[visits_matrix[:, s], klass] = s
    return out


def medication_requests(
    site_index: int,
    enc: Columns,
    plan: Columns,
    prescriber: np.ndarray,
    prescribing: np.ndarray,
) -> Columns:
    """MedicationRequests at one site: every encounter of a prescribing visit × its drugs.

    ``prescribing`` marks the encounters whose visit may prescribe (not a second clinic).
    """
    keep = prescriber[plan["person"], plan["klass"]] == site_index
    d_person = plan["person"][keep]
    d_drug = plan["drug"][keep]
    if len(d_person) == 0:
        return {"enc": np.zeros(0, dtype=np.int64), "drug": np.zeros(0, dtype=np.int64)}
    # Encounters sorted by person for range look-ups.
    e_order = np.argsort(enc["person"], kind="stable")
    e_person = enc["person"][e_order]
    lo = np.searchsorted(e_person, d_person, side="left")
    hi = np.searchsorted(e_person, d_person, side="right")
    counts = hi - lo
    rep = np.repeat(np.arange(len(d_person)), counts)
    within = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts)
    e_idx = e_order[lo[rep] + within]
    keep_enc = prescribing[e_idx]
    out = {"enc": e_idx[keep_enc], "drug": d_drug[rep][keep_enc]}
    order = np.lexsort((out["drug"], out["enc"]))
    return {k: v[order] for k, v in out.items()}
