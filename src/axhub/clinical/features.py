"""Population feature table: one row per person with the score inputs, from the bundled views.

Input: the tables of the hub's bundled SQL-on-FHIR views ``patient_demographics``,
``conditions``, ``observations`` and ``medication_requests`` (as returned by
``GovernedStore.run_view``).  Output: one row per person (the key of ``Patient/<id>`` that the
clinical resources reference) with the documented score input columns of ``docs/scores.md``
(``age_years``, ``sex``, ``sbp_mmhg``, ``total_chol_mgdl``, ... , ``bp_treated``, ``statin``),
plus ``district``, ``urban`` and drug-class flags used by the stroke pathway and the models.

Everything is one DuckDB SQL pass over the Arrow tables in an in-memory session (no per-person
Python).  Rules (hub choices, documented in docs/clinical-models.md):

* the latest value on or before the index date per person and LOINC code, in the expected UCUM
  unit only (other units are counted as excluded, never converted silently);
* a diagnosis flag is true when any active (or status-less) confirmed Condition of the KCD-8
  group was recorded on or before the index date; groups come from the bundled
  ``kcd8_groups.json`` (ICD-10 categories with their source);
* a drug-class flag is true when a MedicationRequest of the ATC class is ``active`` or was
  authored in the 365 days before the index date (hub rule: a 12-month look-back);
* age from the (de-identified, year-month) birth date at the index date;
* district: the one on most of the person's Patient records, a tie going to the first name in
  sort order (a person registered at two sites in two districts gets the same district
  whatever order the records are read in).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from axhub.errors import InputError
from axhub.fhir.districts import DISTRICTS

if TYPE_CHECKING:
    from axhub.governance.access import GovernedStore
    from axhub.governance.principals import Principal

log = logging.getLogger(__name__)

VIEWS = ("patient_demographics", "conditions", "observations", "medication_requests")
DEFAULT_INDEX_DATE = dt.date(2025, 1, 1)  # the synthetic region's baseline (docs/synth.md)
MEDICATION_LOOKBACK_DAYS = 365  # hub rule: a drug class counts when prescribed in the last year

# (LOINC, output column, expected UCUM unit).  LOINC codes: loinc.org; units: the score module's
# documented input units (docs/scores.md).
OBSERVATION_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("8480-6", "sbp_mmhg", "mm[Hg]"),  # Systolic blood pressure (BP panel component)
    ("8462-4", "dbp_mmhg", "mm[Hg]"),  # Diastolic blood pressure
    ("2093-3", "total_chol_mgdl", "mg/dL"),  # Cholesterol [Mass/volume] in Serum or Plasma
    ("2085-9", "hdl_mgdl", "mg/dL"),  # HDL cholesterol
    ("13457-7", "ldl_mgdl", "mg/dL"),  # LDL cholesterol (calculated)
    ("2571-8", "triglycerides_mgdl", "mg/dL"),  # Triglyceride
    ("1558-6", "glucose_mgdl", "mg/dL"),  # Fasting glucose
    ("4548-4", "hba1c_pct", "%"),  # Hemoglobin A1c/Hemoglobin.total in Blood
    ("2160-0", "creatinine_mgdl", "mg/dL"),  # Creatinine [Mass/volume] in Serum or Plasma
    ("98979-8", "egfr_ml_min", "mL/min/{1.73_m2}"),  # eGFR CKD-EPI 2021
    ("9318-7", "uacr_mgg", "mg/g"),  # Albumin/Creatinine [Mass Ratio] in Urine
    ("39156-5", "bmi_kgm2", "kg/m2"),  # Body mass index
    ("8280-0", "waist_cm", "cm"),  # Waist circumference
    ("8867-4", "pulse_bpm", "/min"),  # Heart rate
    ("1751-7", "albumin_gdl", "g/dL"),  # Albumin
    ("1988-5", "crp_mgl", "mg/L"),  # C reactive protein
    ("736-9", "lymphocyte_pct", "%"),  # Lymphocytes/100 leukocytes
    ("787-2", "mcv_fl", "fL"),  # MCV
    ("788-0", "rdw_pct", "%"),  # RDW
    ("6768-6", "alp_ul", "U/L"),  # Alkaline phosphatase
    ("6690-2", "wbc_10e3ul", "10*3/uL"),  # Leukocytes
)

SMOKING_LOINC = "72166-2"  # Tobacco smoking status
SMOKER_CODES = ("77176002",)  # SNOMED CT 77176002 |Smoker|
NON_SMOKER_CODES = ("8517006", "266919005")  # SNOMED CT |Ex-smoker|, |Never smoked tobacco|

# Diagnosis flag -> KCD-8 groups of the bundled conditions view (kcd8_groups.json).
CONDITION_FLAGS: dict[str, tuple[str, ...]] = {
    "hypertension": ("hypertension",),
    "diabetes_coded": ("diabetes",),
    "dyslipidaemia": ("dyslipidaemia",),
    "atrial_fibrillation": ("atrial_fibrillation",),
    "prior_stroke": ("stroke", "stroke_sequelae"),  # I60-I64 acute, I69 sequelae
    "tia": ("tia",),  # G45
    "ischaemic_heart_disease": ("ischaemic_heart_disease",),
    "chf": ("heart_failure",),
    "ckd_coded": ("ckd",),
    "obesity": ("obesity",),
    "tobacco_use": ("tobacco_use",),
}

# Drug-class flag -> ATC code prefixes (WHO ATC/DDD index, whocc.no).
DRUG_FLAGS: dict[str, tuple[str, ...]] = {
    # C02 antihypertensives, C03 diuretics, C07 beta blockers, C08 calcium channel blockers,
    # C09 agents acting on the renin-angiotensin system
    "bp_treated": ("C02", "C03", "C07", "C08", "C09"),
    "statin": ("C10AA",),  # HMG CoA reductase inhibitors
    # B01AA vitamin K antagonists, B01AE direct thrombin inhibitors, B01AF direct factor Xa
    # inhibitors
    "oral_anticoagulant": ("B01AA", "B01AE", "B01AF"),
    "antiplatelet": ("B01AC",),  # platelet aggregation inhibitors excl. heparin
    "insulin": ("A10A",),  # insulins and analogues
    "oral_hypoglycaemic": ("A10B",),  # blood glucose lowering drugs, excl. insulins
}

NUMERIC_COLUMNS = tuple(c for _, c, _ in OBSERVATION_FEATURES)
FLAG_COLUMNS = (*CONDITION_FLAGS, *DRUG_FLAGS, "smoker_current")


@dataclass
class FeatureReport:
    """Counts of what the build used and excluded (no personal data)."""

    persons: int = 0
    observations_used: int = 0
    excluded_unit: dict[str, int] = field(default_factory=dict)
    missing_person_key: int = 0


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _check(views: Mapping[str, pa.Table]) -> None:
    needed = {
        "patient_demographics": ("patient_id", "gender", "birth_date", "district"),
        "conditions": ("patient_id", "clinical_status", "verification_status", "kcd_group"),
        "observations": ("patient_id", "effective", "loinc_code", "value", "unit", "value_code"),
        "medication_requests": ("patient_id", "status", "authored_on", "atc_code"),
    }
    for name, cols in needed.items():
        if name not in views:
            raise InputError(f"feature build needs the {name!r} view table", field=name)
        missing = [c for c in cols if c not in views[name].column_names]
        if missing:
            raise InputError(
                f"view table {name!r} lacks columns {', '.join(missing)}", field=f"{name}.columns"
            )


def build_features(
    views: Mapping[str, pa.Table],
    *,
    index_date: dt.date = DEFAULT_INDEX_DATE,
    report: FeatureReport | None = None,
) -> pa.Table:
    """One row per person with the documented score-input columns (see module docstring)."""
    _check(views)
    report = report if report is not None else FeatureReport()
    con = duckdb.connect()
    try:
        for name in VIEWS:
            con.register(f"v_{name}", views[name])
        con.register(
            "v_districts",
            pa.table(
                {
                    "district": [d.name_ko for d in DISTRICTS],
                    "district_en": [d.name_en for d in DISTRICTS],
                    "district_kind": [d.kind for d in DISTRICTS],
                    "urban": [d.urban for d in DISTRICTS],
                }
            ),
        )
        con.register(
            "v_obs_map",
            pa.table(
                {
                    "loinc_code": [c[0] for c in OBSERVATION_FEATURES],
                    "feature": [c[1] for c in OBSERVATION_FEATURES],
                    "ucum": [c[2] for c in OBSERVATION_FEATURES],
                }
            ),
        )
        idx = _lit(index_date.isoformat())
        cutoff = f"(CAST({idx} AS DATE) + INTERVAL 1 DAY)"
        lookback = f"(CAST({idx} AS DATE) - INTERVAL {MEDICATION_LOOKBACK_DAYS} DAY)"
        con.execute(f"""
            CREATE TEMP TABLE obs AS
            SELECT o.patient_id, m.feature, o.value, o.unit, m.ucum,
                   TRY_CAST(o.effective AS TIMESTAMPTZ) AS ts
            FROM v_observations o JOIN v_obs_map m USING (loinc_code)
            WHERE o.value IS NOT NULL AND o.patient_id IS NOT NULL
              AND coalesce(o.status, 'final') IN ('final', 'amended', 'corrected')
              AND TRY_CAST(o.effective AS TIMESTAMPTZ) < {cutoff}
        """)
        for feature, n in con.execute(
            "SELECT feature, count(*) FROM obs WHERE unit IS DISTINCT FROM ucum GROUP BY 1"
        ).fetchall():
            report.excluded_unit[feature] = int(n)
        latest = ", ".join(
            f"arg_max(value, ts) FILTER (WHERE feature = {_lit(c)}) AS {c}" for c in NUMERIC_COLUMNS
        )
        cond = ", ".join(
            f"bool_or(kcd_group IN ({', '.join(map(_lit, groups))})) AS {flag}"
            for flag, groups in CONDITION_FLAGS.items()
        )
        drug = ", ".join(
            f"bool_or({' OR '.join(f'starts_with(atc_code, {_lit(p)})' for p in prefixes)}) "
            f"AS {flag}"
            for flag, prefixes in DRUG_FLAGS.items()
        )
        smoke_yes = ", ".join(map(_lit, SMOKER_CODES))
        smoke_no = ", ".join(map(_lit, NON_SMOKER_CODES))
        sql = f"""
            WITH dcount AS (
                SELECT patient_id, district, count(*) AS n FROM v_patient_demographics
                WHERE patient_id IS NOT NULL AND district IS NOT NULL GROUP BY ALL),
            dpick AS (
                SELECT patient_id, first(district ORDER BY n DESC, district) AS district
                FROM dcount GROUP BY 1),
            persons AS (
                SELECT d.patient_id AS person_id,
                       any_value(d.gender ORDER BY d.birth_date, d.gender) AS gender,
                       min(d.birth_date) AS birth_date,
                       any_value(k.district) AS district
                FROM v_patient_demographics d LEFT JOIN dpick k USING (patient_id)
                WHERE d.patient_id IS NOT NULL GROUP BY 1),
            lab AS (SELECT patient_id AS person_id, {latest}
                    FROM obs WHERE unit = ucum GROUP BY 1),
            smoke AS (
                SELECT patient_id AS person_id,
                       arg_max(value_code, TRY_CAST(effective AS TIMESTAMPTZ)) AS code
                FROM v_observations
                WHERE loinc_code = {_lit(SMOKING_LOINC)} AND value_code IS NOT NULL
                  AND TRY_CAST(effective AS TIMESTAMPTZ) < {cutoff}
                GROUP BY 1),
            dx AS (
                SELECT patient_id AS person_id, {cond} FROM v_conditions
                WHERE coalesce(clinical_status, 'active') IN ('active', 'recurrence', 'relapse')
                  AND coalesce(verification_status, 'confirmed') = 'confirmed'
                  AND coalesce(TRY_CAST(recorded_date AS TIMESTAMPTZ),
                               TRY_CAST(onset AS TIMESTAMPTZ)) < {cutoff}
                GROUP BY 1),
            rx AS (
                SELECT patient_id AS person_id, {drug} FROM v_medication_requests
                WHERE atc_code IS NOT NULL
                  AND TRY_CAST(authored_on AS TIMESTAMPTZ) < {cutoff}
                  AND (status = 'active'
                       OR TRY_CAST(authored_on AS TIMESTAMPTZ) >= {lookback})
                GROUP BY 1)
            SELECT p.person_id,
                   p.district, d.district_en, d.district_kind, d.urban,
                   CASE p.gender WHEN 'male' THEN 'male' WHEN 'female' THEN 'female' END AS sex,
                   CAST(date_diff('month',
                        TRY_CAST(CASE WHEN length(p.birth_date) = 7 THEN p.birth_date || '-01'
                                      WHEN length(p.birth_date) = 4 THEN p.birth_date || '-07-01'
                                      ELSE p.birth_date END AS DATE),
                        CAST({idx} AS DATE)) AS DOUBLE) / 12.0 AS age_years,
                   lab.* EXCLUDE (person_id),
                   CASE WHEN s.code IN ({smoke_yes}) THEN true
                        WHEN s.code IN ({smoke_no}) THEN false
                        WHEN coalesce(dx.tobacco_use, false) THEN true END AS smoker_current,
                   {", ".join(f"coalesce(dx.{f}, false) AS {f}" for f in CONDITION_FLAGS)},
                   {", ".join(f"coalesce(rx.{f}, false) AS {f}" for f in DRUG_FLAGS)}
            FROM persons p
            LEFT JOIN v_districts d USING (district)
            LEFT JOIN lab USING (person_id)
            LEFT JOIN smoke s USING (person_id)
            LEFT JOIN dx USING (person_id)
            LEFT JOIN rx USING (person_id)
            ORDER BY p.person_id
        """
        table = con.sql(sql).to_arrow_table()
        report.observations_used = int(
            con.execute("SELECT count(*) FROM obs WHERE unit = ucum").fetchone()[0]  # type: ignore[index]
        )
    finally:
        con.close()
    report.persons = table.num_rows
    return _derived(table)


def _derived(table: pa.Table) -> pa.Table:
    """Derived score inputs: the composite flags the score module names."""
    con = duckdb.connect()
    try:
        con.register("f", table)
        return con.sql("""
            SELECT *,
                   prior_stroke OR tia AS prior_stroke_tia_te,
                   ischaemic_heart_disease AS vascular_disease,
                   ischaemic_heart_disease OR chf AS cvd_history,
                   diabetes_coded OR insulin OR oral_hypoglycaemic AS diabetes,
                   bp_treated AS antihypertensive_ever,
                   antiplatelet AS antiplatelet_or_nsaid,
                   oral_anticoagulant OR antiplatelet AS antithrombotic
            FROM f ORDER BY person_id
        """).to_arrow_table()
    finally:
        con.close()


def governed_views(store: GovernedStore, principal: Principal, purpose: str) -> dict[str, pa.Table]:
    """The four bundled view tables, each read through the governed access path."""
    from axhub.views import library

    return {name: store.run_view(principal, purpose, library.raw(name)) for name in VIEWS}


def governed_features(
    store: GovernedStore,
    principal: Principal,
    purpose: str,
    *,
    index_date: dt.date = DEFAULT_INDEX_DATE,
    report: FeatureReport | None = None,
) -> pa.Table:
    """Feature table for the persons the principal may see for the purpose."""
    views = governed_views(store, principal, purpose)
    table = build_features(views, index_date=index_date, report=report)
    log.info("feature table: %d persons", table.num_rows)
    return table
