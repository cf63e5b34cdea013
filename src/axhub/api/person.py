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
    table = hub.person_records(caller, person_id)
    views = _views(table)
    demo = views["patient_demographics"].to_pylist()
    first = demo[0] if demo else {}
    obs = views["observations"]
    clinic = [
        {"series": TREND_LOINC[r["loinc_code"]], "at": r["effective"], "value": r["value"]}
        for r in _rows(obs, ["loinc_code", "effective", "value"])
        if r["loinc_code"] in TREND_LOINC and r["value"] is not None
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
        "conditions": _rows(
            views["conditions"], ["kcd_code", "kcd_display", "kcd_group", "recorded_date"]
        ),
        "medications": _rows(
            views["medication_requests"], ["atc_code", "atc_display", "status", "authored_on"]
        ),
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
    from axhub.clinical.stroke import GAP_COLUMNS, GAP_LABELS, pathway

    table = hub.person_records(caller, person_id)
    features = build_features(_views(table))
    if features.num_rows == 0:
        raise NotFoundError("no demographic record for this person", person_id=person_id)
    scored = score_table(features, keep=["person_id"]).to_pylist()[0]
    values = []
    for key in sorted(k for k in scored if k != "person_id" and not k.endswith("_reason")):
        v = scored[key]
        values.append({"score": key, "value": None if v is None else float(v),
                       "reason": scored.get(f"{key}_reason")})  # fmt: skip
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

    table = hub.person_records(caller, person_id)
    views = _views(table)
    meds = views["medication_requests"].to_pylist()
    names = sorted({m["atc_display"] for m in meds if m.get("atc_display")})
    demo = views["patient_demographics"].to_pylist()
    age = _age(demo[0].get("birth_date") if demo else None, dt.date.today())
    findings = check(names, list(foods), age=age if age is not None and age >= 0 else None)
    return {
        "person_id": person_id,
        "drugs": names,
        "findings": [f.to_dict() for f in findings],
        "note": NO_FINDING_NOTE,
    }
