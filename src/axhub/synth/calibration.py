"""Calibration targets of the synthetic region, each with its source.

All numbers come from ``../shared/data/calibration/korea-chuncheon-facts.md`` (section given
as "§") or from the paper named next to them.  Values marked ASSUMPTION are generator
starting values, not facts (the calibration file's convention); the calibration report
compares achieved figures with both kinds and the test holds the generator to the sourced
anchors.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- age structure (§1.2) ---------------------------------------------------------------------
# (lo, hi inclusive, share of the population)
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 9, 0.074),  # 21,109 / 284,594, MOIS Jun 2021 (mstoday.co.kr idxno=75488)
    (10, 19, 0.094),  # 26,624 / 284,594, same
    (20, 29, 0.131),  # 37,309 / 284,594, same
    (30, 39, 0.119),  # 33,944 / 284,594, same
    (40, 49, 0.148),  # 42,006 / 284,594, same
    (50, 64, 0.219),  # ASSUMPTION: remainder after the sourced bands and the 65+ share
    (65, 74, 0.215 * 0.55),  # 65+ = 21.5 % (2024, karl5044); 65-74 = 55 % of it: ASSUMPTION
    (75, 84, 0.215 * 0.33),  # ASSUMPTION (national pattern)
    (85, 104, 0.215 * 0.12),  # ASSUMPTION (national pattern)
)
SHARE_65_TARGET = 0.215  # 61,370 aged 65+ in 2024 (karl5044.tistory.com/m/1316)

# Male share by age (ASSUMPTION, §1.2: 49.4 % overall, ~51 % under 40, ~42 % at 75+).
MALE_SHARE_BY_AGE: tuple[tuple[int, float], ...] = ((0, 0.51), (40, 0.505), (65, 0.46), (75, 0.42))
MALE_SHARE_TARGET = 0.494  # ASSUMPTION (§1.2)

# ---- adult prevalence by 10-year band (20s, 30s, 40s, 50s, 60s, 70s, 80+) and sex -------------
PREV_BANDS: tuple[tuple[int, int], ...] = (
    (19, 29),
    (30, 39),
    (40, 49),
    (50, 59),
    (60, 69),
    (70, 79),
    (80, 120),
)
PREV_BAND_LABELS = ("19-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")


@dataclass(frozen=True)
class PrevalenceTarget:
    """Prevalence (fraction) per band for men and women, with the basis of the numbers."""

    male: tuple[float, ...]
    female: tuple[float, ...]
    basis: str


PREVALENCE: dict[str, PrevalenceTarget] = {
    # Shape §2.2 ASSUMPTION (2 → 10 → 20 → 35 → 50 → 65-70 %), split by sex to the 2022/23
    # headline ratio (§2.1, men 23.4-26.9 %, women 16.5-17.0 %); men 50s = 41.6 % (2022, §2.2).
    "hypertension": PrevalenceTarget(
        (0.04, 0.14, 0.27, 0.416, 0.52, 0.66, 0.70),
        (0.01, 0.05, 0.13, 0.29, 0.48, 0.65, 0.72),
        "shape ASSUMPTION §2.2; men 50-59 41.6 % sourced (KNHANES 2022)",
    ),
    # Shape §2.2 ASSUMPTION (1 % <40 → 7 → 15 → 22 → 28-30 %); sex ratio from §2.1 (12.0 vs 6.9).
    "diabetes": PrevalenceTarget(
        (0.015, 0.04, 0.10, 0.19, 0.27, 0.31, 0.30),
        (0.01, 0.02, 0.04, 0.10, 0.18, 0.27, 0.28),
        "shape ASSUMPTION §2.2; anchors ≥30 y 15.5 % and 19-39 y 2.2 % (Diabetes Fact Sheets 2024)",
    ),
    # TC ≥240 or medication; headline 2023 men 19.9 %, women 21.4 % (§2.1); women overtake men
    # after menopause (Korean Circ J 2015;45:141, §3.1).  Band values ASSUMPTION.
    "dyslipidaemia": PrevalenceTarget(
        (0.08, 0.15, 0.22, 0.25, 0.28, 0.26, 0.22),
        (0.05, 0.07, 0.12, 0.28, 0.42, 0.43, 0.38),
        "band values ASSUMPTION shaped by §3.1; headline men 19.9 %, women 21.4 % (2023)",
    ),
    # BMI ≥25.  Men 20s 43.9 % (2023), 30s 55.7 %, 40s 53.6 %, 50s 49.7 % (2022); women 20s
    # 22.1 %, 30s 27.3 % (2023) (§2.2).  60+ bands ASSUMPTION.
    "obesity": PrevalenceTarget(
        (0.439, 0.557, 0.536, 0.497, 0.45, 0.40, 0.30),
        (0.221, 0.273, 0.27, 0.30, 0.36, 0.38, 0.30),
        "men 20-59, women 20-39 sourced (KNHANES 2022/2023); other bands ASSUMPTION",
    ),
    # Current cigarette smoking.  Men 50s 42.1 %, women 20s 12.1 % (2023, §2.2); headline men
    # 32.4 %, women 6.3 % (2023, §2.1).  Other bands ASSUMPTION.
    "smoking": PrevalenceTarget(
        (0.30, 0.38, 0.40, 0.421, 0.28, 0.18, 0.10),
        (0.121, 0.07, 0.06, 0.05, 0.03, 0.02, 0.02),
        "men 50-59 and women 19-29 sourced (KNHANES 2023); other bands ASSUMPTION",
    ),
    # AF: 5.7 % at ≥60, 13 % at ≥80, 2.2 % of adults (2022, §2.4); men/women from incidence
    # 301 vs 249 /100,000 PY.  Band split ASSUMPTION.
    "atrial_fibrillation": PrevalenceTarget(
        (0.0005, 0.001, 0.004, 0.012, 0.030, 0.070, 0.14),
        (0.0003, 0.0008, 0.003, 0.009, 0.024, 0.056, 0.12),
        "anchors ≥60 5.7 %, ≥80 13 %, adults 2.2 % (AF Fact Sheet 2024); bands ASSUMPTION",
    ),
    # Prior stroke: no prevalence table was retrieved; ASSUMPTION rising with age, consistent
    # with the 2021 KDCA stroke-patient counts by age (§2.3) being concentrated at 60+.
    "prior_stroke": PrevalenceTarget(
        (0.001, 0.002, 0.006, 0.015, 0.035, 0.065, 0.09),
        (0.001, 0.002, 0.004, 0.010, 0.025, 0.050, 0.08),
        "ASSUMPTION (no sourced prevalence)",
    ),
    # eGFR <60 (CKD stage 3-5): 2.5 % of adults (3a 1.9 + 3b 0.4 + 4-5 0.2 %, Park et al.
    # J Korean Med Sci 2016;31:915) and ~10 % at 70+ (§3.2).  Bands ASSUMPTION.
    "egfr_lt60": PrevalenceTarget(
        (0.001, 0.002, 0.004, 0.010, 0.025, 0.065, 0.15),
        (0.001, 0.002, 0.004, 0.010, 0.025, 0.065, 0.15),
        "anchor 2.5 % of adults eGFR <60 (JKMS 2016;31:915); bands ASSUMPTION",
    ),
}

# National headline prevalence, adults ≥19, KNHANES 2023 (§2.1: korea.kr/ktin.net/akomnews),
# age-standardised to the 2005 population: (men, women).  Shown beside the region's crude adult
# figures for orientation only; the region is older than the standard population.
HEADLINE_2023: dict[str, tuple[float, float]] = {
    "obesity": (0.456, 0.278),
    "hypertension": (0.234, 0.165),
    "diabetes": (0.120, 0.069),
    "dyslipidaemia": (0.199, 0.214),
    "smoking": (0.324, 0.063),
}

# Sourced anchors the calibration test checks (achieved must be within tolerance).
# (indicator, sex or "all", age lo, age hi, target, tolerance (absolute), source)
ANCHORS: tuple[tuple[str, str, int, int, float, float, str], ...] = (
    ("hypertension", "male", 50, 59, 0.416, 0.03, "KNHANES 2022 (korea.kr newsId=148923610)"),
    ("obesity", "male", 30, 39, 0.557, 0.03, "KNHANES 2022 (biz.newdaily.co.kr 2023/12/08)"),
    ("obesity", "male", 40, 49, 0.536, 0.03, "KNHANES 2022 (biz.newdaily.co.kr 2023/12/08)"),
    ("obesity", "male", 50, 59, 0.497, 0.03, "KNHANES 2022 (biz.newdaily.co.kr 2023/12/08)"),
    ("obesity", "male", 20, 29, 0.439, 0.04, "KNHANES 2023 (ktin.net/63279924)"),
    ("obesity", "female", 30, 39, 0.273, 0.03, "KNHANES 2023 (ktin.net/63279924)"),
    ("smoking", "male", 50, 59, 0.421, 0.03, "KNHANES 2023 (m.newspic.kr 2024-12-03)"),
    ("diabetes", "all", 30, 120, 0.155, 0.03, "Diabetes Fact Sheets in Korea 2024"),
    ("diabetes", "all", 19, 39, 0.022, 0.015, "Diabetes Fact Sheets in Korea 2024"),
    ("prediabetes_fpg", "all", 30, 120, 0.193, 0.04, "KNHANES 2011, Jeon et al. DMJ 2013"),
    ("prediabetes_fpg_or_a1c", "all", 30, 120, 0.383, 0.05, "KNHANES 2011, Jeon et al. DMJ 2013"),
    ("atrial_fibrillation", "all", 60, 120, 0.057, 0.012, "KHRS 2025 (koreabiomed idxno=27989)"),
    ("atrial_fibrillation", "all", 80, 120, 0.13, 0.03, "KHRS 2025 (koreabiomed idxno=27989)"),
    ("egfr_lt60", "all", 20, 120, 0.025, 0.015, "Park et al. J Korean Med Sci 2016;31:915"),
)

# Care cascade (fraction of everyone with the condition).
HTN_AWARE = 0.741  # Korea Hypertension Fact Sheet 2023 (Clin Hypertens 2024), 2021 data
HTN_TREATED = 0.703  # same
HTN_CONTROLLED = 0.560  # same (<140/90 among all hypertensives)
DM_AWARE = 0.747  # Diabetes Fact Sheets in Korea 2024 (Diabetes Metab J 2025;49:24)
DM_TREATED = 0.709  # same
DM_HBA1C_LT65 = 0.324  # same (HbA1c <6.5 % among all with diabetes)
LIPID_TREATED = 0.552  # Dyslipidemia Fact Sheet 2022 (Diabetes Metab J 2023;47:632)
LIPID_AWARE = 0.65  # ASSUMPTION (awareness not retrieved; must exceed treatment)
AF_ON_OAC = 0.65  # ASSUMPTION (anticoagulation share among AF with CHA2DS2-VASc ≥2)
CKD3_CODED = 0.5  # ASSUMPTION (share of eGFR 30-59 with a coded CKD diagnosis)
CKD45_CODED = 0.9  # ASSUMPTION (share of eGFR <30 with a coded CKD diagnosis)

# Albuminuria (UACR ≥30 mg/g) with eGFR ≥60: CKD stage 1-2 = 3.0 + 2.7 = 5.7 % of adults
# (Park et al. JKMS 2016;31:915).
ALBUMINURIA_EGFR_GE60 = 0.057

# Stroke incidence for recalibration (KDCA 2022, §2.3).
STROKE_CRUDE_PER_100K = 215.7  # all ages, men 242.7, women 188.9
STROKE_80PLUS_PER_100K = 1515.7
STROKE_RECURRENT_SHARE = 0.204
STROKE_30D_FATALITY = 0.079  # 30-day case fatality 2022 (80+: 12.7 %)
STROKE_30D_FATALITY_80 = 0.127
AF_STROKE_HR = 2.39  # ischaemic stroke HR vs no AF (AF Fact Sheet in Korea 2024)
OAC_STROKE_RRR = 0.64  # warfarin vs control: Hart RG et al. Ann Intern Med 2007;146:857-867
