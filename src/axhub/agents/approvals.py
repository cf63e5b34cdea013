"""Clinical actions wait for a clinician: proposals, the approval worklist, decisions.

An agent never changes a medication.  It writes an ``approvals`` row (status ``pending``) in
the care store, so a pending proposal survives any restart; a clinician approves or rejects it
from the worklist; only then may the ``apply_medication_change`` tool run, and only once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from axhub.care.models import Approval, Enrolment, utcnow
from axhub.care.store import CareStore
from axhub.errors import InputError, NotFoundError, PolicyDenied
from axhub.governance.principals import Principal, Role

#: who may decide a clinical proposal (a medication change is a prescriber's decision)
DECIDERS = frozenset({Role.CLINICIAN})


@dataclass(frozen=True)
class ApprovalView:
    id: int
    person_id: str
    action_class: str
    action: dict[str, Any]
    rationale: str
    status: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    agent_run_id: int | None


def _view(a: Approval) -> ApprovalView:
    return ApprovalView(
        a.id, a.person_id, a.action_class, dict(a.action or {}), a.rationale, a.status,
        a.requested_at, a.decided_by, a.decided_at, a.decision_reason, a.agent_run_id,
    )  # fmt: skip


def propose(
    store: CareStore,
    *,
    person_id: str,
    action: dict[str, Any],
    rationale: str,
    agent_run_id: int | None,
    now: datetime | None = None,
) -> ApprovalView:
    with store.session() as s:
        a = Approval(
            agent_run_id=agent_run_id, person_id=person_id, action_class="clinical",
            action=action, rationale=rationale, status="pending", requested_at=now or utcnow(),
        )  # fmt: skip
        s.add(a)
        s.flush()
        return _view(a)


def get(store: CareStore, approval_id: int) -> ApprovalView:
    with store.session() as s:
        a = s.get(Approval, approval_id)
        if a is None:
            raise NotFoundError("no such approval", approval_id=approval_id)
        return _view(a)


def pending(store: CareStore, *, care_team: str | None = None) -> list[ApprovalView]:
    """Pending proposals, oldest first (the clinician's approval worklist)."""
    q = select(Approval).where(Approval.status == "pending")
    if care_team is not None:
        q = q.join(Enrolment, Enrolment.person_id == Approval.person_id).where(
            Enrolment.care_team == care_team
        )
    with store.session() as s:
        return [_view(a) for a in s.scalars(q.order_by(Approval.requested_at, Approval.id))]


def decide(
    store: CareStore,
    approval_id: int,
    *,
    by: Principal,
    approve: bool,
    reason: str,
    now: datetime | None = None,
) -> ApprovalView:
    """A clinician approves or rejects a pending proposal; agents can never decide."""
    if by.role not in DECIDERS:
        raise PolicyDenied(
            "only a clinician may decide a clinical proposal", role=by.role.value,
            approval_id=approval_id,
        )  # fmt: skip
    if not reason.strip():
        raise InputError("a decision needs a reason", field="reason")
    with store.session() as s:
        a = s.get(Approval, approval_id)
        if a is None:
            raise NotFoundError("no such approval", approval_id=approval_id)
        if a.status != "pending":
            raise InputError("approval already decided", field="status", reason=a.status)
        a.status = "approved" if approve else "rejected"
        a.decided_by, a.decided_at, a.decision_reason = by.principal_id, now or utcnow(), reason
        return _view(a)


def mark_executed(
    store: CareStore, approval_id: int, *, person_id: str, now: datetime
) -> ApprovalView:
    """The one way an approved proposal becomes executed; refuses anything else."""
    with store.session() as s:
        a = s.get(Approval, approval_id)
        if a is None:
            raise PolicyDenied(
                "no approval with this id: clinical action refused", approval_id=approval_id
            )
        if a.person_id != person_id:
            raise PolicyDenied(
                "approval is for another person: clinical action refused", approval_id=approval_id
            )
        if a.status != "approved":
            raise PolicyDenied(
                f"approval is {a.status}, not approved: clinical action refused",
                approval_id=approval_id,
            )
        a.status = "executed"
        a.action = {**(a.action or {}), "executed_at": now.isoformat()}
        return _view(a)
