"""The FastAPI app factory: REST API (``/api/v1``), CDS Hooks (``/cds-services``), dashboard.

``create_app(settings)`` builds one app over one data folder. Authentication is a bearer
token (or the dashboard's sign-in cookie holding the same token); the purpose of use comes
from the ``X-Purpose-Of-Use`` header. Every error has the shape in :mod:`axhub.api.errors`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from axhub import __version__
from axhub.api import care_ops, errors, person
from axhub.api.auth import PURPOSE_HEADER, Caller, describe, resolve_caller
from axhub.api.hub import Hub, indicators, kcd_groups
from axhub.config import Settings

COOKIE_TOKEN = "axhub_token"
COOKIE_PURPOSE = "axhub_purpose"


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def current_caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    purpose: Annotated[str | None, Header(alias=PURPOSE_HEADER)] = None,
) -> Caller:
    """The caller of this request (401 without a known token, 403 for a purpose not held)."""
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    token = token or request.cookies.get(COOKIE_TOKEN)
    purpose = purpose or request.cookies.get(COOKIE_PURPOSE) or None
    return resolve_caller(hub_of(request).tokens, token, purpose)


CallerDep = Annotated[Caller, Depends(current_caller)]
HubDep = Annotated[Hub, Depends(hub_of)]
RowId = Annotated[int, Path(ge=1, le=2**62)]
PersonId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class CohortCriteria(BaseModel):
    age_min: int | None = Field(None, ge=0, le=130)
    age_max: int | None = Field(None, ge=0, le=130)
    sex: Literal["female", "male"] | None = None
    conditions: list[str] = Field(default_factory=list, max_length=10)
    area: Literal["dong", "eup_myeon"] | None = None


class MedsafetyRequest(BaseModel):
    drugs: list[Annotated[str, Field(max_length=80)]] = Field(min_length=1, max_length=40)
    foods: list[Annotated[str, Field(max_length=80)]] = Field(default_factory=list, max_length=40)
    age: int | None = Field(None, ge=0, le=130)


class AlertAction(BaseModel):
    action: Literal["acknowledge", "snooze", "resolve"]
    minutes: float = Field(0, ge=0, le=10_000)
    reason: str = Field("", max_length=500)


class ApprovalDecision(BaseModel):
    decision: Literal["approved", "rejected"]
    reason: str = Field("", max_length=1000)


class TaskFinish(BaseModel):
    status: Literal["done", "cancelled"] = "done"


def api_router() -> APIRouter:
    r = APIRouter(prefix="/api/v1", responses=errors.ERROR_RESPONSES)

    @r.get("/me", tags=["auth"], summary="Who the token belongs to and the purpose in use")
    def me(caller: CallerDep) -> dict[str, Any]:
        return describe(caller)

    @r.get("/region/indicators", tags=["region"], summary="Available district indicators")
    def list_indicators(caller: CallerDep) -> list[dict[str, Any]]:
        return [
            {"key": i.key, "label": {"en": i.label_en, "ko": i.label_ko}, "kind": i.kind}
            for i in indicators().values()
        ]

    @r.get(
        "/region/indicators/{key}",
        tags=["region"],
        summary="One indicator for the 25 districts and dong vs eup/myeon (released safely)",
    )
    def district_indicator(
        key: Annotated[str, Field(max_length=40)], caller: CallerDep, hub: HubDep
    ) -> dict[str, Any]:
        return hub.district_indicator(caller, key)

    @r.get("/cohorts/conditions", tags=["research"], summary="Condition groups for cohorts")
    def cohort_conditions(caller: CallerDep) -> list[dict[str, Any]]:
        return [
            {"group": g, "label": {"en": v["label"], "ko": v["label_ko"]}, "source": v["source"]}
            for g, v in kcd_groups().items()
        ]

    @r.post("/cohorts/count", tags=["research"], summary="Cohort counts by district (released)")
    def cohort_count(criteria: CohortCriteria, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
        return hub.cohort_counts(caller, criteria.model_dump())

    @r.get("/persons/{person_id}/summary", tags=["person"], summary="A person's chart (care)")
    def person_summary(person_id: PersonId, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
        return person.summary(hub, caller, person_id)

    @r.get("/persons/{person_id}/scores", tags=["person"], summary="Risk scores and pathway")
    def person_scores(person_id: PersonId, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
        return person.scores(hub, caller, person_id)

    @r.get("/persons/{person_id}/medsafety", tags=["person"], summary="Medication-safety findings")
    def person_medsafety(
        person_id: PersonId,
        caller: CallerDep,
        hub: HubDep,
        food: Annotated[list[str] | None, Query(max_length=40)] = None,
    ) -> dict[str, Any]:
        return person.medsafety(hub, caller, person_id, food or [])

    @r.post("/medsafety/check", tags=["medsafety"], summary="Check medicines, foods and age")
    def medsafety_check(body: MedsafetyRequest, caller: CallerDep) -> dict[str, Any]:
        from axhub.medsafety import NO_FINDING_NOTE, check

        findings = check(body.drugs, body.foods, age=body.age)
        return {"findings": [f.to_dict() for f in findings], "note": NO_FINDING_NOTE}

    @r.get("/care/worklist", tags=["care"], summary="The team's ranked alerts, approvals, tasks")
    def worklist(caller: CallerDep, hub: HubDep) -> dict[str, Any]:
        return care_ops.worklist(hub, caller)

    @r.post("/care/alerts/{alert_id}", tags=["care"], summary="Acknowledge, snooze or resolve")
    def alert_action(
        alert_id: RowId, body: AlertAction, caller: CallerDep, hub: HubDep
    ) -> dict[str, Any]:
        return care_ops.alert_action(
            hub, caller, alert_id, body.action, minutes=body.minutes, reason=body.reason
        )

    @r.get("/care/tasks", tags=["care"], summary="The team's open tasks")
    def tasks(caller: CallerDep, hub: HubDep) -> list[dict[str, Any]]:
        return care_ops.task_list(hub, caller)

    @r.post("/care/tasks/{task_id}", tags=["care"], summary="Finish a task")
    def finish_task(
        task_id: RowId, body: TaskFinish, caller: CallerDep, hub: HubDep
    ) -> dict[str, Any]:
        return care_ops.finish_task(hub, caller, task_id, body.status)

    @r.get("/care/approvals", tags=["care"], summary="Agent actions awaiting a decision")
    def approvals(
        caller: CallerDep,
        hub: HubDep,
        status: Literal["pending", "approved", "rejected"] | None = None,
    ) -> list[dict[str, Any]]:
        return care_ops.approvals(hub, caller, status)

    @r.post("/care/approvals/{approval_id}", tags=["care"], summary="Approve or reject")
    def decide(
        approval_id: RowId, body: ApprovalDecision, caller: CallerDep, hub: HubDep
    ) -> dict[str, Any]:
        return care_ops.decide_approval(hub, caller, approval_id, body.decision, body.reason)

    @r.post(
        "/care/observations",
        tags=["care"],
        summary="Device intake: FHIR Observation, Bundle or axhub reading JSON",
        status_code=201,
        responses={200: {"description": "duplicate: already stored"}},
    )
    def observations(
        caller: CallerDep, hub: HubDep, payload: Annotated[dict[str, Any], Body()]
    ) -> Response:
        status, result = care_ops.intake(hub, caller, payload)
        if status >= 400:  # all quarantined: the one error shape, with the intake's counts
            return errors.error_response(
                status, "InputError", "the message was quarantined", result
            )
        return JSONResponse(result, status_code=status)

    return r


def create_app(settings: Settings, *, hub: Hub | None = None) -> FastAPI:
    """The hub's web app over ``settings.data_dir``: API, CDS Hooks and dashboard."""
    from axhub.api import cds_hooks
    from axhub.web import pages

    app = FastAPI(
        title="axhub",
        version=__version__,
        description="Chuncheon regional precision-medicine hub: governed REST API, "
        "CDS Hooks 2.0 services and the dashboard. Errors share one shape (ErrorResponse).",
    )
    app.state.hub = hub or Hub.open(settings)
    errors.install(app)
    app.include_router(api_router())
    app.include_router(cds_hooks.router())
    pages.mount(app)

    @app.get("/healthz", tags=["meta"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
