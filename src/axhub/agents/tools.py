"""Typed agent tools: each has a pydantic input and output model and an action class.

Action classes (issue 7 §5):

- ``observe`` — reads (patient summary, risk scores, medication-safety check);
- ``inform`` / ``remind`` — autonomous messages and reminder tasks;
- ``escalate`` / ``schedule`` — autonomous, and the care team is notified every time;
- ``clinical`` — never autonomous: ``propose_medication_change`` only writes a pending approval;
  ``apply_medication_change`` refuses to run without an approval a clinician approved.

Tools read and write the care operational store (pseudonymous ids only); the runtime checks
the agent's access through the governance boundary before any tool runs and audits each call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from axhub.agents import approvals
from axhub.agents.writer import MessageWriter
from axhub.care import summary, tasks, units
from axhub.care.models import CarePlan, Message, Reading
from axhub.care.store import CareStore
from axhub.errors import NotFoundError, PolicyDenied
from axhub.governance.principals import Principal


class ActionClass(StrEnum):
    OBSERVE = "observe"
    INFORM = "inform"
    REMIND = "remind"
    ESCALATE = "escalate"
    SCHEDULE = "schedule"
    CLINICAL = "clinical"


#: classes an agent may carry out on its own; ``clinical`` is never among them
AUTONOMOUS = frozenset(
    {ActionClass.OBSERVE, ActionClass.INFORM, ActionClass.REMIND, ActionClass.ESCALATE,
     ActionClass.SCHEDULE}
)  # fmt: skip
#: classes after which the care team is notified
NOTIFY_TEAM = frozenset({ActionClass.ESCALATE, ActionClass.SCHEDULE})


@dataclass
class ToolContext:
    store: CareStore
    agent: Principal
    writer: MessageWriter
    now: datetime
    run_id: int | None = None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    person_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class PersonIn(_In):
    days: int = Field(default=7, ge=1, le=90)


class SummaryOut(BaseModel):
    person_id: str
    care_team: str
    conditions: list[str]
    kinds: list[dict[str, Any]]
    open_alerts: list[dict[str, Any]]
    medications: list[str]


class RiskOut(BaseModel):
    person_id: str
    news2: int | None
    news2_risk: str | None
    reason: str | None
    vitals: dict[str, float | str | None]


class MedCheckIn(_In):
    drugs: list[str] = Field(min_length=1)
    age: int | None = Field(default=None, ge=0, le=130)


class MedCheckOut(BaseModel):
    findings: list[dict[str, Any]]


class TaskIn(_In):
    kind: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=300)
    priority: Literal["high", "medium", "low"] = "medium"
    due_in_minutes: int = Field(default=24 * 60, ge=0, le=14 * 24 * 60)
    alert_id: int | None = None


class TaskOut(BaseModel):
    task_id: int
    priority: str


class MessageIn(_In):
    template: str
    params: dict[str, str | int | float] = Field(default_factory=dict)
    language: Literal["ko", "en"] | None = None
    alert_id: int | None = None


class MessageOut(BaseModel):
    message_id: int
    language: str
    source: str
    template: str
    rejected: list[str]


class EscalateIn(_In):
    level: Literal["urgent", "emergency"]
    reason: str = Field(min_length=1, max_length=300)
    alert_id: int | None = None
    last_known_well: datetime | None = None


class EscalateOut(BaseModel):
    task_id: int
    team_message_id: int
    level: str


class ScheduleIn(_In):
    within_hours: int = Field(default=24, ge=1, le=7 * 24)
    reason: str = Field(min_length=1, max_length=300)


class ScheduleOut(BaseModel):
    task_id: int
    team_message_id: int


class ProposeIn(_In):
    drug: str = Field(min_length=1, max_length=80)
    change: Literal["start", "stop", "hold", "increase", "decrease", "review"]
    reason: str = Field(min_length=1, max_length=300)
    current_drugs: list[str] = Field(default_factory=list)
    age: int | None = Field(default=None, ge=0, le=130)


class ProposeOut(BaseModel):
    approval_id: int
    status: str
    safety_findings: list[dict[str, Any]]


class ApplyIn(_In):
    approval_id: int


class ApplyOut(BaseModel):
    approval_id: int
    status: str
    task_id: int


# -- tool functions ----------------------------------------------------------------------
def _team_check(ctx: ToolContext, person_id: str) -> str:
    team = ctx.store.enrolment(person_id).care_team
    if ctx.agent.care_team != team:
        raise PolicyDenied("person is not on the agent's care team", care_team=ctx.agent.care_team)
    return team


def medications(ctx: ToolContext, person_id: str) -> list[str]:
    """Medicines listed in the person's active care plan (``activities.medications``)."""
    with ctx.store.session() as s:
        plans = s.scalars(
            select(CarePlan).where(CarePlan.person_id == person_id, CarePlan.status == "active")
        ).all()
    return [str(m) for p in plans for m in (p.activities or {}).get("medications", [])]


def patient_summary(ctx: ToolContext, x: PersonIn) -> SummaryOut:
    _team_check(ctx, x.person_id)
    d = summary.person_summary(ctx.store, x.person_id, days=x.days, now=ctx.now)
    return SummaryOut(
        person_id=x.person_id, care_team=d["care_team"], conditions=d["conditions"],
        kinds=d["kinds"], open_alerts=d["open_alerts"], medications=medications(ctx, x.person_id),
    )  # fmt: skip


_ACVPU_LETTER = {int(v): k for k, v in units.ACVPU.items()}
#: reading kind -> score_table column; NEWS2 needs vitals within 60 min (reference §3.8)
_VITALS = {
    "resp_rate": "resp_rate",
    "spo2": "spo2_pct",
    "bp": "sbp_mmhg",
    "heart_rate": "pulse_bpm",
    "temperature": "temp_c",
    "consciousness": "consciousness",
}
NEWS2_WINDOW = timedelta(minutes=60)


def risk_scores(ctx: ToolContext, x: PersonIn) -> RiskOut:
    """NEWS2 (RCP 2017) from the latest plausible home vitals within one hour of each other."""
    from axhub.clinical.scores.table import score_table

    _team_check(ctx, x.person_id)
    hi = int(ctx.now.timestamp())
    with ctx.store.session() as s:
        rows = s.execute(
            select(Reading.kind, Reading.norm_value, Reading.effective_s, Reading.on_oxygen)
            .where(Reading.person_id == x.person_id, Reading.implausible.is_(False),
                   Reading.kind.in_(list(_VITALS)), Reading.effective_s <= hi,
                   Reading.effective_s >= hi - x.days * 86400)
            .order_by(Reading.effective_s.desc())
        ).all()  # fmt: skip
    vitals: dict[str, float | str | None] = {c: None for c in _VITALS.values()}
    on_oxygen = False
    if rows:
        newest = rows[0][2]
        for kind, value, t, oxy in rows:
            col = _VITALS[kind]
            if vitals[col] is None and newest - t <= NEWS2_WINDOW.total_seconds():
                vitals[col] = (
                    _ACVPU_LETTER.get(int(value), "A") if kind == "consciousness" else value
                )
                on_oxygen = on_oxygen or (kind == "spo2" and bool(oxy))
    data = {k: [v] for k, v in vitals.items()}
    data["person_id"] = ["x"]
    data["on_oxygen"] = [1.0 if on_oxygen else 0.0]
    enrol = ctx.store.enrolment(x.person_id)
    data["spo2_scale2"] = [1.0 if "copd" in enrol.conditions else 0.0]
    t = score_table(data).to_pylist()[0]
    return RiskOut(
        person_id=x.person_id, news2=t["news2"], news2_risk=t["news2_risk"],
        reason=t["news2_reason"], vitals=vitals,
    )  # fmt: skip


def medication_check(ctx: ToolContext, x: MedCheckIn) -> MedCheckOut:
    from axhub.medsafety import check

    _team_check(ctx, x.person_id)
    found = check(x.drugs, age=x.age)
    return MedCheckOut(findings=[_finding(f) for f in found])


def _finding(f: Any) -> dict[str, Any]:
    return {"kind": f.kind, "severity": f.severity, "drug": f.drug, "other": f.other,
            "title_en": f.title.get("en", ""), "title_ko": f.title.get("ko", "")}  # fmt: skip


def create_task(ctx: ToolContext, x: TaskIn) -> TaskOut:
    team = _team_check(ctx, x.person_id)
    due = ctx.now + timedelta(minutes=x.due_in_minutes)
    t = tasks.create_task(
        ctx.store, person_id=x.person_id, kind=x.kind, title=x.title, care_team=team,
        priority=x.priority, alert_id=x.alert_id, due_at=due,
        start=timedelta(minutes=x.due_in_minutes), detail={"agent": ctx.agent.principal_id,
        "agent_run_id": ctx.run_id}, now=ctx.now,
    )  # fmt: skip
    return TaskOut(task_id=t.id, priority=t.priority)


def _message(ctx: ToolContext, person_id: str, **kw: Any) -> int:
    with ctx.store.session() as s:
        m = Message(person_id=person_id, direction="out", created_at=ctx.now, **kw)
        s.add(m)
        s.flush()
        return m.id


def message_patient(ctx: ToolContext, x: MessageIn) -> MessageOut:
    _team_check(ctx, x.person_id)
    language = x.language or ctx.store.enrolment(x.person_id).language
    w = ctx.writer.write(x.template, language, x.params)
    mid = _message(
        ctx,
        x.person_id,
        channel="app",
        language=language,
        body=w.body,
        template_id=x.template,
        status="queued",
        alert_id=x.alert_id,
    )
    return MessageOut(message_id=mid, language=language, source=w.source, template=x.template,
                      rejected=list(w.rejected))  # fmt: skip


def _notify_team(
    ctx: ToolContext, person_id: str, en: str, ko: str, alert_id: int | None, task_id: int
) -> int:
    return _message(ctx, person_id, channel="care_team", language="ko+en",
                    body=f"{ko}\n{en}", template_id="team_notice", status="queued",
                    alert_id=alert_id, task_id=task_id)  # fmt: skip


def escalate(ctx: ToolContext, x: EscalateIn) -> EscalateOut:
    """A high-priority task due now and a notice to the care team, with last-known-well."""
    team = _team_check(ctx, x.person_id)
    lkw = x.last_known_well.isoformat() if x.last_known_well else "unknown"
    title = f"{x.level.upper()}: {x.reason} (last known well: {lkw})"
    t = tasks.create_task(
        ctx.store, person_id=x.person_id, kind=f"escalation.{x.level}", title=title,
        care_team=team, priority="high", alert_id=x.alert_id, due_at=ctx.now,
        end=timedelta(minutes=15 if x.level == "emergency" else 240),
        detail={"agent": ctx.agent.principal_id, "agent_run_id": ctx.run_id,
                "last_known_well": lkw, "level": x.level}, now=ctx.now,
    )  # fmt: skip
    ko_level = "응급" if x.level == "emergency" else "긴급"
    mid = _notify_team(
        ctx,
        x.person_id,
        title,
        f"{ko_level}: {x.reason} (마지막 정상 확인: {lkw})",
        x.alert_id,
        t.id,
    )
    return EscalateOut(task_id=t.id, team_message_id=mid, level=x.level)


def schedule_televisit(ctx: ToolContext, x: ScheduleIn) -> ScheduleOut:
    team = _team_check(ctx, x.person_id)
    title = f"Tele-visit within {x.within_hours} h: {x.reason}"
    t = tasks.create_task(
        ctx.store, person_id=x.person_id, kind="televisit", title=title, care_team=team,
        priority="medium", due_at=ctx.now + timedelta(hours=x.within_hours),
        start=timedelta(hours=x.within_hours), end=timedelta(hours=4),
        detail={"agent": ctx.agent.principal_id, "agent_run_id": ctx.run_id}, now=ctx.now,
    )  # fmt: skip
    mid = _notify_team(
        ctx, x.person_id, title, f"{x.within_hours}시간 내 화상 진료: {x.reason}", None, t.id
    )
    return ScheduleOut(task_id=t.id, team_message_id=mid)


def propose_medication_change(ctx: ToolContext, x: ProposeIn) -> ProposeOut:
    """Never changes anything: a pending approval for a clinician, with a safety check."""
    from axhub.medsafety import check

    _team_check(ctx, x.person_id)
    drugs = [*x.current_drugs, *([x.drug] if x.change in ("start", "increase") else [])]
    findings = [_finding(f) for f in check(drugs, age=x.age)] if len(drugs) >= 1 else []
    a = approvals.propose(
        ctx.store, person_id=x.person_id, agent_run_id=ctx.run_id, rationale=x.reason,
        action={"tool": "apply_medication_change", "drug": x.drug, "change": x.change,
                "safety_findings": findings, "agent": ctx.agent.principal_id},
        now=ctx.now,
    )  # fmt: skip
    return ProposeOut(approval_id=a.id, status=a.status, safety_findings=findings)


def apply_medication_change(ctx: ToolContext, x: ApplyIn) -> ApplyOut:
    """Runs only with an approval a clinician approved; hands the change to the team."""
    team = _team_check(ctx, x.person_id)
    a = approvals.mark_executed(ctx.store, x.approval_id, person_id=x.person_id, now=ctx.now)
    t = tasks.create_task(
        ctx.store, person_id=x.person_id, kind="medication_change",
        title=f"Approved by {a.decided_by}: {a.action.get('change')} {a.action.get('drug')}",
        care_team=team, priority="high", due_at=ctx.now,
        detail={"approval_id": a.id, "agent": ctx.agent.principal_id}, now=ctx.now,
    )  # fmt: skip
    return ApplyOut(approval_id=a.id, status=a.status, task_id=t.id)


@dataclass(frozen=True)
class Tool:
    name: str
    action_class: ActionClass
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    fn: Callable[[ToolContext, Any], BaseModel]
    description: str


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("patient_summary", ActionClass.OBSERVE, PersonIn, SummaryOut, patient_summary,
             "recent readings per kind, open alerts, conditions, medicines"),
        Tool("risk_scores", ActionClass.OBSERVE, PersonIn, RiskOut, risk_scores,
             "NEWS2 from the latest home vitals (RCP 2017)"),
        Tool("medication_check", ActionClass.OBSERVE, MedCheckIn, MedCheckOut, medication_check,
             "interactions, diet and elderly criteria (axhub.medsafety)"),
        Tool("create_task", ActionClass.REMIND, TaskIn, TaskOut, create_task,
             "a task for the care team with a due window"),
        Tool("message_patient", ActionClass.INFORM, MessageIn, MessageOut, message_patient,
             "a templated message in Korean or English"),
        Tool("escalate", ActionClass.ESCALATE, EscalateIn, EscalateOut, escalate,
             "urgent or emergency escalation to the care team"),
        Tool("schedule_televisit", ActionClass.SCHEDULE, ScheduleIn, ScheduleOut,
             schedule_televisit, "a tele-visit task; the team is notified"),
        Tool("propose_medication_change", ActionClass.CLINICAL, ProposeIn, ProposeOut,
             propose_medication_change, "a pending approval for a clinician; changes nothing"),
        Tool("apply_medication_change", ActionClass.CLINICAL, ApplyIn, ApplyOut,
             apply_medication_change, "carry out an approved change (refused otherwise)"),
    )
}  # fmt: skip


def tool(name: str) -> Tool:
    try:
        return TOOLS[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(name, list(TOOLS), n=3)
        raise NotFoundError(f"no agent tool {name!r}", suggestions=near, field="tool") from None
