"""Stroke full-cycle pathway over a population feature table (one vectorised pass).

Scores come from :func:`axhub.clinical.scores.score_table` (not re-implemented here); this
module applies the guideline rules below in one DuckDB SQL statement and summarises them per
district through the governance release rules (small-cell and complementary suppression).

Rules and their sources:

* Primary prevention risk tier (people 40–79 without prior stroke, TIA or ischaemic heart
  disease), 10-year ASCVD by the Pooled Cohort Equations: < 5 % low, 5 to < 7.5 % borderline,
  7.5 to < 20 % intermediate, ≥ 20 % high — Arnett DK, et al. 2019 ACC/AHA Guideline on the
  Primary Prevention of Cardiovascular Disease. Circulation 2019;140:e596–e646 (§2.2; also
  Grundy SM, et al. 2018 cholesterol guideline, Circulation 2019;139:e1082–e1143).
* Atrial fibrillation with CHA2DS2-VASc ≥ 2 (men) or ≥ 3 (women) and no oral anticoagulant →
  care gap: Hindricks G, et al. 2020 ESC Guidelines for AF. Eur Heart J 2021;42:373–498
  (OAC recommended, class I); January CT, et al. 2019 AHA/ACC/HRS focused update. Circulation
  2019;140:e125–e151.  HAS-BLED is context: ≥ 3 flags high bleeding risk — address modifiable
  risk factors and review early; a high score alone is not a reason to withhold OAC (ESC 2020).
* TIA → ABCD2 triage: 0–3 low, 4–5 moderate, 6–7 high (Johnston SC, et al. Lancet
  2007;369:283–292); hospital admission reasonable within 72 h when ABCD2 ≥ 3 (Easton JD, et
  al. AHA/ASA scientific statement, Stroke 2009;40:2276–2293).  Without the TIA's clinical
  features ABCD2 is not computable and the finding says what is needed.
* After a stroke (secondary prevention): BP target < 130/80 mmHg; LDL target < 70 mg/dL;
  an antithrombotic (antiplatelet, or anticoagulant in AF) and a statin — Kleindorfer DO, et
  al. 2021 AHA/ASA Guideline for the Prevention of Stroke in Patients With Stroke and TIA.
  Stroke 2021;52:e364–e467.  A missing measurement is "not measured", never a gap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from axhub.errors import InputError

if TYPE_CHECKING:
    from axhub.governance.access import GovernedStore
    from axhub.governance.principals import Principal

log = logging.getLogger(__name__)

# Primary prevention tiers (ACC/AHA 2019): (upper bound exclusive, label)
ASCVD_TIERS = ((0.05, "low"), (0.075, "borderline"), (0.20, "intermediate"), (2.0, "high"))
TIER_ORDER = ("low", "borderline", "intermediate", "high", "not computable")
PRIMARY_AGE = (40, 79)  # PCE validated ages (Goff 2014)
CHA2DS2VASC_OAC_MEN = 2  # ESC 2020 / AHA/ACC/HRS 2019
CHA2DS2VASC_OAC_WOMEN = 3
HASBLED_HIGH = 3  # Pisters 2010; ESC 2020
ABCD2_BANDS = ((3, "low"), (5, "moderate"), (7, "high"))  # Johnston 2007
ABCD2_ADMIT = 3  # Easton 2009 (AHA/ASA): admission reasonable at >= 3 within 72 h
SECONDARY_SBP = 130  # AHA/ASA 2021: < 130/80 mmHg
SECONDARY_DBP = 80
SECONDARY_LDL = 70  # AHA/ASA 2021: LDL < 70 mg/dL
CRE_RENAL_ABNORMAL_MGDL = 2.26  # HAS-BLED: creatinine >= 200 µmol/L (Pisters 2010) = 2.26 mg/dL

GAP_COLUMNS = (
    "af_oac_gap",
    "tia_needs_triage",
    "secondary_bp_gap",
    "secondary_ldl_gap",
    "secondary_antithrombotic_gap",
    "secondary_statin_gap",
)
GAP_LABELS = {
    "af_oac_gap": "AF, CHA2DS2-VASc above threshold, no oral anticoagulant",
    "tia_needs_triage": "TIA: ABCD2 ≥ 3 or not computable (urgent review)",
    "secondary_bp_gap": "after stroke: BP ≥ 130/80",
    "secondary_ldl_gap": "after stroke: LDL ≥ 70 mg/dL",
    "secondary_antithrombotic_gap": "after stroke: no antithrombotic",
    "secondary_statin_gap": "after stroke: no statin",
}
ELIGIBLE = {
    "af_oac_gap": "af_oac_indicated",
    "tia_needs_triage": "tia",
    "secondary_bp_gap": "secondary_bp_measured",
    "secondary_ldl_gap": "secondary_ldl_measured",
    "secondary_antithrombotic_gap": "prior_stroke",
    "secondary_statin_gap": "prior_stroke",
}
NEEDED = (
    "person_id",
    "district",
    "sex",
    "age_years",
    "sbp_mmhg",
    "dbp_mmhg",
    "ldl_mgdl",
    "atrial_fibrillation",
    "prior_stroke",
    "tia",
    "ischaemic_heart_disease",
    "oral_anticoagulant",
    "antiplatelet",
    "statin",
)


def _score_inputs(features: pa.Table) -> pa.Table:
    """Documented score inputs the records can supply beyond the feature table."""
    con = duckdb.connect()
    try:
        con.register("f", features)
        return con.sql(f"""
            SELECT *,
                   -- HAS-BLED 'A': creatinine >= 200 µmol/L (dialysis/transplant not coded)
                   CASE WHEN creatinine_mgdl >= {CRE_RENAL_ABNORMAL_MGDL} THEN true
                        WHEN creatinine_mgdl IS NOT NULL THEN false END AS renal_abnormal,
                   -- docs/scores.md: labile_inr is "no" when not on a vitamin K antagonist
                   CASE WHEN NOT oral_anticoagulant THEN false END AS labile_inr,
                   prior_stroke AS prior_stroke_hasbled
            FROM f
        """).to_arrow_table()
    finally:
        con.close()


def pathway(features: pa.Table) -> pa.Table:
    """Per-person pathway findings (one row per person of ``features``)."""
    from axhub.clinical.scores import score_table

    missing = [c for c in NEEDED if c not in features.column_names]
    if missing:
        raise InputError("stroke pathway needs feature columns", field=", ".join(missing))
    inputs = _score_inputs(features)
    scored = score_table(inputs, keep=["person_id"])
    keep = [
        "pce_ascvd_10y",
        "pce_ascvd_10y_reason",
        "cha2ds2vasc",
        "cha2ds2vasc_reason",
        "hasbled",
        "hasbled_reason",
        "abcd2",
        "abcd2_reason",
        "prevent_stroke_10y",
    ]
    scores = scored.select(keep)
    scores = pa.table(
        {
            n: (c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c)
            for n, c in zip(scores.column_names, scores.columns, strict=True)
        }
    )
    tiers = " ".join(f"WHEN pce_ascvd_10y < {ub} THEN '{label}'" for ub, label in ASCVD_TIERS)
    bands = " ".join(f"WHEN abcd2 <= {ub} THEN '{label}'" for ub, label in ABCD2_BANDS)
    con = duckdb.connect()
    try:
        con.register("f", inputs)
        con.register("s", scores)
        return con.sql(f"""
            WITH j AS (SELECT * FROM f POSITIONAL JOIN s)
            SELECT person_id, district, district_en, urban, sex, age_years,
              -- primary prevention
              age_years BETWEEN {PRIMARY_AGE[0]} AND {PRIMARY_AGE[1]} + 0.999
                AND NOT (prior_stroke OR tia OR ischaemic_heart_disease) AS primary_prevention,
              pce_ascvd_10y AS ascvd_10y,
              CASE WHEN NOT (age_years BETWEEN {PRIMARY_AGE[0]} AND {PRIMARY_AGE[1]} + 0.999
                             AND NOT (prior_stroke OR tia OR ischaemic_heart_disease)) THEN NULL
                   WHEN pce_ascvd_10y IS NULL THEN 'not computable'
                   {tiers} END AS risk_tier,
              CASE WHEN pce_ascvd_10y IS NULL THEN pce_ascvd_10y_reason END AS risk_reason,
              prevent_stroke_10y,
              -- atrial fibrillation
              atrial_fibrillation, cha2ds2vasc, oral_anticoagulant,
              atrial_fibrillation AND cha2ds2vasc >= CASE sex WHEN 'female'
                  THEN {CHA2DS2VASC_OAC_WOMEN} ELSE {CHA2DS2VASC_OAC_MEN} END AS af_oac_indicated,
              coalesce(atrial_fibrillation AND cha2ds2vasc >= CASE sex WHEN 'female'
                  THEN {CHA2DS2VASC_OAC_WOMEN} ELSE {CHA2DS2VASC_OAC_MEN} END
                  AND NOT oral_anticoagulant, false) AS af_oac_gap,
              hasbled,
              CASE WHEN atrial_fibrillation THEN
                CASE WHEN hasbled >= {HASBLED_HIGH}
                       THEN 'HAS-BLED ' || hasbled || ': high bleeding risk, address '
                            || 'modifiable factors; not a reason to withhold OAC'
                     WHEN hasbled IS NOT NULL THEN 'HAS-BLED ' || hasbled
                     ELSE 'HAS-BLED ' || hasbled_reason END END AS hasbled_context,
              -- TIA
              tia, abcd2,
              CASE WHEN tia THEN CASE WHEN abcd2 IS NULL THEN 'not computable' {bands} END
                   END AS abcd2_band,
              CASE WHEN tia AND abcd2 IS NULL THEN abcd2_reason END AS abcd2_reason,
              coalesce(tia AND (abcd2 IS NULL OR abcd2 >= {ABCD2_ADMIT}), false)
                AS tia_needs_triage,
              -- secondary prevention after stroke
              prior_stroke,
              prior_stroke AND sbp_mmhg IS NOT NULL AND dbp_mmhg IS NOT NULL
                AS secondary_bp_measured,
              coalesce(prior_stroke AND (sbp_mmhg >= {SECONDARY_SBP}
                       OR dbp_mmhg >= {SECONDARY_DBP}), false) AS secondary_bp_gap,
              prior_stroke AND ldl_mgdl IS NOT NULL AS secondary_ldl_measured,
              coalesce(prior_stroke AND ldl_mgdl >= {SECONDARY_LDL}, false)
                AS secondary_ldl_gap,
              prior_stroke AND NOT (antiplatelet OR oral_anticoagulant)
                AS secondary_antithrombotic_gap,
              prior_stroke AND NOT statin AS secondary_statin_gap
            FROM j ORDER BY person_id
        """).to_arrow_table()
    finally:
        con.close()


@dataclass(frozen=True)
class RegionalSummary:
    """Released per-district tables (suppressed cells are null)."""

    tiers: pa.Table  # district, risk_tier, n
    gaps: pa.Table  # district, finding, n (gap counts), and eligible counts
    hidden_cells: int


def _long(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    return con.sql(sql).to_arrow_table()


def district_counts(findings: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Unreleased per-district counts: tiers (district × tier) and gaps (district × finding)."""
    con = duckdb.connect()
    try:
        con.register("p", findings)
        tiers = _long(
            con,
            "SELECT coalesce(district_en, '(unknown)') AS district, risk_tier, "
            "count(*)::BIGINT AS n FROM p WHERE risk_tier IS NOT NULL GROUP BY ALL",
        )
        parts = " UNION ALL ".join(
            f"SELECT coalesce(district_en, '(unknown)') AS district, '{g}' AS finding, "
            f"count(*) FILTER (WHERE {g})::BIGINT AS n, "
            f"count(*) FILTER (WHERE {ELIGIBLE[g]})::BIGINT AS eligible FROM p GROUP BY 1"
            for g in GAP_COLUMNS
        )
        gaps = _long(con, parts)
    finally:
        con.close()
    return tiers, gaps


def release_summary(findings: pa.Table) -> RegionalSummary:
    """Per-district counts through the governance release rules (suppression of 1–9)."""
    from axhub.governance.release import suppressed_arrow

    tiers, gaps = district_counts(findings)
    all_districts = sorted(set(findings.column("district_en").to_pylist()) - {None}) or [
        "(unknown)"
    ]
    # Zero-filled grids so every district and tier appears (zeros are published).
    grid_t = pa.table(
        {
            "district": [d for d in all_districts for _ in TIER_ORDER],
            "risk_tier": [t for _ in all_districts for t in TIER_ORDER],
            "n": [0] * (len(all_districts) * len(TIER_ORDER)),
        }
    )
    released_t = suppressed_arrow(
        pa.concat_tables([grid_t, tiers.cast(grid_t.schema)]), "district", "risk_tier", "n"
    )
    # Each finding: a 2-column table (gap / eligible without gap) per district, suppressed.
    out = []
    hidden = sum(v is None for v in released_t.column("n").to_pylist())
    for g in GAP_COLUMNS:
        sub = gaps.filter(pa.compute.equal(gaps.column("finding"), g))
        d = sub.column("district").to_pylist()
        n = sub.column("n").to_pylist()
        e = sub.column("eligible").to_pylist()
        long = pa.table(
            {
                "district": d + d,
                "status": ["gap"] * len(d) + ["no gap"] * len(d),
                "n": [int(x) for x in n] + [int(b) - int(a) for a, b in zip(n, e, strict=True)],
            }
        )
        rel = suppressed_arrow(long, "district", "status", "n")
        hidden += sum(v is None for v in rel.column("n").to_pylist())
        wide: dict[str, dict[str, Any]] = {}
        for dist, status, value in zip(
            rel.column("district").to_pylist(),
            rel.column("status").to_pylist(),
            rel.column("n").to_pylist(),
            strict=True,
        ):
            wide.setdefault(dist, {})[status] = value
        out.append(
            pa.table(
                {
                    "district": list(wide),
                    "finding": [g] * len(wide),
                    "n": pa.array([w.get("gap") for w in wide.values()], pa.int64()),
                    "eligible": pa.array([w.get("(total)") for w in wide.values()], pa.int64()),
                }
            )
        )
    return RegionalSummary(released_t, pa.concat_tables(out), hidden)


def audited_release(
    store: GovernedStore, principal: Principal, purpose: str, findings: pa.Table
) -> RegionalSummary:
    """:func:`release_summary`, with the release written to the governance audit log."""
    req, decision = store.ensure(principal, purpose, "release")
    summary = release_summary(findings)
    store.audit.append(
        "release",
        actor=principal.principal_id,
        role=principal.role.value,
        purpose=req.purpose,
        policy_id=decision.policy_id,
        detail={
            "cells": summary.tiers.num_rows + summary.gaps.num_rows,
            "suppressed": summary.hidden_cells,
            "method": "small-cell<10+complementary",
            "what": "stroke pathway by district",
        },
    )
    return summary


def totals(findings: pa.Table) -> dict[str, int]:
    """Region-wide counts of each finding and tier (unreleased; for the person-level user)."""
    con = duckdb.connect()
    try:
        con.register("p", findings)
        cols = ", ".join(f"count(*) FILTER (WHERE {g}) AS {g}" for g in GAP_COLUMNS)
        tiers = ", ".join(
            f"count(*) FILTER (WHERE risk_tier = '{t}') AS \"tier_{t}\"" for t in TIER_ORDER
        )
        row = con.sql(
            f"SELECT count(*) AS persons, count(*) FILTER (WHERE primary_prevention) AS "
            f"primary_prevention, count(*) FILTER (WHERE atrial_fibrillation) AS af, "
            f"count(*) FILTER (WHERE prior_stroke) AS prior_stroke, "
            f"count(*) FILTER (WHERE tia) AS tia, {cols}, {tiers} FROM p"
        ).to_arrow_table()
    finally:
        con.close()
    return {k: int(v[0]) for k, v in row.to_pydict().items()}
