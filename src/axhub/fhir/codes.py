"""Code systems and the coded concepts axhub writes and reads (KCD-8, LOINC, UCUM, ATC, ...).

One place for system URLs and the codes the synthetic region uses, so that the generator,
ingest, views and scores agree.  Korean conventions follow KR Core (HL7 Korea FHIR R4 IG,
``../shared/data/kr-core-examples``): KCD-8 diagnoses, ATC ingredients, Hangul displays.

Displays: LOINC displays are the LOINC long common names; KCD-8 Korean displays follow the
KOSTAT KCD-8 (2021) titles; ATC codes are from the WHO ATC/DDD index (whocc.no).
"""

from __future__ import annotations

from dataclasses import dataclass

from axhub.errors import NotFoundError

# --- code-system URLs (canonical) -------------------------------------------------------------
KCD8 = "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8"  # KR Core KOSTAT_KCD_8 ^url
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
HMDB = "https://hmdb.ca/metabolites"  # Human Metabolome Database accession numbers
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier type (MR = MRN)
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"  # encounter class
MEDREQ_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
HIRA_ORG_TYPE = "http://www.hl7korea.or.kr/CodeSystem/hira-healthcare-organization-types"
HIRA_KRNPI = "http://www.hl7korea.or.kr/Identifier/hira-krnpi"
KRCORE_ROAD_NAME_ADDRESS = (
    "http://www.hl7korea.or.kr/fhir/krcore/StructureDefinition/krcore-roadNameAddress"
)
DEVICE_TYPE = "http://snomed.info/sct"

# Identifier systems for the MRNs of each synthetic site (axhub-local namespace).
MRN_SYSTEM_PREFIX = "urn:axhub:mrn:"


@dataclass(frozen=True)
class Code:
    """One coded concept: code system, code, English display and Korean display."""

    system: str
    code: str
    display: str
    display_ko: str


@dataclass(frozen=True)
class ObsCode:
    """A LOINC observation code with its UCUM unit (``unit`` is both unit text and UCUM code)."""

    code: str
    display: str
    display_ko: str
    unit: str
    category: str  # vital-signs | laboratory | social-history | activity

    @property
    def system(self) -> str:
        return LOINC


# --- KCD-8 diagnoses (KOSTAT, 8th revision; KR Core code system) ------------------------------
CONDITIONS: dict[str, Code] = {
    "hypertension": Code(KCD8, "I10", "Essential (primary) hypertension", "본태성(원발성) 고혈압"),
    "diabetes": Code(
        KCD8,
        "E11.9",
        "Type 2 diabetes mellitus without complications",
        "합병증을 동반하지 않은 2형 당뇨병",
    ),
    "dyslipidaemia": Code(KCD8, "E78.5", "Hyperlipidaemia, unspecified", "상세불명의 고지질혈증"),
    "obesity": Code(KCD8, "E66.9", "Obesity, unspecified", "상세불명의 비만"),
    "atrial_fibrillation": Code(
        KCD8,
        "I48.9",
        "Atrial fibrillation and atrial flutter, unspecified",
        "상세불명의 심방세동 및 심방조동",
    ),
    "ckd_stage3": Code(KCD8, "N18.3", "Chronic kidney disease, stage 3", "만성 신장병(3기)"),
    "ckd_stage4": Code(KCD8, "N18.4", "Chronic kidney disease, stage 4", "만성 신장병(4기)"),
    "ckd_stage5": Code(KCD8, "N18.5", "Chronic kidney disease, stage 5", "만성 신장병(5기)"),
    "prior_stroke": Code(KCD8, "I69.3", "Sequelae of cerebral infarction", "뇌경색증의 후유증"),
    "stroke": Code(KCD8, "I63.9", "Cerebral infarction, unspecified", "상세불명의 뇌경색증"),
    "tobacco_use": Code(KCD8, "Z72.0", "Tobacco use", "담배 사용"),
}

# --- LOINC observations with UCUM units ---------------------------------------------------------
OBSERVATIONS: dict[str, ObsCode] = {
    "bp_panel": ObsCode(
        "85354-9",
        "Blood pressure panel with all children optional",
        "혈압",
        "mm[Hg]",
        "vital-signs",
    ),
    "sbp": ObsCode("8480-6", "Systolic blood pressure", "수축기 혈압", "mm[Hg]", "vital-signs"),
    "dbp": ObsCode("8462-4", "Diastolic blood pressure", "이완기 혈압", "mm[Hg]", "vital-signs"),
    "heart_rate": ObsCode("8867-4", "Heart rate", "심박수", "/min", "vital-signs"),
    "height": ObsCode("8302-2", "Body height", "신장", "cm", "vital-signs"),
    "weight": ObsCode("29463-7", "Body weight", "체중", "kg", "vital-signs"),
    "bmi": ObsCode(
        "39156-5", "Body mass index (BMI) [Ratio]", "체질량지수", "kg/m2", "vital-signs"
    ),
    "waist": ObsCode(
        "8280-0",
        "Waist Circumference at umbilicus by Tape measure",
        "허리둘레",
        "cm",
        "vital-signs",
    ),
    "spo2": ObsCode(
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "산소포화도",
        "%",
        "vital-signs",
    ),
    "steps": ObsCode("41950-7", "Number of steps in 24 hour Measured", "걸음 수", "/d", "activity"),
    "glucose_meter": ObsCode(
        "41653-7",
        "Glucose [Mass/volume] in Capillary blood by Glucometer",
        "혈당(자가측정)",
        "mg/dL",
        "laboratory",
    ),
    "total_cholesterol": ObsCode(
        "2093-3",
        "Cholesterol [Mass/volume] in Serum or Plasma",
        "총콜레스테롤",
        "mg/dL",
        "laboratory",
    ),
    "hdl": ObsCode(
        "2085-9",
        "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
        "HDL 콜레스테롤",
        "mg/dL",
        "laboratory",
    ),
    "ldl": ObsCode(
        "13457-7",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        "LDL 콜레스테롤",
        "mg/dL",
        "laboratory",
    ),
    "triglycerides": ObsCode(
        "2571-8",
        "Triglyceride [Mass/volume] in Serum or Plasma",
        "중성지방",
        "mg/dL",
        "laboratory",
    ),
    "fasting_glucose": ObsCode(
        "1558-6",
        "Fasting glucose [Mass/volume] in Serum or Plasma",
        "공복혈당",
        "mg/dL",
        "laboratory",
    ),
    "hba1c": ObsCode(
        "4548-4",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "당화혈색소",
        "%",
        "laboratory",
    ),
    "creatinine": ObsCode(
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "크레아티닌",
        "mg/dL",
        "laboratory",
    ),
    "egfr": ObsCode(
        "98979-8",
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or "
        "Blood by Creatinine-based formula (CKD-EPI 2021)",
        "추정사구체여과율",
        "mL/min/{1.73_m2}",
        "laboratory",
    ),
    "uacr": ObsCode(
        "9318-7",
        "Albumin/Creatinine [Mass Ratio] in Urine",
        "요알부민/크레아티닌 비",
        "mg/g",
        "laboratory",
    ),
    "albumin": ObsCode(
        "1751-7", "Albumin [Mass/volume] in Serum or Plasma", "알부민", "g/dL", "laboratory"
    ),
    "crp": ObsCode(
        "1988-5",
        "C reactive protein [Mass/volume] in Serum or Plasma",
        "C-반응성 단백",
        "mg/L",
        "laboratory",
    ),
    "lymphocytes_pct": ObsCode(
        "736-9",
        "Lymphocytes/100 leukocytes in Blood by Automated count",
        "림프구 분율",
        "%",
        "laboratory",
    ),
    "mcv": ObsCode(
        "787-2",
        "MCV [Entitic volume] by Automated count",
        "평균적혈구용적",
        "fL",
        "laboratory",
    ),
    "rdw": ObsCode(
        "788-0",
        "Erythrocyte distribution width [Ratio] by Automated count",
        "적혈구분포폭",
        "%",
        "laboratory",
    ),
    "alp": ObsCode(
        "6768-6",
        "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
        "알칼리성 인산분해효소",
        "U/L",
        "laboratory",
    ),
    "wbc": ObsCode(
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        "백혈구 수",
        "10*3/uL",
        "laboratory",
    ),
    "smoking_status": ObsCode(
        "72166-2", "Tobacco smoking status", "흡연 상태", "", "social-history"
    ),
}

# SNOMED CT answers for 72166-2 (FHIR US Core / IPS value set "Smoking status").
SMOKING_STATUS: dict[str, Code] = {
    "current": Code(SNOMED, "77176002", "Smoker", "현재 흡연"),
    "former": Code(SNOMED, "8517006", "Ex-smoker", "과거 흡연"),
    "never": Code(SNOMED, "266919005", "Never smoked tobacco", "비흡연"),
}


@dataclass(frozen=True)
class Drug:
    """An ingredient with its WHO ATC code, Korean and English name and a usual adult dose."""

    atc: str
    name_ko: str
    name_en: str
    dose_text: str  # usual adult daily dose as labelled (Korean MFDS/US labels)


# ATC codes: WHO Collaborating Centre ATC/DDD index (https://www.whocc.no/atc_ddd_index/).
# Doses: common labelled starting/maintenance doses (MFDS/FDA labels); the generator uses them
# only as the dosage text of a MedicationRequest.
MEDICATIONS: dict[str, Drug] = {
    "amlodipine": Drug("C08CA01", "암로디핀", "amlodipine", "5 mg 1일 1회"),
    "losartan": Drug("C09CA01", "로사르탄", "losartan", "50 mg 1일 1회"),
    "telmisartan": Drug("C09CA07", "텔미사르탄", "telmisartan", "40 mg 1일 1회"),
    "hydrochlorothiazide": Drug(
        "C03AA03", "히드로클로로티아지드", "hydrochlorothiazide", "12.5 mg 1일 1회"
    ),
    "metformin": Drug("A10BA02", "메트포르민", "metformin", "500 mg 1일 2회"),
    "glimepiride": Drug("A10BB12", "글리메피리드", "glimepiride", "2 mg 1일 1회"),
    "sitagliptin": Drug("A10BH01", "시타글립틴", "sitagliptin", "100 mg 1일 1회"),
    "dapagliflozin": Drug("A10BK01", "다파글리플로진", "dapagliflozin", "10 mg 1일 1회"),
    "insulin_glargine": Drug("A10AE04", "인슐린 글라진", "insulin glargine", "10 단위 1일 1회"),
    "atorvastatin": Drug("C10AA05", "아토르바스타틴", "atorvastatin", "10 mg 1일 1회"),
    "rosuvastatin": Drug("C10AA07", "로수바스타틴", "rosuvastatin", "10 mg 1일 1회"),
    "warfarin": Drug("B01AA03", "와파린", "warfarin", "INR 2-3 목표 용량 조절"),
    "apixaban": Drug("B01AF02", "아픽사반", "apixaban", "5 mg 1일 2회"),
    "rivaroxaban": Drug("B01AF01", "리바록사반", "rivaroxaban", "20 mg 1일 1회"),
    "edoxaban": Drug("B01AF03", "에독사반", "edoxaban", "60 mg 1일 1회"),
    "aspirin": Drug("B01AC06", "아스피린", "acetylsalicylic acid", "100 mg 1일 1회"),
    "clopidogrel": Drug("B01AC04", "클로피도그렐", "clopidogrel", "75 mg 1일 1회"),
    "bisoprolol": Drug("C07AB07", "비소프롤롤", "bisoprolol", "2.5 mg 1일 1회"),
    "aceclofenac": Drug("M01AB16", "아세클로페낙", "aceclofenac", "100 mg 1일 2회"),
    "celecoxib": Drug("M01AH01", "세레콕시브", "celecoxib", "200 mg 1일 1회"),
    "omeprazole": Drug("A02BC01", "오메프라졸", "omeprazole", "20 mg 1일 1회"),
    "pantoprazole": Drug("A02BC02", "판토프라졸", "pantoprazole", "40 mg 1일 1회"),
    "lansoprazole": Drug("A02BC03", "란소프라졸", "lansoprazole", "15 mg 1일 1회"),
    "rabeprazole": Drug("A02BC04", "라베프라졸", "rabeprazole", "10 mg 1일 1회"),
    "esomeprazole": Drug("A02BC05", "에스오메프라졸", "esomeprazole", "20 mg 1일 1회"),
    "diazepam": Drug("N05BA01", "디아제팜", "diazepam", "2 mg 1일 2회"),
    "alprazolam": Drug("N05BA12", "알프라졸람", "alprazolam", "0.25 mg 1일 2회"),
    "alendronate": Drug("M05BA04", "알렌드론산", "alendronic acid", "70 mg 주 1회"),
}

# Metabolites of the research panel, with HMDB accession numbers.
METABOLITES: dict[str, tuple[str, str, str]] = {
    "leucine": ("HMDB0000687", "Leucine", "류신"),
    "isoleucine": ("HMDB0000172", "Isoleucine", "이소류신"),
    "valine": ("HMDB0000883", "Valine", "발린"),
    "tyrosine": ("HMDB0000158", "Tyrosine", "티로신"),
    "phenylalanine": ("HMDB0000159", "Phenylalanine", "페닐알라닌"),
    "glycine": ("HMDB0000123", "Glycine", "글리신"),
}


def condition(key: str) -> Code:
    """The KCD-8 code of a condition key; unknown keys fail with the known names."""
    try:
        return CONDITIONS[key]
    except KeyError:
        raise NotFoundError(f"unknown condition {key!r}", suggestions=sorted(CONDITIONS)) from None


def observation(key: str) -> ObsCode:
    """The LOINC code of an observation key; unknown keys fail with the known names."""
    try:
        return OBSERVATIONS[key]
    except KeyError:
        raise NotFoundError(
            f"unknown observation {key!r}", suggestions=sorted(OBSERVATIONS)
        ) from None


def medication(key: str) -> Drug:
    """The ATC-coded ingredient of a medication key; unknown keys fail with the known names."""
    try:
        return MEDICATIONS[key]
    except KeyError:
        raise NotFoundError(
            f"unknown medication {key!r}", suggestions=sorted(MEDICATIONS)
        ) from None
