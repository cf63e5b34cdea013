"""Ageing: Levine PhenoAge, Klemera–Doubal biological age (fit/apply) and the electronic
Frailty Index (eFI).

PhenoAge: Levine ME, Lu AT, Quach A, et al. An epigenetic biomarker of aging for lifespan and
healthspan. Aging (Albany NY) 2018;10(4):573–591 (Table 1); constants at full precision as in
the BioAge R package (Kwon D, Belsky DW. GeroScience 2021;43:2795–2808).  The disputed
denominator c and the ln(CRP) floor are decisions 0042 and 0045.
KDM: Klemera P, Doubal S. Mech Ageing Dev 2006;127:240–248; Levine ME. J Gerontol A
2013;68:667–674 (r_char and s_BA² forms).
eFI: Clegg A, Bates C, Young J, et al. Development and validation of an electronic frailty index
using routine primary care electronic health record data. Age Ageing 2016;45(3):353–360.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from axhub.clinical.scores.columns import OK, Inputs
from axhub.clinical.scores.efi import DEFICITS
from axhub.clinical.scores.result import Reasons, Score, in_range, require
from axhub.errors import InputError

# --- PhenoAge ---------------------------------------------------------------------------------
# xb coefficients (Levine 2018 Table 1, full precision from BioAge/Levine code), in Levine units:
# albumin g/L, creatinine µmol/L, glucose mmol/L, ln CRP (mg/dL), lymphocyte %, MCV fL, RDW %,
# ALP U/L, WBC 10³/µL, age years.
PHENOAGE_XB = {
    "intercept": -19.90667,
    "albumin_gl": -0.03359355,
    "creatinine_umol": 0.009506491,
    "glucose_mmol": 0.1953192,
    "ln_crp_mgdl": 0.09536762,
    "lymphocyte_pct": -0.01199984,
    "mcv_fl": 0.02676401,
    "rdw_pct": 0.3306156,
    "alp_ul": 0.001868778,
    "wbc_10e3ul": 0.05542406,
    "age_years": 0.08035356,
}
PHENOAGE_GAMMA = 0.0076927  # Gompertz shape (Levine 2018)
PHENOAGE_MONTHS = 120.0  # 10-year mortality horizon, in months
PHENOAGE_A = 141.50225
PHENOAGE_B = -0.0055305
# Disputed denominator (decision 0042): 0.090165 per BioAge HEAD "Restore original PhenoAge
# constants per Levine confirmation" (also ajsteele/bioage, CC0); the Levine 2018 text and the
# PLoS Med 2019 correction print 0.09165.  The alternative stays selectable.
PHENOAGE_C = 0.090165
PHENOAGE_C_PUBLISHED_TEXT = 0.09165
# Unit conversions (reference §8).
ALBUMIN_GDL_TO_GL = 10.0
CREATININE_MGDL_TO_UMOL = 88.4
GLUCOSE_MGDL_TO_MMOL = 0.0555
CRP_MGL_TO_MGDL = 0.1
# ln(CRP) floor (decision 0045): CRP below 0.1 mg/L (0.01 mg/dL), including a reported 0, is
# taken as 0.1 mg/L — the usual lower reporting limit of high-sensitivity CRP assays.
CRP_FLOOR_MGL = 0.1
PHENOAGE_MIN_AGE = 20.0  # NHANES III training sample: adults aged 20 and over
PHENOAGE_INPUTS = (
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


def phenoage(x: Inputs, c: float = PHENOAGE_C) -> Score:
    """Levine PhenoAge (years)."""
    r = Reasons(x.n)
    require(x, r, PHENOAGE_INPUTS)
    in_range(x, r, "age_years", PHENOAGE_MIN_AGE, 120, "PhenoAge (adults ≥20)")
    k = PHENOAGE_XB
    crp_mgdl = np.maximum(x["crp_mgl"], CRP_FLOOR_MGL) * CRP_MGL_TO_MGDL
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        xb = (
            k["intercept"]
            + k["albumin_gl"] * x["albumin_gdl"] * ALBUMIN_GDL_TO_GL
            + k["creatinine_umol"] * x["creatinine_mgdl"] * CREATININE_MGDL_TO_UMOL
            + k["glucose_mmol"] * x["glucose_mgdl"] * GLUCOSE_MGDL_TO_MMOL
            + k["ln_crp_mgdl"] * np.log(crp_mgdl)
            + k["lymphocyte_pct"] * x["lymphocyte_pct"]
            + k["mcv_fl"] * x["mcv_fl"]
            + k["rdw_pct"] * x["rdw_pct"]
            + k["alp_ul"] * x["alp_ul"]
            + k["wbc_10e3ul"] * x["wbc_10e3ul"]
            + k["age_years"] * x["age_years"]
        )
        g = PHENOAGE_GAMMA
        mortality = 1.0 - np.exp(-np.exp(xb) * (np.exp(PHENOAGE_MONTHS * g) - 1.0) / g)
        age = PHENOAGE_A + np.log(PHENOAGE_B * np.log(1.0 - mortality)) / c
    r.add(~np.isfinite(age) & r.ok, "PhenoAge mortality score saturates at 1 (extreme inputs)")
    return Score(age, r).finish()


# --- Klemera–Doubal biological age ------------------------------------------------------------
# Default biomarkers: Levine 2013's NHANES III set without FEV1 (not held by the hub); CRP enters
# as ln(CRP mg/L) with the same floor as PhenoAge.
KDM_DEFAULT_BIOMARKERS = (
    "sbp_mmhg",
    "total_chol_mgdl",
    "hba1c_pct",
    "albumin_gdl",
    "creatinine_mgdl",
    "ln_crp",
    "alp_ul",
    "bun_mgdl",
)


def _biomarker(x: Inputs, name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "ln_crp":
        with np.errstate(invalid="ignore"):
            return np.log(np.maximum(x["crp_mgl"], CRP_FLOOR_MGL)), x.status["crp_mgl"]
    return x[name], x.status[name]


@dataclass
class KdmModel:
    """A KDM fit per sex (index 0 male, 1 female): per-biomarker q, k, s, r² and s_BA²."""

    biomarkers: tuple[str, ...]
    q: np.ndarray  # shape (2, m): intercepts
    k: np.ndarray  # slopes on chronological age
    s: np.ndarray  # residual SD
    r2: np.ndarray
    s_ba2: np.ndarray  # shape (2,)
    n_reference: list[int] = field(default_factory=list)


def kdm_fit(
    reference: Inputs, biomarkers: Sequence[str] = KDM_DEFAULT_BIOMARKERS, *, min_n: int = 30
) -> KdmModel:
    """Fit KDM on a reference population (rows with age, sex and every biomarker), per sex."""
    bms = tuple(biomarkers)
    m = len(bms)
    cols = [_biomarker(reference, b) for b in bms]
    age = reference["age_years"]
    ok = (reference.status["age_years"] == OK) & (reference.status["sex"] == OK)
    for _, st in cols:
        ok &= st == OK
    q, k, s, r2 = (np.zeros((2, m)) for _ in range(4))
    s_ba2 = np.zeros(2)
    counts = []
    for sex in (0, 1):
        sel = ok & (reference["sex"] == sex)
        n = int(sel.sum())
        counts.append(n)
        if n < min_n:
            raise InputError(
                f"KDM reference has {n} complete rows for sex={'female' if sex else 'male'}; "
                f"needs at least {min_n}",
                field="sex",
                reason="too few reference rows",
            )
        ca = age[sel]
        design = np.column_stack([np.ones(n), ca])
        for j, (vals, _) in enumerate(cols):
            xj = vals[sel]
            coef, *_ = np.linalg.lstsq(design, xj, rcond=None)
            resid = xj - design @ coef
            q[sex, j], k[sex, j] = coef
            s[sex, j] = np.sqrt(resid @ resid / (n - 2))
            r2[sex, j] = 1.0 - (resid @ resid) / np.sum((xj - xj.mean()) ** 2)
        x_all = np.column_stack([v[sel] for v, _ in cols])
        ba_e = _ba_e(x_all, q[sex], k[sex], s[sex])
        ks = np.abs(k[sex] / s[sex])
        r_char = np.sum(ks * np.sqrt(r2[sex])) / np.sum(ks)
        s_r2 = ((1 - r_char**2) / r_char**2) * ((ca.max() - ca.min()) ** 2 / (12 * m))
        s_ba2[sex] = np.var(ba_e - ca) - s_r2
        if s_ba2[sex] <= 0:
            raise InputError(
                "KDM reference gives a non-positive s_BA² (biomarkers barely track age)",
                field="biomarkers",
                reason=f"s_BA²={s_ba2[sex]:.4g}",
            )
    return KdmModel(bms, q, k, s, r2, s_ba2, counts)


def _ba_e(xm: np.ndarray, q: np.ndarray, k: np.ndarray, s: np.ndarray) -> np.ndarray:
    return np.sum((xm - q) * k / s**2, axis=1) / np.sum((k / s) ** 2)


def kdm_apply(x: Inputs, model: KdmModel | None) -> Score:
    """KDM biological age (years) with chronological age as the extra 'biomarker'."""
    r = Reasons(x.n)
    if model is None:
        r.add(np.ones(x.n, dtype=bool), "needs a KDM reference fit (kdm_fit / --kdm-reference)")
        return Score(np.full(x.n, np.nan), r).finish()
    names = [b if b != "ln_crp" else "crp_mgl" for b in model.biomarkers]
    require(x, r, ["age_years", "sex", *names])
    sex = np.nan_to_num(x["sex"]).astype(np.intp)
    q, k, s, s_ba2 = model.q[sex], model.k[sex], model.s[sex], model.s_ba2[sex]
    xm = np.column_stack([_biomarker(x, b)[0] for b in model.biomarkers])
    num = np.sum((xm - q) * k / s**2, axis=1) + x["age_years"] / s_ba2
    den = np.sum((k / s) ** 2, axis=1) + 1.0 / s_ba2
    return Score(num / den, r).finish()


# --- electronic Frailty Index -----------------------------------------------------------------
EFI_DENOMINATOR = len(DEFICITS)  # 36 deficits, equally weighted (Clegg 2016)
# Categories (Clegg 2016): fit 0–0.12, mild 0.13–0.24, moderate 0.25–0.36, severe >0.36, read on
# the eFI rounded to 2 dp as the primary-care systems display it (decision 0047), i.e. by count:
# fit 0–4, mild 5–8, moderate 9–13, severe ≥14 deficits.
EFI_CATEGORY_MAX_COUNT = (("fit", 4), ("mild", 8), ("moderate", 13))
EFI_SEVERE = "severe"


def efi_columns() -> list[str]:
    """The 36 deficit-flag input columns, ``efi_<deficit id>``."""
    return [f"efi_{d.id}" for d in DEFICITS]


def efi(x: Inputs) -> dict[str, Score]:
    """eFI (fraction of 36) and category; needs every deficit flag (an empty flag is unknown)."""
    r = Reasons(x.n)
    cols = efi_columns()
    missing_any = np.zeros(x.n, dtype=bool)
    for c in cols:
        missing_any |= x.status[c] != OK
    r.add(missing_any, "needs all 36 efi_* deficit flags (see efi_flags_from_codes)")
    count = np.zeros(x.n)
    for c in cols:
        count += np.nan_to_num(x[c])
    category = np.full(x.n, EFI_SEVERE, dtype=object)
    for name, max_count in reversed(EFI_CATEGORY_MAX_COUNT):
        category = np.where(count <= max_count, name, category)
    return {
        "efi": Score(count / EFI_DENOMINATOR, r).finish(),
        "efi_category": Score(category, r, kind="category").finish(),
    }


__all__ = [
    "KDM_DEFAULT_BIOMARKERS",
    "PHENOAGE_C",
    "PHENOAGE_C_PUBLISHED_TEXT",
    "KdmModel",
    "efi",
    "efi_columns",
    "kdm_apply",
    "kdm_fit",
    "phenoage",
]
