"""CDS Hooks 2.0 services: discovery, ``patient-view`` and ``order-sign``.

Spec: https://cds-hooks.hl7.org/2.0/ . Discovery is ``GET /cds-services``; a service is
called with ``POST /cds-services/{id}`` and answers ``{"cards": [...]}``. Cards follow the
spec's Card shape (``summary`` under 140 characters, ``indicator`` info | warning | critical,
``source.label``, a ``uuid``; suggestions with ``label`` and actions, ``selectionBehavior``
when there are suggestions; links with ``label``, ``url``, ``type``), checked by
``tests/api/test_cds_hooks.py``.

The EHR authenticates with an axhub bearer token (a clinician or care-team principal with a
care purpose); ``context.patientId`` is the regional pseudonymous person id (decision 0103).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from axhub.api import errors, person
from axhub.api.auth import Caller
from axhub.errors import InputError, NotFoundError

SUMMARY_MAX = 139  # the spec: "<140 characters"
SOURCE_LABEL = "axhub Chuncheon regional hub"
INDICATOR_BY_SEVERITY = {
    "contraindicated": "critical",
    "major": "warning",
    "moderate": "info",
    "minor": "info",
}
TIER_INDICATOR = {"high": "warning", "intermediate": "info", "borderline": "info", "low": "info"}
GAP_INDICATOR = {"tia_needs_triage": "critical"}

SERVICES = [
    {
        "hook": "patient-view",
        "id": "axhub-patient-view",
        "title": "axhub risk and care gaps",
        "description": "10-year ASCVD risk tier and stroke-pathway care gaps (AF without "
        "anticoagulation, TIA triage, secondary prevention) from the regional record.",
        "usageRequirements": "patientId is the regional pseudonymous person id.",
    },
    {
        "hook": "order-sign",
        "id": "axhub-order-sign",
        "title": "axhub medication safety",
        "description": "Drug-drug, drug-food and older-adult alerts for the draft "
        "MedicationRequests, checked with the person's current medicines.",
        "usageRequirements": "patientId is the regional pseudonymous person id.",
    },
]


class HookRequest(BaseModel):
    hook: str = Field(max_length=80)
    hookInstance: str = Field(max_length=80)
    context: dict[str, Any]
    fhirServer: str | None = None
    prefetch: dict[str, Any] | None = None


def short(text: str, limit: int = SUMMARY_MAX) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis when cut)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def card(summary: str, indicator: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": short(summary),
        "indicator": indicator,
        "source": {"label": SOURCE_LABEL, "topic": extra.pop("topic", None)},
    }
    if out["source"]["topic"] is None:
        del out["source"]["topic"]
    if detail:
        out["detail"] = detail
    out.update(extra)
    return out


def _patient_id(context: dict[str, Any]) -> str:
    pid = context.get("patientId")
    if not isinstance(pid, str) or not pid or len(pid) > 64:
        raise InputError("context.patientId is required", field="context.patientId")
    return pid


def patient_view(request: Request, caller: Caller, context: dict[str, Any]) -> list[dict]:
    hub = request.app.state.hub
    pid = _patient_id(context)
    found = person.scores(hub, caller, pid)
    path = found["pathway"]
    link = {"label": "axhub patient page", "url": f"{request.base_url}web/patients/{pid}",
            "type": "absolute"}  # fmt: skip
    cards = []
    tier = path.get("risk_tier")
    if tier == "not computable":
        cards.append(card("10-year ASCVD risk not computable", "info",
                          str(path.get("risk_reason") or ""), links=[link]))  # fmt: skip
    elif tier:
        pct = path.get("ascvd_10y")
        value = f" ({pct:.0%})" if isinstance(pct, float) else ""
        cards.append(
            card(f"10-year ASCVD risk: {tier}{value}", TIER_INDICATOR.get(tier, "info"),
                 "Pooled Cohort Equations (Goff 2014); tiers from the 2019 ACC/AHA primary "
                 "prevention guideline (<5, 5-7.5, 7.5-20, >=20 %).", links=[link])
        )  # fmt: skip
    for gap in path["gaps"]:
        cards.append(
            card(f"Care gap: {gap['label']}", GAP_INDICATOR.get(gap["gap"], "warning"),
                 "Stroke pathway rule with its guideline source: docs/clinical-models.md.",
                 links=[link])
        )  # fmt: skip
    return cards


def _draft_drugs(context: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(drug name, resource id) of each draft MedicationRequest in ``context.draftOrders``."""
    bundle = context.get("draftOrders")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InputError("context.draftOrders must be a FHIR Bundle", field="context.draftOrders")
    out = []
    for i, entry in enumerate(bundle.get("entry") or []):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or res.get("resourceType") != "MedicationRequest":
            continue
        concept = res.get("medicationCodeableConcept") or {}
        names = [c.get("display") for c in concept.get("coding") or [] if c.get("display")]
        name = concept.get("text") or (names[0] if names else None)
        if not name:
            raise InputError(
                "draft MedicationRequest names no medicine",
                field=f"context.draftOrders.entry[{i}].resource.medicationCodeableConcept",
            )
        out.append((str(name), res.get("id")))
    return out


def _key(f: Any) -> tuple[str, str, str | None]:
    return (f.kind, f.drug, f.other)


def order_sign(request: Request, caller: Caller, context: dict[str, Any]) -> list[dict]:
    """Cards for what the draft orders add: findings of (drafts + current) minus current only."""
    from axhub.medsafety import check, default_knowledge
    from axhub.medsafety.checker import resolve_names

    hub = request.app.state.hub
    pid = _patient_id(context)
    drafts = _draft_drugs(context)
    current = person.medsafety(hub, caller, pid)["drugs"]
    foods = [f.food_id for f in default_knowledge().foods]
    already = {_key(f) for f in check(current, foods)}
    findings = [f for f in check([d for d, _ in drafts] + current, foods)
                if _key(f) not in already]  # fmt: skip
    resolved = resolve_names([d for d, _ in drafts], "drug")
    draft_ids: dict[str, str] = {}
    for (_, rid), res in zip(drafts, resolved, strict=True):
        if rid and res.canonical:
            draft_ids.setdefault(str(res.canonical), str(rid))
    cards = []
    for f in findings:
        indicator = INDICATOR_BY_SEVERITY.get(f.severity, "info")
        partner = f" + {f.other}" if f.other else ""
        extra: dict[str, Any] = {}
        rid = draft_ids.get(f.drug) or (draft_ids.get(f.other) if f.other else None)
        if f.severity == "contraindicated" and rid:
            extra["suggestions"] = [{
                "label": f"Remove the draft order ({f.drug}{partner})",
                "uuid": str(uuid.uuid4()),
                "actions": [{"type": "delete", "description": "Cancel the draft order",
                             "resourceId": f"MedicationRequest/{rid}"}],
            }]  # fmt: skip
            extra["selectionBehavior"] = "at-most-one"
        detail = (
            f"{f.explanation.get('en', '')}\n\n**Action:** {f.action.get('en', '')}\n\n"
            f"**Patient advice (ko):** {f.advice.get('ko', '')}\n\n"
            f"**Sources:** {'; '.join(f.sources)}"
        )
        title = f.title.get("en", "") if f.kind != "unresolved" else "not in the knowledge base"
        cards.append(
            card(f"{f.severity.capitalize()}: {f.drug}{partner} — {title}", indicator, detail,
                 **extra)
        )  # fmt: skip
    return cards


HANDLERS = {"axhub-patient-view": patient_view, "axhub-order-sign": order_sign}


def router() -> APIRouter:
    from axhub.api.app import current_caller

    r = APIRouter(prefix="/cds-services", tags=["cds-hooks"], responses=errors.ERROR_RESPONSES)

    @r.get("", summary="CDS Hooks discovery")
    def discovery() -> dict[str, Any]:
        return {"services": SERVICES}

    @r.post("/{service_id}", summary="Call a CDS service")
    def call(
        service_id: str,
        body: HookRequest,
        request: Request,
        caller: Caller = Depends(current_caller),
    ) -> dict[str, Any]:
        handler = HANDLERS.get(service_id)
        if handler is None:
            raise NotFoundError(f"no CDS service {service_id!r}", suggestions=sorted(HANDLERS))
        expected = next(s["hook"] for s in SERVICES if s["id"] == service_id)
        if body.hook != expected:
            raise InputError(f"service {service_id} answers {expected}", field="hook")
        return {"cards": handler(request, caller, body.context)}

    return r
