"""One person's chart for care: records, home-reading trends, scores, medication safety.

All functions take a :class:`~axhub.api.hub.Hub` and a caller; the first thing each does is
``hub.person_records`` / ``hub.ensure_person`` (care purposes only; a care team sees only the
people enrolled with it). Records are shaped with the bundled SQL-on-FHIR views on an
in-memory engine over the governed rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from axhub.api.auth import Caller
from axhub.api.hub import Hub, district_name
from axhub.errors import NotFoundError

#: LOINC codes charted on the patient page (clinic measurements)
TREND_LOINC = {
    "8480-6": "sbp",
    "8462-4": "dbp",
    "1558-6": "glucose",
    "2339-0": "glucose",
    "29463-7": "weight",
}
#: home-reading kinds charted on the patient page
TREND_KINDS = ("bp", "glucose", "weight")


def _views(table: pa.Table) -> dict[str, pa.Table]:
    from axhub.clinical.features import VIEWS
    from axhub.engine.duckdb import DuckDBEngine
    from axhub.views import library

    engine = DuckDBEngine(threads=1)
    try:
        engine.register_resources("person_resources", table)
        return {v: engine.run_view(library.raw(v), "person_resources") for v in VIEWS}
    finally:
        engine.close()


KCD_SYSTEM = "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8"
ATC_SYSTEM = "http://www.whocc.no/atc"
LOINC_SYSTEM = "http://loinc.org"

#: one person's chart from the governed rows (a few rows: four small SQL statements)
CHART_SQL = {
    "patient": """
        SELECT json_extract_string(resource, '$.gender') AS gender,
               json_extract_string(resource, '$.birthDate') AS birth_date,
               json_extract_string(resource, '$.address[0].district') AS district
        FROM r WHERE resource_type = 'Patient' ORDER BY last_updated DESC LIMIT 1""",
    "conditions": f"""
        WITH c AS (SELECT resource, unnest(from_json(json_extract(resource, '$.code.coding'),
                          '[{{"system":"VARCHAR","code":"VARCHAR","display":"VARCHAR"}}]')) AS k
                   FROM r WHERE resource_type = 'Condition')
        SELECT k.code AS kcd_code, k.display AS kcd_display,
               json_extract_string(resource, '$.recordedDate') AS recorded_date
        FROM c WHERE k.system = '{KCD_SYSTEM}' ORDER BY recorded_date DESC NULLS LAST""",
    "medications": f"""
        WITH m AS (SELECT resource, unnest(from_json(json_extract(resource,
                          '$.medicationCodeableConcept.coding'),
                          '[{{"system":"VARCHAR","code":"VARCHAR","display":"VARCHAR"}}]')) AS k
                   FROM r WHERE resource_type = 'MedicationRequest')
        SELECT k.code AS atc_code, k.display AS atc_display,
               json_extract_string(resource, '$.status') AS status,
               json_extract_string(resource, '$.authoredOn') AS authored_on
        FROM m WHERE k.system = '{ATC_SYSTEM}' ORDER BY authored_on DESC NULLS LAST""",
    "observations": f"""
        WITH o AS (
          SELECT json_extract_string(resource, '$.effectiveDateTime') AS at_,
                 json_extract_string(resource, '$.code.coding[0].code') AS code,
                 TRY_CAST(json_extract(resource, '$.valueQuantity.value') AS DOUBLE) AS value,
                 json_extract_string(resource, '$.component[*].code.coding[0].code') AS ccodes,
                 json_extract_string(resource, '$.component[*].valueQuantity.value') AS cvalues
          FROM r WHERE resource_type = 'Observation'
            AND json_extract_string(resource, '$.code.coding[0].system') = '{LOINC_SYSTEM}')
        SELECT at_ AS at, code, value FROM o WHERE value IS NOT NULL
        UNION ALL
        SELECT at_ AS at, unnest(ccodes) AS code, TRY_CAST(unnest(cvalues) AS DOUBLE) AS value
        FROM o WHERE len(ccodes) > 0""",
}


def _chart(table: pa.Table) -> dict[str, list[dict[str, Any]]]:
    """Patient, conditions, medicines and coded measurements of one person's governed rows."""
    from axhub.api.hub import connect_memory

    con = connect_memory()
    try:
        con.register("r", table)
        return {k: con.sql(sql).to_arrow_table().to_pylist() for k, sql in CHART_SQL.items()}
    finally:
        con.close()


def _group_of(code: str | None) -> str | None:
    from axhub.api.hub import kcd_groups

    for name, g in kcd_groups().items():
        if code and code[:3] in g["categories"]:
            return str(name)
    return None


def _rows(table: pa.Table, columns: Sequence[str]) -> list[dict[str, Any]]:
    cols = [c for c in columns if c in table.column_names]
    return table.select(cols).to_pylist()


def _care_rows(hub: Hub, person_id: str) -> dict[str, Any]:
    """Home readings, care plans and approvals of an enrolled person (empty when not enrolled)."""
    from axhub.care.models import CarePlan, Reading
    from axhub.care.summary import person_summary

    try:
        summary = person_summary(hub.care, person_id, days=30)
    except NotFoundError:
        return {"enrolled": False, "readings": [], "care_plans": [], "summary": None}
    q = (
        select(Reading.kind, Reading.effective_s, Reading.norm_value, Reading.norm_value2)
        .where(Reading.person_id == person_id, Reading.implausible.is_(False))
        .where(Reading.kind.in_(TREND_KINDS))
        .order_by(Reading.effective_s)
    )
    plans = select(CarePlan).where(CarePlan.person_id == person_id).order_by(CarePlan.id)
    with hub.care.session() as s:
        readings = [
            {"kind": k, "at": dt.datetime.fromtimestamp(t, dt.UTC).isoformat(),
             "value": v, "value2": v2}
            for k, t, v, v2 in s.execute(q).all()
        ]  # fmt: skip
        care_plans = [
            {"id": p.id, "title": p.title, "status": p.status, "goals": p.goals,
             "activities": p.activities, "author": p.author,
             "updated_at": p.updated_at.isoformat()}
            for p in s.scalars(plans)
        ]  # fmt: skip
    return {"enrolled": True, "readings": readings, "care_plans": care_plans, "summary": summary}


def summary(hub: Hub, caller: Caller, person_id: str) -> dict[str, Any]:
    """The person's chart: demographics, conditions, medicines, clinic trends, home care."""
    chart = _chart(hub.person_records(caller, person_id))
    first = chart["patient"][0] if chart["patient"] else {}
    clinic = [
        {"series": TREND_LOINC[r["code"]], "at": r["at"], "value": r["value"]}
        for r in chart["observations"]
        if r["code"] in TREND_LOINC and r["value"] is not None
    ]
    clinic.sort(key=lambda r: str(r["at"]))
    care = _care_rows(hub, person_id)
    district = first.get("district")
    return {
        "person_id": person_id,
        "sex": first.get("gender"),
        "birth": first.get("birth_date"),
        "district": district,
        "district_en": district_name(district) if district else None,
        "conditions": [{**c, "kcd_group": _group_of(c["kcd_code"])} for c in chart["conditions"]],
        "medications": chart["medications"],
        "clinic_trends": clinic,
        **care,
    }


def _age(birth: str | None, today: dt.date) -> int | None:
    if not birth or len(birth) < 4 or not birth[:4].isdigit():
        return None
    return today.year - int(birth[:4])


def scores(hub: Hub, caller: Caller, person_id: str) -> dict[str, Any]:
    """Risk scores with their reasons, and the stroke-pathway tier and care gaps."""
    from axhub.clinical.features import build_features
    from axhub.clinical.scores import score_table
    from axhub.clinical.scores.table import SCORES
    from axhub.clinical.stroke import GAP_COLUMNS, GAP_LABELS, pathway

    table = hub.person_records(caller, person_id)
    features = build_features(_views(table))
    if features.num_rows == 0:
        raise NotFoundError("no demographic record for this person", person_id=person_id)
    scored = score_table(features, keep=["person_id"]).to_pylist()[0]
    values = []
    for spec in SCORES:  # every score, in the documented order, with what it rests on
        v = scored.get(spec.id)
        values.append({
            "score": spec.id, "title": spec.title, "unit": spec.unit, "source": spec.source,
            "value": v if v is None or isinstance(v, str) else float(v),
            "reason": scored.get(f"{spec.id}_reason"),
        })  # fmt: skip
    found = pathway(features).to_pylist()[0]
    gaps = [{"gap": g, "label": GAP_LABELS[g]} for g in GAP_COLUMNS if found.get(g)]
    return {
        "person_id": person_id,
        "scores": values,
        "pathway": {
            "risk_tier": found.get("risk_tier"),
            "risk_reason": found.get("risk_reason"),
            "ascvd_10y": found.get("ascvd_10y"),
            "hasbled_context": found.get("hasbled_context"),
            "abcd2_band": found.get("abcd2_band"),
            "gaps": gaps,
        },
        "sources": "docs/scores.md (coefficients with citations); docs/clinical-models.md",
    }


def medsafety(hub: Hub, caller: Caller, person_id: str, foods: Sequence[str] = ()) -> dict:
    """Medication-safety findings for the person's active and recent prescriptions."""
    from axhub.medsafety import NO_FINDING_NOTE, check

    chart = _chart(hub.person_records(caller, person_id))
    names = sorted({m["atc_display"] for m in chart["medications"] if m.get("atc_display")})
    first = chart["patient"][0] if chart["patient"] else {}
    age = _age(first.get("birth_date"), dt.date.today())
    findings = check(names, list(foods), age=age if age is not None and age >= 0 else None)
    return {
        "person_id": person_id,
        "drugs": names,
        "findings": [f.to_dict() for f in findings],
        "note": NO_FINDING_NOTE,
    }
