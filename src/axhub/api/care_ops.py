"""Care-team operations: the ranked worklist, alerts, tasks, agent approvals, device intake.

Only care-team principals (care manager, care worker, agent) with a care purpose reach these,
and only for their own team: every alert, task and approval is checked against the caller's
``care_team`` before it is shown or changed. Deciding an agent's proposed action is for care
managers; the decision is stored on the approval and written to the governance audit log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from axhub.api.auth import Caller
from axhub.api.hub import CARE_TEAM_ROLES, Hub
from axhub.errors import InputError, NotFoundError, PolicyDenied
from axhub.governance.principals import Role


def ensure_team(hub: Hub, caller: Caller, *, roles: tuple[Role, ...] = CARE_TEAM_ROLES) -> str:
    """The caller's care team, after the policy allows a care read (audited)."""
    p = caller.principal
    if not caller.care:
        raise PolicyDenied("care work is for care purposes only", purpose=caller.purpose.value)
    if p.role not in roles or not p.care_team:
        raise PolicyDenied(
            "only care-team members reach this", role=p.role.value,
            allowed=[r.value for r in roles],
        )  # fmt: skip
    hub.store.ensure(p, caller.purpose.value, "read")
    return p.care_team


def worklist(hub: Hub, caller: Caller, limit: int = 200) -> dict[str, Any]:
    """Alerts of the team most severe first, then its pending agent approvals and open tasks."""
    from axhub.care import alerts, tasks

    team = ensure_team(hub, caller)
    items = [a.to_dict() for a in alerts.worklist(hub.care, care_team=team, limit=limit)]
    for rank, item in enumerate(items, start=1):
        item["rank"] = rank
    return {
        "care_team": team,
        "alerts": items,
        "approvals": approvals(hub, caller, status="pending"),
        "tasks": [_task(t) for t in tasks.open_tasks(hub.care, care_team=team)],
    }


def _task(t: Any) -> dict[str, Any]:
    d = dict(t.__dict__)
    for k in ("due_at", "window_end"):
        d[k] = d[k].isoformat() if d[k] is not None else None
    return d


def _alert_of_team(hub: Hub, team: str, alert_id: int) -> None:
    from axhub.care import alerts

    if alerts.get(hub.care, alert_id).care_team != team:
        raise NotFoundError("no such alert for your care team", alert_id=alert_id)


def alert_action(
    hub: Hub, caller: Caller, alert_id: int, action: str, *, minutes: float = 0, reason: str = ""
) -> dict[str, Any]:
    from axhub.care import alerts

    team = ensure_team(hub, caller)
    _alert_of_team(hub, team, alert_id)
    by = caller.principal.principal_id
    if action == "acknowledge":
        view = alerts.acknowledge(hub.care, alert_id, by=by)
    elif action == "snooze":
        view = alerts.snooze(hub.care, alert_id, minutes=minutes, by=by, reason=reason)
    elif action == "resolve":
        view = alerts.resolve(hub.care, alert_id, by=by, reason=reason)
    else:
        raise InputError("unknown alert action", field="action", reason=action)
    return {**view.to_dict(), "events": alerts.events(hub.care, alert_id)}


def task_list(hub: Hub, caller: Caller) -> list[dict[str, Any]]:
    from axhub.care import tasks

    team = ensure_team(hub, caller)
    return [_task(t) for t in tasks.open_tasks(hub.care, care_team=team)]


def finish_task(hub: Hub, caller: Caller, task_id: int, status: str) -> dict[str, Any]:
    from axhub.care import tasks
    from axhub.care.models import Task

    team = ensure_team(hub, caller)
    with hub.care.session() as s:
        t = s.get(Task, task_id)
        if t is None or t.care_team != team:
            raise NotFoundError("no such task for your care team", task_id=task_id)
    return _task(tasks.finish_task(hub.care, task_id, by=caller.principal.principal_id,
                                   status=status))  # fmt: skip


def _approval(a: Any, run: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "person_id": a.person_id,
        "action_class": a.action_class,
        "action": a.action,
        "rationale": a.rationale,
        "status": a.status,
        "requested_at": a.requested_at.isoformat(),
        "decided_at": a.decided_at.isoformat() if a.decided_at else None,
        "decided_by": a.decided_by,
        "decision_reason": a.decision_reason,
        "agent": run.agent if run is not None else None,
        "agent_rationale": run.rationale if run is not None else None,
    }


def approvals(hub: Hub, caller: Caller, status: str | None = None) -> list[dict[str, Any]]:
    """Agent actions proposed for people enrolled with the caller's team."""
    from axhub.care.models import AgentRun, Approval, Enrolment

    team = ensure_team(hub, caller)
    q = (
        select(Approval, AgentRun)
        .join(Enrolment, Enrolment.person_id == Approval.person_id)
        .outerjoin(AgentRun, AgentRun.id == Approval.agent_run_id)
        .where(Enrolment.care_team == team)
        .order_by(Approval.requested_at, Approval.id)
    )
    if status is not None:
        q = q.where(Approval.status == status)
    with hub.care.session() as s:
        return [_approval(a, r) for a, r in s.execute(q).all()]


def decide_approval(
    hub: Hub, caller: Caller, approval_id: int, decision: str, reason: str
) -> dict[str, Any]:
    """Approve or reject a pending agent action (care managers only); audited."""
    from axhub.care.models import AgentRun, Approval, Enrolment, utcnow

    if decision not in ("approved", "rejected"):
        raise InputError("decision is approved or rejected", field="decision", reason=decision)
    if decision == "rejected" and not reason.strip():
        raise InputError("a rejection needs a reason", field="reason")
    team = ensure_team(hub, caller, roles=(Role.CARE_MANAGER,))
    with hub.care.session() as s:
        a = s.get(Approval, approval_id)
        enrolled = s.get(Enrolment, a.person_id) if a is not None else None
        if a is None or enrolled is None or enrolled.care_team != team:
            raise NotFoundError("no such approval for your care team", approval_id=approval_id)
        if a.status != "pending":
            raise InputError("approval is already decided", field="approval_id", reason=a.status)
        a.status, a.decided_at = decision, utcnow()
        a.decided_by, a.decision_reason = caller.principal.principal_id, reason
        run = s.get(AgentRun, a.agent_run_id) if a.agent_run_id is not None else None
        out = _approval(a, run)
    hub.store.audit.append(
        "manage",
        actor=caller.principal.principal_id,
        role=caller.principal.role.value,
        purpose=caller.purpose.value,
        subjects=[out["person_id"]] if len(out["person_id"]) == 32 else [],
        detail={"action": f"approval-{decision}", "approval_id": approval_id,
                "action_class": out["action_class"]},
    )  # fmt: skip
    return out


def intake(hub: Hub, caller: Caller, payload: Any) -> tuple[int, dict[str, Any]]:
    """Store one device Observation (or Bundle, or reading JSON); returns (status, result)."""
    from axhub.care.intake import ingest_observation
    from axhub.care.messages import Rejected, expand

    team = ensure_team(hub, caller)
    try:
        readings, _ = expand(payload, 0)
    except Rejected:
        readings = []  # the intake quarantines it and answers 422 with the problem
    for pid in sorted({r.person_id for r in readings}):
        try:
            enrolled = hub.care.enrolment(pid).care_team
        except NotFoundError:
            enrolled = None  # the intake quarantines readings of people not enrolled
        if enrolled is not None and enrolled != team:
            raise PolicyDenied("reading for a person not enrolled with your care team",
                               care_team=team)  # fmt: skip
    result = ingest_observation(hub.care, payload)
    return result.http_status, result.to_dict()
