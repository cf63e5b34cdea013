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
)
DRUG_INDEX = {k: i for i, k in enumerate(DRUG_KEYS)}
# Prescriber preference per drug class (first visited site in the list prescribes).
CHRONIC_PRESCRIBERS = (3, 2, 0, 1)  # clinics, phc, knuh, hallym (indices into SITES)
SPECIALIST_PRESCRIBERS = (0, 1, 3, 2)


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


def drug_plan(rng: np.random.Generator, h: Columns, age: np.ndarray) -> Columns:
    """Which drugs each person takes and which class (0 chronic, 1 specialist) prescribes them."""
    n = len(age)
    u = rng.random((n, 8))
    rows_p: list[np.ndarray] = []
    rows_d: list[np.ndarray] = []
    rows_c: list[np.ndarray] = []

    def add(mask: np.ndarray, drug: np.ndarray | str, klass: int) -> None:
        idx = np.nonzero(mask)[0]
        d = np.full(len(idx), DRUG_INDEX[drug]) if isinstance(drug, str) else drug[idx]
        rows_p.append(idx)
        rows_d.append(d)
        rows_c.append(np.full(len(idx), klass))

    bptx = h["bp_treated"]
    arb_pref = h["diabetes"] | (h["egfr"] < 60) | (h["uacr"] >= 30)
    # First antihypertensive: an ARB with diabetes, eGFR <60 or albuminuria (RAS blockade,
    # KDIGO 2021 Clinical Practice Guideline for BP management in CKD); otherwise amlodipine
    # 45 %, losartan 30 %, telmisartan 25 % (ASSUMPTION).  A second drug for 60 % of
    # uncontrolled (ASSUMPTION).
    first = np.where(
        arb_pref,
        np.where(u[:, 0] < 0.5, DRUG_INDEX["losartan"], DRUG_INDEX["telmisartan"]),
        np.select(
            [u[:, 0] < 0.45, u[:, 0] < 0.75],
            [DRUG_INDEX["amlodipine"], DRUG_INDEX["losartan"]],
            DRUG_INDEX["telmisartan"],
        ),
    )
    add(bptx, first, 0)
    second = np.where(
        first == DRUG_INDEX["amlodipine"],
        DRUG_INDEX["losartan"],
        np.where(u[:, 1] < 0.5, DRUG_INDEX["amlodipine"], DRUG_INDEX["hydrochlorothiazide"]),
    )
    add(bptx & (h["sbp"] >= 140) & (u[:, 2] < 0.6), second, 0)

    dmtx = h["diabetes_treated"]
    # Metformin is contraindicated below eGFR 30 (FDA metformin labelling, 2016 revision).
    add(dmtx & (h["egfr"] >= 30), "metformin", 0)
    add_on = np.select(
        [u[:, 3] < 1 / 3, u[:, 3] < 2 / 3],
        [DRUG_INDEX["glimepiride"], DRUG_INDEX["sitagliptin"]],
        DRUG_INDEX["dapagliflozin"],
    )
    # Add-on for 40 % (and always when metformin is not allowed), insulin 8 % (ASSUMPTION).
    add(dmtx & ((u[:, 4] < 0.4) | (h["egfr"] < 30)), add_on, 0)
    add(dmtx & (u[:, 5] < 0.08), "insulin_glargine", 0)

    # Statin choice atorvastatin 60 % / rosuvastatin 40 % (ASSUMPTION).
    statin = np.where(u[:, 6] < 0.6, DRUG_INDEX["atorvastatin"], DRUG_INDEX["rosuvastatin"])
    add(h["statin"], statin, 0)

    # Anticoagulant mix (ASSUMPTION: DOACs dominate in Korea).
    oac = np.select(
        [u[:, 7] < 0.35, u[:, 7] < 0.65, u[:, 7] < 0.85],
        [DRUG_INDEX["apixaban"], DRUG_INDEX["edoxaban"], DRUG_INDEX["rivaroxaban"]],
        DRUG_INDEX["warfarin"],
    )
    add(h["oac"], oac, 1)
    # Antiplatelet after stroke without AF: aspirin 60 % / clopidogrel 40 % (ASSUMPTION).
    anti = np.where(u[:, 1] < 0.6, DRUG_INDEX["aspirin"], DRUG_INDEX["clopidogrel"])
    add(h["antiplatelet"], anti, 1)
    p_all = np.concatenate(rows_p)
    order = np.argsort(p_all, kind="stable")
    return {
        "person": p_all[order],
        "drug": np.concatenate(rows_d)[order],
        "klass": np.concatenate(rows_c)[order],
    }


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
